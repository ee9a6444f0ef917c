#!/bin/sh
# The one command of the benchmark suite (issue 5): install the peers, build
# ptp-broker and the bench in release mode, run every scenario and print the
# markdown report. Options are passed to the bench:
#   --smoke   tiny sizes (seconds), exit non-zero on any loss (CI)
#   --write   also update docs/BENCHMARKS.md
#   --scenarios 1,2,3   --k 1,8,64
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$here/install-deps.sh"
cd "$root"
cargo build --release -p broker -p ptp-broker-tests
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
exec "$target/release/bench" --command "tests/bench/run.sh $*" "$@"
