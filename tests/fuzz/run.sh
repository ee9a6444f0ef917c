#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through cargo-fuzz) of every parser
# that reads bytes from a peer. docs/RELIABILITY.md, "Fuzzing", says what
# each target covers and holds the latest results.
#
#   tests/fuzz/run.sh                      every target, 10 million runs each
#   tests/fuzz/run.sh --runs 100000 http   one target, fewer runs
#   tests/fuzz/run.sh --write              also write the results table
#
# The stable toolchain is enough: RUSTC_BOOTSTRAP=1 lets it take the flags
# libFuzzer's instrumentation needs. No sanitizer (the parsers are safe
# Rust; debug assertions and overflow checks are on). New inputs that add
# coverage are kept in tests/fuzz/corpus/<target> (minimized at the end);
# a crash is saved in tests/fuzz/artifacts/<target> and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=10000000
write=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --write) write=1; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(frame cloudevent cloudevent_binary query zmtp http)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
export RUSTC_BOOTSTRAP=1
flags=(--fuzz-dir tests/fuzz -s none -a)
cargo run -q -p ptp-broker-tests --bin fuzz-seeds
cargo fuzz build "${flags[@]}"

results=$(mktemp)
failed=0
for t in "${targets[@]}"; do
    log="tests/fuzz/target/$t.log"
    mkdir -p tests/fuzz/target
    start=$(date +%s)
    status=0
    cargo fuzz run "${flags[@]}" "$t" "tests/fuzz/corpus/$t" -- \
        -runs="$runs" -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    if [ "$status" -ne 0 ]; then
        found="**crash** (exit $status): see $log and tests/fuzz/artifacts/$t"
        failed=1
    else
        found="nothing"
    fi
    cargo fuzz cmin "${flags[@]}" "$t" "tests/fuzz/corpus/$t" >/dev/null 2>&1 || true
    n=$(ls "tests/fuzz/corpus/$t" | wc -l)
    echo "| \`$t\` | ${execs:-?} | $secs | ${cov:-?} | $n | $found |" | tee -a "$results"
done

if [ "$write" = 1 ]; then
    machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
    python3 - "$results" "$machine" "$(date +%F)" "$runs" <<'PY'
import sys
rows, machine, date, runs = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], sys.argv[4]
table = (f"Machine: {machine}. Date: {date}. Command: `tests/fuzz/run.sh --runs {runs} --write`.\n\n"
         "| target | executions | seconds | coverage (edges) | corpus files | found |\n"
         "|---|---:|---:|---:|---:|---|\n" + rows)
path = "docs/RELIABILITY.md"
doc = open(path).read()
begin, end = "<!-- fuzz:begin -->\n", "<!-- fuzz:end -->"
a, b = doc.index(begin) + len(begin), doc.index(end)
open(path, "w").write(doc[:a] + table + doc[b:])
PY
fi
rm -f "$results"
exit $failed
