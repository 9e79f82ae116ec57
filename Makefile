# The two entry points of the README. Each installs the system libraries first when missing.
SWIFT ?= swift
RELEASE := -c release

.PHONY: deps deps-mpi train test bench

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

bench: deps
	benchmarks/run train-step
