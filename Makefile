# Two commands for users, `make run` and `make test`, both installing what is missing first;
# `make bench` measures throughput (see docs/benchmarks.md).
PORT ?= 8080
DB ?= sqlite:todo.db
APP ?= examples/todo/app.json

.PHONY: all build run test deps test-deps bench clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release

run: build
	./build/froth serve --app $(APP) --db $(DB) --port $(PORT)

test: test-deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan
	ctest --test-dir build-asan --output-on-failure

# Load test on loopback against an nginx ceiling; rewrites docs/benchmarks.md. Not part of `make test`.
# SCALE=1 adds the scaling runs at 10k, 100k and 1M things, which take several minutes more.
# PEERS=1 adds Parse Server and Directus side by side (bench/peers/), installed from the npm
# registry on first use.
SCALE ?= 0
PEERS ?= 0
bench: build
	@bench/install-deps.sh
	bench/run.sh $(if $(filter 1,$(SCALE)),--scale) $(if $(filter 1,$(PEERS)),--peers)

clean:
	rm -rf build build-debug build-asan
