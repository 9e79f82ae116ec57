# The two entry points of the README. Each installs the system libraries first when missing.
SWIFT ?= swift
RELEASE := -c release

.PHONY: deps train test bench

deps:
	@scripts/install-deps

# The main job: build in release mode and run the built-in demo.
train: deps
	$(SWIFT) run $(RELEASE) rft pretrain --task addition --steps 1000 --out runs/demo-$$(date +%Y%m%d-%H%M%S)

# The whole test suite, release-optimised (numeric Swift in debug is 10-100x slower).
test: deps
	$(SWIFT) test $(RELEASE) -Xswiftc -enable-testing

bench: deps
	benchmarks/run train-step
