#!/usr/bin/env bash
# The client library installs and is usable from outside the tree: installs
# the `client` component of BUILD_DIR into a temporary prefix, then builds
# examples/publish_confirms.cpp against it twice, with pkg-config and with
# find_package(WarrenClient), and runs each (bad URI: it must fail cleanly,
# which proves it linked and ran).
set -euo pipefail
build_dir=$1 src_dir=$2 flags=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --component client --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/warren/client/connection.hpp"
libdir=$(dirname "$(find "$tmp/prefix" -name warren-client.pc)")

# pkg-config
PKG_CONFIG_PATH=$libdir g++ -std=c++20 $flags "$src_dir/examples/publish_confirms.cpp" -o "$tmp/pc" \
  $(PKG_CONFIG_PATH=$libdir pkg-config --cflags --libs --static warren-client)
if "$tmp/pc" amqp://127.0.0.1:1/ 1 2>"$tmp/pc.err"; then echo "connecting to port 1 succeeded?"; exit 1; fi
grep -q "publish_confirms:" "$tmp/pc.err"

# CMake package
mkdir -p "$tmp/proj"
cat >"$tmp/proj/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(uses_warren_client CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(WarrenClient REQUIRED)
add_executable(pc $src_dir/examples/publish_confirms.cpp)
target_link_libraries(pc PRIVATE Warren::client)
CMAKE
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$tmp/proj/build" >/dev/null
if "$tmp/proj/build/pc" amqp://127.0.0.1:1/ 1 2>"$tmp/cm.err"; then echo "connecting to port 1 succeeded?"; exit 1; fi
grep -q "publish_confirms:" "$tmp/cm.err"
echo "installed, built with pkg-config and find_package, ran"
