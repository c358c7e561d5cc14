#!/usr/bin/env bash
# Measure `sipkit send` against its peers in one run and print the README table (markdown).
#
#   bench/send.sh                    # defaults below
#   RUNS=50 COUNT=20000 bench/send.sh
#
# The UAS for everything is SIPp with tests/fixtures/sipp/answer-200.xml on 127.0.0.1 (UDP),
# started here and stopped on exit.
#  (a) one-shot: whole-process time of `sipkit send OPTIONS sip:...` and `sipsak -s sip:...`
#      (hyperfine -N, no shell; $RUNS runs after 5 warm-ups).
#  (b) load: COUNT OPTIONS transactions with CONCURRENCY in flight, `sipkit send --count` next to
#      SIPp as the UAC (tests/fixtures/sipp/options-uac.xml, -l CONCURRENCY, unthrottled rate).
#      Rate = COUNT / wall time of the process, for both.
# Needs: cargo, hyperfine, sipsak, sipp. Logs go to target/bench-send/.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-200}
count=${COUNT:-100000}
conc=${CONCURRENCY:-64}
out=target/bench-send
mkdir -p "$out"

for tool in hyperfine sipsak sipp; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

cargo build --release --bin sipkit >&2
sipkit=$PWD/target/release/sipkit

# A port free for UDP on loopback (the kernel picks one, we release it for SIPp).
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
uri="sip:127.0.0.1:$port"

timeout 1800 sipp -sf tests/fixtures/sipp/answer-200.xml -i 127.0.0.1 -p "$port" -t u1 \
    -nostdin -timeout 1800s >"$out/uas.log" 2>&1 &
uas=$!
trap 'kill "$uas" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    "$sipkit" send OPTIONS "$uri" --timeout 1s >/dev/null 2>&1 && break
    sleep 0.1
done
"$sipkit" send OPTIONS "$uri" --timeout 2s >/dev/null || { echo "the SIPp UAS does not answer" >&2; exit 1; }

# (a) one-shot
hyperfine -N --warmup 5 --runs "$runs" --export-json "$out/oneshot.json" \
    -n sipkit "$sipkit send OPTIONS $uri" \
    -n sipsak "sipsak -s $uri" >"$out/hyperfine.log" 2>&1 ||
    { tail -20 "$out/hyperfine.log" >&2; exit 1; }
# mean and stddev in ms of the command named $1
stat_ms() {
    python3 - "$out/oneshot.json" "$1" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["command"] == sys.argv[2]:
        print(f'{r["mean"]*1e3:.2f} ms ± {r["stddev"]*1e3:.2f} (median {r["median"]*1e3:.2f})')
EOF
}
mean_of() {
    python3 -c 'import json,sys; print([r["mean"] for r in json.load(open(sys.argv[1]))["results"] if r["command"]==sys.argv[2]][0])' "$out/oneshot.json" "$1"
}
sk=$(mean_of sipkit); ss=$(mean_of sipsak)

# (b) load
now() { date +%s.%N; }
t0=$(now)
timeout 600 "$sipkit" send OPTIONS "$uri" --count "$count" --concurrency "$conc" --format json \
    >"$out/sipkit-load.json" 2>"$out/sipkit-load.err" || true
t1=$(now)
timeout 600 sipp -sf tests/fixtures/sipp/options-uac.xml "127.0.0.1:$port" -i 127.0.0.1 -t u1 \
    -m "$count" -l "$conc" -r 1000000 -nostdin -timeout 600s >"$out/sipp-uac.log" 2>&1 || true
t2=$(now)
sipkit_ok=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["load"]; print(l["statuses"].get("200",0), l["timeouts"], l["errors"], round(l["achieved_rate"]))' "$out/sipkit-load.json")
read -r sk_200 sk_to sk_err sk_own <<<"$sipkit_ok"
sipp_ok=$(grep -E '^ *Successful call' "$out/sipp-uac.log" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
sipp_fail=$(grep -E '^ *Failed call' "$out/sipp-uac.log" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
skr=$(rate "$sk_200" "$t0" "$t1"); spr=$(rate "${sipp_ok:-0}" "$t1" "$t2")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "Machine: ${cpu}, $(nproc) cores; $(rustc --version | cut -d' ' -f1-2); sipsak $(sipsak --version 2>&1 | head -1 | awk '{print $2}'), $(sipp -v 2>&1 | grep -o 'SIPp v[0-9.]*'); UAS: SIPp answer-200.xml on UDP loopback; $(date -u +%Y-%m-%d)"
echo
echo "| measure | sipkit | peer | sipkit vs peer |"
echo "|---|---:|---:|---:|"
echo "| one-shot OPTIONS, whole process (hyperfine, $runs runs) | $(stat_ms sipkit) | sipsak: $(stat_ms sipsak) | $(awk -v a="$sk" -v b="$ss" 'BEGIN { printf "%.2fx faster", b / a }') |"
echo "| $count OPTIONS, $conc in flight, transactions/s (wall time) | $skr (200: $sk_200, timeouts: $sk_to, errors: $sk_err; own figure $sk_own/s) | SIPp UAC: $spr (successful: ${sipp_ok:-?}, failed: ${sipp_fail:-?}) | $(awk -v a="$skr" -v b="$spr" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }') |"
