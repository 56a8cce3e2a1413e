# The two commands of the README: `make run` and `make test`.
# Everything else here is what they are made of.
.PHONY: run test deps build-release build-debug bench clean install deb
JOBS ?= $(shell nproc)
# Tests wait on brokers, sockets and timers about half the time: one more
# test than cores keeps both busy (a fresh clone's test phase: 343 s at -j2,
# 266 s at -j3 on two cores).
TEST_JOBS ?= $(shell echo $$(( $$(nproc) + 1 )))
RELEASE_DIR := build/release
# make install: where to (and DESTDIR, for a staged install).
PREFIX ?= /usr/local
DEBUG_DIR := build/debug

run: deps build-release
	@mkdir -p var
	exec $(RELEASE_DIR)/apps/warrend/warrend --data-dir var $(ARGS)

test: deps build-debug
	cd $(DEBUG_DIR) && ctest --output-on-failure -j $(TEST_JOBS) --timeout 600

deps:
	@scripts/install-deps.sh

build-release:
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DWARREN_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS)

build-debug:
	@cmake -S . -B $(DEBUG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWARREN_SANITIZE=ON -DWARREN_FUZZ=ON -DWARREN_BENCH=OFF >/dev/null
	@cmake --build $(DEBUG_DIR) -j $(JOBS)

# warrend (PREFIX/sbin), socketlock, warrenctl, warren-store (PREFIX/bin),
# the systemd unit, PREFIX/etc/warren/warrend.toml (/etc/warren with
# PREFIX=/usr), the client library with its headers, pkg-config and CMake
# files. README, "Installing as a service".
install: deps build-release
	DESTDIR="$(DESTDIR)" cmake --install $(RELEASE_DIR) --prefix "$(PREFIX)"

# The Debian packages (CPack): warren and libwarren-client-dev.
deb: deps build-release
	@rm -f $(RELEASE_DIR)/packages/*.deb
	cd $(RELEASE_DIR) && cpack -G DEB >/dev/null
	@ls -1 $(RELEASE_DIR)/packages/*.deb

bench: deps build-release
	bench/socketlock/run.sh $(RELEASE_DIR)

clean:
	rm -rf build
