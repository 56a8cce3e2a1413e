#!/usr/bin/env bash
# Runs rhea_test.js (Node's test runner) against warrend. Installs rhea from
# package-lock.json into node_modules/ here first when it is missing.
# Exit 77 (CTest's SKIP_RETURN_CODE) when node or the npm registry is not to
# be had: the skip is said, not hidden.
set -uo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node/npm not installed (scripts/install-deps.sh installs nodejs and npm)"
  exit 77
fi
if [ ! -f node_modules/rhea/package.json ]; then
  echo "installing rhea from package-lock.json (npm ci)"
  if ! timeout 300 npm ci --no-audit --no-fund --loglevel=error; then
    echo "SKIP: 'npm ci' failed (is the npm registry reachable?): rhea tests not run"
    exit 77
  fi
fi
exec node --test-reporter=spec --test rhea_test.js
