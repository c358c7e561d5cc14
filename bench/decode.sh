#!/usr/bin/env bash
# decode-pcap throughput and memory against sngrep (and optionally tshark), measured in one run.
#
#   bench/decode.sh                  # make the captures if absent, then measure
#   BENCH_TSHARK=1 bench/decode.sh   # also time tshark (minutes per capture)
#   BENCH_BIG=1 bench/decode.sh      # also a ~1 GB UDP capture for the peak-memory target
#   BENCH_SNGREP_TCP=1 ...           # also sngrep on the TCP capture (it needed 271 s and 24 GB)
#   BENCH_MAKE_ONLY=1 bench/decode.sh  # only make the captures
#   BENCH_BASELINE=/path/to/sipkit ...  # also time another sipkit build's JSON (before/after)
#
# Captures are made with SIPp on loopback and dumpcap, as the issue describes: 30,000 calls over
# UDP and 20,000 calls over one TCP connection, kept in target/bench-captures/ (regenerated only
# when absent). Every figure is read from a file in the page cache (one warm-up read first);
# sipkit writes JSON Lines to /dev/null. Needs: sipp (sip-tester), dumpcap (tshark), sngrep,
# GNU time; run as a user allowed to capture on lo (root here).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=target/bench-captures
mkdir -p "$dir"
for tool in sipp dumpcap sngrep /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench/decode.sh needs $tool" >&2; exit 1; }
done

# capture NAME TRANSPORT CALLS RATE: run a SIPp UAS and UAC on loopback and record the traffic.
capture() {
    local name=$1 transport=$2 calls=$3 rate=$4
    local out="$dir/$name.pcap"
    [ -s "$out" ] && return
    local port=$((5200 + RANDOM % 500))
    echo "making $out: $calls calls over $transport (SIPp on 127.0.0.1:$port)" >&2
    dumpcap -q -i lo -B 256 -f "port $port" -P -w "$out.tmp" 2>"$dir/$name.dumpcap.log" &
    local cap=$!
    sleep 2
    local t=u1
    [ "$transport" = tcp ] && t=t1
    # -bg forks the UAS and exits 99 (its own convention); kill it by port below.
    sipp -sn uas -i 127.0.0.1 -p "$port" -t "$t" -bg -nostdin >/dev/null 2>&1 || true
    timeout 900 sipp -sn uac "127.0.0.1:$port" -i 127.0.0.1 -p $((port + 1)) -t "$t" \
        -m "$calls" -r "$rate" -l 2000 -nostdin -trace_err -error_file "$dir/$name.sipp-errors" \
        >/dev/null 2>&1 || echo "sipp uac reported failed calls (see $dir/$name.sipp-errors)" >&2
    sleep 2
    kill "$cap"
    wait "$cap" 2>/dev/null || true
    pkill -9 -f "sipp -sn uas -i 127.0.0.1 -p $port" || true
    mv "$out.tmp" "$out"
}

capture udp-30k udp 30000 3000
capture tcp-20k tcp 20000 2000
[ "${BENCH_BIG:-0}" = 1 ] && capture udp-big udp 360000 4000
[ "${BENCH_MAKE_ONLY:-0}" = 1 ] && exit 0

cargo build --release >&2
sipkit=target/release/sipkit

# measure LABEL FILE CMD...: the best of $runs runs (BENCH_RUNS, default 5; one for slow
# tools): wall seconds (nanosecond clock: the small captures take about a tenth of a second,
# below GNU time's 10 ms resolution), MB/s of FILE, CPU seconds of that run (user + system,
# all threads: on a shared machine the steadier figure), peak RSS in MB (the highest run).
runs=${BENCH_RUNS:-5}
measure() {
    local label=$1 file=$2
    shift 2
    cat "$file" >/dev/null
    local t best="" best_cpu=0 rss_max=0 n=$runs
    [ "${MEASURE_ONCE:-}" = 1 ] && n=1
    t=$(mktemp)
    for _ in $(seq "$n"); do
        local start end secs user sys rss_kb
        start=$(date +%s%N)
        /usr/bin/time -f "%U %S %M" -o "$t" "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        read -r user sys rss_kb <"$t"
        secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
        if [ -z "$best" ] || awk -v s="$secs" -v b="$best" 'BEGIN { exit !(s < b) }'; then
            best=$secs
            best_cpu=$(awk -v u="$user" -v y="$sys" 'BEGIN { print u + y }')
        fi
        [ "$rss_kb" -gt "$rss_max" ] && rss_max=$rss_kb
    done
    rm -f "$t"
    local size
    size=$(stat -L -c %s "$file")
    awk -v l="$label" -v f="$(basename "$file")" -v s="$best" -v b="$size" -v r="$rss_max" -v c="$best_cpu" \
        'BEGIN { printf "| %s | %s (%.0f MB) | %.3f | %.0f | %.2f | %.0f |\n", l, f, b / 1e6, s, (s > 0 ? b / 1e6 / s : 0), c, r / 1024 }'
    last_secs=$best
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "Machine: ${cpu}, $(nproc) cores; $(date -u +%Y-%m-%d); sngrep $(sngrep -V | head -1 | cut -d' ' -f3)"
echo
echo "| tool | capture | seconds | MB/s | CPU s | peak RSS MB |"
echo "|---|---|---:|---:|---:|---:|"
for f in "$dir/udp-30k.pcap" "$dir/tcp-20k.pcap"; do
    measure "sipkit decode-pcap --format json" "$f" "$sipkit" decode-pcap --format json "$f"
    [ "$f" = "$dir/udp-30k.pcap" ] && json_udp_secs=$last_secs
    measure "sipkit decode-pcap --stats" "$f" "$sipkit" decode-pcap --stats "$f"
    measure "sipkit decode-pcap (human lines)" "$f" "$sipkit" decode-pcap --color never "$f"
    if [ -n "${BENCH_BASELINE:-}" ]; then
        measure "baseline decode-pcap --format json" "$f" "$BENCH_BASELINE" decode-pcap --format json "$f"
        [ "$f" = "$dir/udp-30k.pcap" ] && base_udp_secs=$last_secs
    fi
done
measure "sngrep -I FILE -N -q" "$dir/udp-30k.pcap" timeout 900 sngrep -I "$dir/udp-30k.pcap" -N -q
sngrep_udp_secs=$last_secs
if [ "${BENCH_SNGREP_TCP:-0}" = 1 ]; then
    MEASURE_ONCE=1 measure "sngrep -I FILE -N -q" "$dir/tcp-20k.pcap" timeout 900 sngrep -I "$dir/tcp-20k.pcap" -N -q
fi
if [ "${BENCH_TSHARK:-0}" = 1 ]; then
    MEASURE_ONCE=1 measure "tshark -Y sip -T fields" "$dir/udp-30k.pcap" timeout 1800 tshark -n -r "$dir/udp-30k.pcap" \
        -Y sip -T fields -e frame.number -e sip.Method -e sip.Status-Code -e sip.Call-ID
fi
if [ -s "$dir/udp-big.pcap" ]; then
    measure "sipkit decode-pcap --format json" "$dir/udp-big.pcap" "$sipkit" decode-pcap --format json "$dir/udp-big.pcap"
    measure "sipkit decode-pcap --stats" "$dir/udp-big.pcap" "$sipkit" decode-pcap --stats "$dir/udp-big.pcap"
    measure "sipkit decode-pcap --calls" "$dir/udp-big.pcap" "$sipkit" decode-pcap --calls "$dir/udp-big.pcap"
fi
echo
awk -v j="$json_udp_secs" -v s="$sngrep_udp_secs" \
    'BEGIN { if (j > 0) printf "sipkit --format json / sngrep on udp-30k: %.1fx\n", s / j }'
if [ -n "${base_udp_secs:-}" ]; then
    awk -v j="$base_udp_secs" -v s="$sngrep_udp_secs" \
        'BEGIN { if (j > 0) printf "baseline --format json / sngrep on udp-30k: %.1fx\n", s / j }'
fi
