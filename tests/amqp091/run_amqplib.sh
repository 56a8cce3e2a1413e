#!/usr/bin/env bash
# Runs amqplib_test.js, or the test files named as arguments, (Node's test
# runner) against warrend. Installs amqplib from package-lock.json into
# node_modules/ here first when it is missing.
# Exit 77 (CTest's SKIP_RETURN_CODE) when node or the npm registry is not to
# be had: the skip is said, not hidden.
set -uo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node/npm not installed (scripts/install-deps.sh installs nodejs and npm)"
  exit 77
fi
if [ ! -f node_modules/amqplib/package.json ]; then
  echo "installing amqplib from package-lock.json (npm ci)"
  if ! timeout 300 npm ci --no-audit --no-fund --loglevel=error; then
    echo "SKIP: 'npm ci' failed (is the npm registry reachable?): amqplib tests not run"
    exit 77
  fi
fi
if [ $# -eq 0 ]; then set -- amqplib_test.js; fi
exec node --test-reporter=spec --test "$@"
