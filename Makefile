# The two entry points of the README. Each installs the system libraries first when missing.
SWIFT ?= swift
RELEASE := -c release

.PHONY: deps deps-mpi train test bench demo

deps:
	@scripts/install-deps

# …and OpenMPI, for the distributed tests.
deps-mpi:
	@scripts/install-deps --mpi

# The main job: build in release mode and run rft train on its built-in default.
train: deps
	$(SWIFT) run $(RELEASE) rft train

# The whole test suite, release-optimised (numeric Swift in debug is 10-100x slower), with the
# MPI trait so that the distributed tests run rft under `mpirun -np 2`; then the embedding
# example (examples/EmbedTrainer) built against the library without MPI, and run.
# scripts/fetch-models first puts GPT-2's ranks and the SmolLM2 GGUF in the cache; its failure
# (offline) is tolerated: the tests that need those files then say they are skipped and why.
test: deps-mpi
	-scripts/fetch-models
	$(SWIFT) test $(RELEASE) -Xswiftc -enable-testing --traits MPI
	$(SWIFT) run $(RELEASE) --package-path examples/EmbedTrainer

# The real-model demo: SmolLM2-135M-Instruct (scripts/fetch-models fetches its GGUF once) on
# chat-addition: diagnose → SFT on the lowest-std 1% → GRPO (examples/smollm2-demo.yaml), then
# greedy reward per difficulty (digits) before and after. A new folder runs/demo-<time> each time.
SMOLLM2 = $${RFT_CACHE:-$$HOME/.cache/rft}/SmolLM2-135M-Instruct.Q4_1.gguf
demo: deps
	scripts/fetch-models
	$(SWIFT) build $(RELEASE) --product rft
	@out=runs/demo-$$(date -u +%Y%m%d-%H%M%S); start=$$(date +%s); \
	.build/release/rft train --config examples/smollm2-demo.yaml --model $(SMOLLM2) --output $$out && \
	echo "greedy reward per difficulty, before (the GGUF):" && \
	.build/release/rft eval --model $(SMOLLM2) --task chat-addition --lengths 1-3 --eval-examples 40 --seed 7 && \
	echo "after ($$out):" && \
	.build/release/rft eval --model $$out --task chat-addition --lengths 1-3 --eval-examples 40 --seed 7 && \
	echo "make demo: $$(( $$(date +%s) - start )) s"

bench: deps
	benchmarks/run train-step
