#!/usr/bin/env bash
# Warren vs RabbitMQ 3.10 side by side (bench/compare/README.md).
#   bench/compare/run.sh [--quick] [--rounds N] [--only 1,3,9] [--rabbit-port 5673]
# Builds Release into build/release, installs Debian's rabbitmq-server if it
# is missing (without starting the system service), then runs compare.py,
# which starts and stops both brokers itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DWARREN_TESTS=OFF >/dev/null
cmake --build build/release --target warrend warren-perf

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # A policy-rc.d that says no keeps the package from starting the system broker.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends rabbitmq-server
  $SUDO rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

# 1,000-queue and 1,000-connection scenarios need file descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# compare.py stops both brokers on exit, error, Ctrl-C or TERM; forward them.
/usr/bin/python3 bench/compare/compare.py "$@" &
py=$!
trap 'kill -TERM $py 2>/dev/null; wait $py' INT TERM
wait $py
