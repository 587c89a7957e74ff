# Thin wrapper: the real build is CMake (CMakePresets.json). Two commands matter:
#   make demo   set-up + build + the end-to-end demo
#   make test   set-up + build + the whole test suite (what CI runs)
# and, for the boards, make package-arm64 (cross build, its own set-up and build folder).
.PHONY: all setup configure build test demo bench fuzz package-arm64 format clean

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

# The arm64 .deb, cross-built here; its unit tests: ctest --preset arm64-unit.
package-arm64:
	@scripts/setup-arm64.sh
	@cmake --preset arm64 $(CMAKE_ARGS) >/dev/null
	@cmake --build --preset arm64
	@cpack --preset arm64
	@deb=$$(ls build-arm64/stopline_*_arm64.deb) && tmp=$$(mktemp -d) && dpkg-deb -x "$$deb" "$$tmp" && \
	  dpkg-deb -f "$$deb" Package Version Architecture && (cd "$$tmp/usr/bin" && file *); \
	  rm -rf "$$tmp"; echo "$$deb"

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	@rm -rf build build-debug build-fuzz build-arm64
