#!/usr/bin/env bash
# Installs the Debian packages Warren needs to build, test and run.
# Idempotent: only missing packages are installed, so a second call costs
# one dpkg query. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev            # libFuzzer and sanitizer runtimes
  libasio-dev libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  nlohmann-json3-dev libcpp-httplib-dev zlib1g-dev  # zlib: the store's record checksums
  libssl-dev libpcre2-dev             # users' password hashes; permission patterns (PCRE, as RabbitMQ's)
  openssl                             # TLS (AMQPS, with libssl-dev): the CLI makes the TLS tests' certificates
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 util-linux procps           # integration tests (flock(1), ps)
  python3-pika python3-kombu amqp-tools librabbitmq-dev  # AMQP 0-9-1 client tests
  nodejs npm                          # amqplib tests (tests/amqp091)
  python3-qpid-proton libqpid-proton11-dev libqpid-proton-cpp12-dev libqpid-proton11-dev-examples  # AMQP 1.0 client tests (tests/amqp10)
  rabbitmq-server                     # src/recipes' tests run the lock recipes against RabbitMQ 3.10 too
  spin                                # the Promela models of models/ (tests/models, docs/models.md)
  libsystemd-dev systemd              # warrend's sd_notify (Type=notify, watchdog); systemd-analyze, systemd-sysusers (tests/install)
  dpkg-dev file adduser init-system-helpers  # make deb: CPack's dpkg-shlibdeps and file; the package's maintainer scripts
  help2man                            # make install / make deb: man pages from each program's --help
  chromium chromium-driver python3-selenium  # the web console's test in a real browser (tests/console)
)

# One dpkg query for all of them: one per package took 30 s on a loaded
# two-core machine (each start waits for a core).
# (It fails on a package dpkg has never seen: that one is simply missing.)
installed=" $({ dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true; } |
  awk '$NF == "installed" && $(NF-1) == "ok" && $(NF-2) == "install" {print $1}' | tr '\n' ' ') "
missing=()
for p in "${packages[@]}"; do
  # A nodejs built with npm inside (NodeSource's) conflicts with Debian's npm package.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  [[ "$installed" == *" $p "* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The tests start their own RabbitMQ nodes: a policy-rc.d that says no keeps
# the package from starting the system broker (as bench/compare/run.sh does).
policy=""
if [[ " ${missing[*]} " == *" rabbitmq-server "* && ! -e /usr/sbin/policy-rc.d ]]; then
  policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
