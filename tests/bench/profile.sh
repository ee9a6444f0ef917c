#!/bin/bash
# The profile of issue 14: one ptp-broker, one `bench-client`
# (client::register) and one `bench-emit` at a fixed rate; CPU per event of
# the broker and the client process from /proc, and `perf record` of both
# (where it goes). Prints a markdown section; with --write also puts it into
# docs/BENCHMARKS.md between its profile markers.
#
#   tests/bench/profile.sh [--write] [--rate N] [--count N] LABEL=BINDIR...
#
# Each LABEL=BINDIR is a directory holding ptp-broker, bench-client and
# bench-emit (e.g. before=/tmp/before-bin after=target/release), profiled
# in turn under the same load. Needs perf (linux-perf). KEEP=1 keeps the
# perf data (its directory is /tmp/ptp-profile.*); PERF_CALLGRAPH sets the
# broker's call-graph option (default -g, frame pointers: Rust code has
# none, so callers of a libc function such as memcmp need
# PERF_CALLGRAPH="--call-graph dwarf,16384", and then perf report -G).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
write=0 rate=60000 count=300000
runs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --write) write=1 ;;
        --rate) rate=$2; shift ;;
        --count) count=$2; shift ;;
        *=*) runs+=("$1") ;;
        *) echo "profile.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ ${#runs[@]} -gt 0 ] || runs=("current=$root/target/release")
command -v perf > /dev/null || { echo "profile.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }

work=$(mktemp -d /tmp/ptp-profile.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# Wait up to $2 tenths of a second for file $1 to contain $3.
wait_for() {
    for _ in $(seq "$2"); do grep -q "$3" "$1" 2> /dev/null && return 0; sleep 0.1; done
    echo "profile.sh: no '$3' in $1" >&2
    return 1
}

# utime+stime of process $1, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# profile LABEL BINDIR: prints one markdown block.
profile() {
    label=$1 bin=$2 d=$work/$1
    mkdir -p "$d"
    port=$((21000 + RANDOM % 20000))
    export PTP_BROKER_EMIT=tcp://127.0.0.1:$port
    export PTP_BROKER_PUB=tcp://127.0.0.1:$((port + 1))
    export PTP_BROKER_QUERY=tcp://127.0.0.1:$((port + 2))
    PTP_BROKER_STATE_DIR=$d PTP_BROKER_MONITOR__LISTEN=127.0.0.1:0 PTP_BROKER_API__LISTEN=127.0.0.1:0 \
        "$bin/ptp-broker" > "$d/broker.log" 2>&1 &
    broker=$!
    pids+=($broker)
    wait_for "$d/broker.log" 100 ready
    mkfifo "$d/client.in" "$d/emit.in"
    # perf stat around the client: its whole CPU time (it exits when done).
    perf stat -x, -e task-clock,context-switches -o "$d/client.stat" "$bin/bench-client" \
        < "$d/client.in" > "$d/client.out" 2> "$d/client.err" &
    wrapper=$!
    pids+=($wrapper)
    exec 3> "$d/client.in"
    wait_for "$d/client.out" 100 ready
    "$bin/bench-emit" --mode zmq --connect "$PTP_BROKER_EMIT" --rate "$rate" --count "$count" \
        < "$d/emit.in" > "$d/emit.out" 2> "$d/emit.err" &
    pids+=($!)
    exec 4> "$d/emit.in"
    wait_for "$d/client.out" 100 warm
    client=$(pgrep -P "$wrapper" -f bench-client)
    perf record -F 999 ${PERF_CALLGRAPH:--g} -p "$broker" -o "$d/broker.data" > /dev/null 2>&1 &
    recorders=($!)
    perf record -F 999 -g -p "$client" -o "$d/client.data" > /dev/null 2>&1 &
    recorders+=($!)
    b0=$(ticks "$broker")
    echo go >&4
    wait_for "$d/emit.out" 600 '{'
    range=$(tail -1 "$d/emit.out" | sed -E 's/.*"first":([0-9]+),"last":([0-9]+).*/\1 \2/')
    echo "range $range" >&3
    wait "$wrapper" || true
    b1=$(ticks "$broker")
    for r in "${recorders[@]}"; do kill -INT "$r" 2> /dev/null || true; wait "$r" 2> /dev/null || true; done
    exec 3>&- 4>&-
    stats=$(grep "bench-client:" "$d/client.err" | tail -1 | sed 's/^bench-client: //')
    hz=$(getconf CLK_TCK)
    echo "#### $label"
    echo
    client_ms=$(grep ',task-clock' "$d/client.stat" | cut -d, -f1 | head -1)
    client_cs=$(grep ',context-switches' "$d/client.stat" | cut -d, -f1 | head -1)
    awk -v b=$((b1 - b0)) -v c="${client_ms:-0}" -v cs="${client_cs:-0}" -v hz="$hz" -v n="$count" -v s="$stats" 'BEGIN {
        printf "- CPU per event: **broker %.2f µs** (over the measured events), **client process %.2f µs** (its whole run, warm-up included), %.3f context switches per event in the client; client: %s\n", b * 1e6 / hz / n, c * 1e3 / n, cs / n, s }'
    echo
    for who in broker client; do
        echo "| $who: self % | thread | symbol |"
        echo "|---:|---|---|"
        perf report -i "$d/$who.data" --no-children --sort comm,symbol -g none --stdio 2> /dev/null \
            | grep -E '^ +[0-9]' | head -12 \
            | awk '{
                pct = $1; comm = $2
                $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); sub(/ +- +- *$/, ""); gsub(/\|/, "\\|")
                printf "| %s | %s | `%s` |\n", pct, comm, substr($0, 1, 90) }'
        echo
    done
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    pids=()
}

{
    echo "### Profile: broker and client path ($(date -u +%F), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1))"
    echo
    echo "Generated by \`tests/bench/profile.sh\`: one broker, one \`client::register\` process (\`bench-client\`), one emitter at $rate ev/s for $count events, each binary set in turn. CPU: the broker's from /proc over the measured events, the client's from \`perf stat\` over its whole run; \`perf record -g\` at 999 Hz on each process, self time, top 12 of each."
    echo
    for run in "${runs[@]}"; do
        profile "${run%%=*}" "${run#*=}"
    done
} > "$work/section.md"
cat "$work/section.md"
if [ "$write" = 1 ]; then
    doc=$root/docs/BENCHMARKS.md
    begin='<!-- profile:begin -->' end='<!-- profile:end -->'
    grep -q "$begin" "$doc" || printf '\n%s\n%s\n' "$begin" "$end" >> "$doc"
    awk -v begin="$begin" -v end="$end" -v section="$work/section.md" '
        $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }' "$doc" > "$work/doc" && cp "$work/doc" "$doc"
    echo "wrote $doc" >&2
fi
