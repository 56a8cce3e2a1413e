#!/usr/bin/env bash
# Runs socketlock_bench against the real warrend and keeps the output in
# bench/results/socketlock-<date>.txt. Builds nothing (`make bench` does).
#   bench/socketlock/run.sh BUILD_DIR [more socketlock_bench flags]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [socketlock_bench flags]" >&2
  exit 2
fi
build_dir=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$build_dir/bench/socketlock/socketlock_bench
warrend=$build_dir/apps/warrend/warrend
for f in "$bench" "$warrend"; do
  if [ ! -x "$f" ]; then
    echo "$0: $f not found; build it first (make build-release)" >&2
    exit 1
  fi
done

mkdir -p "$root/bench/results"
out=$root/bench/results/socketlock-$(date +%Y-%m-%d).txt
{
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  echo "# socketlock_bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit"
  uname -a
  lscpu | sed -n 1,10p  # all of it read: no SIGPIPE under pipefail
  echo
  echo "\$ $bench --warrend $warrend $*"
} | tee "$out"
# Progress goes to stderr (the terminal); the table to stdout and the file.
"$bench" --warrend "$warrend" "$@" | tee -a "$out"
echo "saved to $out" >&2
