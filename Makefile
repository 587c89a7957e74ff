# Thin wrapper: the real build is CMake (CMakePresets.json). Two commands matter:
#   make demo   set-up + build + the end-to-end demo
#   make test   set-up + build + the whole test suite (what CI runs)
.PHONY: all setup configure build test demo bench fuzz format clean

# Extra cache settings for the configure step, e.g.
#   make test CMAKE_ARGS=-DSTOPLINE_PLATES_DATA=/path/to/data
# CMake keeps them in build/CMakeCache.txt for later runs.
CMAKE_ARGS ?=

all: build

setup:
	@scripts/setup.sh

configure: setup
	@cmake --preset default $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build --preset default

# After the tests (whatever their outcome), the classes whose public interface has grown
# most: a prompt to split them before they become the place everything goes.
test: build
	@scripts/services.sh start
	@ctest --preset default; status=$$?; scripts/largest-classes.py; exit $$status

demo: build
	@scripts/demo.sh

bench: build
	@scripts/services.sh start
	@ctest --preset bench

fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target ops243_parser_fuzz
	@scripts/fuzz.sh

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	@rm -rf build build-debug build-fuzz
