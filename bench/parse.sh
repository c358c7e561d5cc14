#!/usr/bin/env bash
# Run benches/parse.rs pinned to one core and print the README table (markdown) on stdout.
#
#   bench/parse.sh                 # all benchmarks, core 1
#   BENCH_CORE=0 bench/parse.sh    # another core
#   BENCH_TIME=5 bench/parse.sh    # seconds of measurement per benchmark (default 3)
#
# Criterion's own report goes to target/bench-parse.log; the numbers in the table are medians from
# target/criterion/*/new/estimates.json of this run.
set -euo pipefail
cd "$(dirname "$0")/.."

core=${BENCH_CORE:-1}
secs=${BENCH_TIME:-3}
log=target/bench-parse.log
crit=target/criterion

command -v taskset >/dev/null || { echo "taskset (util-linux) is needed to pin the run" >&2; exit 1; }

cargo bench --bench parse --no-run >&2
rm -rf "$crit"
taskset -c "$core" cargo bench --bench parse -- \
    --warm-up-time 1 --measurement-time "$secs" --noplot >"$log" 2>&1 ||
    { tail -30 "$log" >&2; exit 1; }

# Median time per message in ns for group $1 (e.g. msgs_invite), function $2.
median_ns() {
    local f="$crit/$1/$2/new/estimates.json"
    [ -f "$f" ] || { echo ""; return; }
    sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.eE+-]+).*/\1/' "$f"
}
rate() { [ -n "$1" ] && awk -v ns="$1" 'BEGIN { printf "%.0f", 1e9 / ns }' || echo "n/a"; }
mbps() { [ -n "$1" ] && awk -v ns="$1" -v b="$2" 'BEGIN { printf "%.0f", b * 1e3 / ns }' || echo "n/a"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", b / a }' || echo "n/a"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "Machine: ${cpu}, $(nproc) cores, pinned to core ${core}; $(rustc --version | cut -d' ' -f1-2); $(date -u +%Y-%m-%d)"
echo
echo "| message | bytes | sipkit msgs/s | sipkit MB/s | sipkit framing only, msgs/s | rsip msgs/s | ezk msgs/s (typed) | ezk msgs/s (split only) | sipkit vs rsip | sipkit vs ezk (typed) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in invite:tests/fixtures/sip/examples/invite.sip:"INVITE with SDP" \
         ok:tests/fixtures/sip/examples/ok.sip:"200 OK with SDP"; do
    IFS=: read -r id file label <<<"$m"
    bytes=$(wc -c <"$file" | tr -d ' ')
    s=$(median_ns "msgs_$id" sipkit); sb=$(median_ns "bytes_$id" sipkit); sf=$(median_ns "msgs_$id" sipkit-frame)
    r=$(median_ns "msgs_$id" rsip); e=$(median_ns "msgs_$id" ezk); es=$(median_ns "msgs_$id" ezk-split)
    echo "| $label | $bytes | $(rate "$s") | $(mbps "$sb" "$bytes") | $(rate "$sf") | $(rate "$r") | $(rate "$e") | $(rate "$es") | $(ratio "$s" "$r") | $(ratio "$s" "$e") |"
done
bytes=$(wc -c <tests/fixtures/msrp/send.msrp | tr -d ' ')
s=$(median_ns msgs_msrp-send sipkit); sb=$(median_ns bytes_msrp-send sipkit)
if [ -n "$s" ]; then
    echo "| MSRP SEND, 2 KiB chunk | $bytes | $(rate "$s") | $(mbps "$sb" "$bytes") | - | - | - | - | - | - |"
else
    echo "| MSRP SEND, 2 KiB chunk | $bytes | not measured (MSRP block in benches/parse.rs disabled) | | - | - | - | - | - | - |"
fi
