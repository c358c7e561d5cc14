#!/usr/bin/env bash
# `sipkit listen` as a responder under SIPp load, next to SIPp's own UAS, in one run.
#
#   bench/listen.sh
#   RATES="1000 2000 4000 8000" SECONDS_PER_RATE=5 MEM_COUNT=1000000 bench/listen.sh
#
# For each responder (sipkit listen, sipp -sn uas) and each rate, `sipp -sn uac` places
# rate*SECONDS_PER_RATE calls (INVITE, ACK, BYE) over UDP on loopback; a rate passes when
# SIPp exits 0 (no failed call). CPU = utime+stime of the responder process (/proc/PID/stat)
# across that step, per 10,000 calls. Memory: a fresh listen answers 10,000 OPTIONS from
# `sipkit send --count`, then MEM_COUNT in all; VmRSS is read after each, once the
# transactions have expired (Timer J, 32 s). Each step is bounded with `timeout`.
# Needs: cargo, sipp, python3. Logs go to target/bench-listen/.
set -euo pipefail
cd "$(dirname "$0")/.."

rates=${RATES:-"1000 2000 4000 8000"}
secs=${SECONDS_PER_RATE:-5}
mem_count=${MEM_COUNT:-1000000}
out=target/bench-listen
mkdir -p "$out"
command -v sipp >/dev/null || { echo "sipp is needed" >&2; exit 1; }

cargo build --release --bin sipkit >&2
sipkit=$PWD/target/release/sipkit
hz=$(getconf CLK_TCK)

free_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
started=()
trap 'for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_responder NAME PORT: sets $pid
start_responder() {
    case $1 in
        sipkit) "$sipkit" listen --udp "127.0.0.1:$2" --msrp 127.0.0.1:0 --quiet \
                    --timeout 3600s >"$out/listen-$2.log" 2>&1 & ;;
        sipp)   sipp -sn uas -i 127.0.0.1 -p "$2" -nostdin -timeout 3600s \
                    >"$out/uas-$2.log" 2>&1 & ;;
    esac
    pid=$!
    started+=("$pid")
    sleep 0.5
}

echo "| responder | rate (calls/s) | calls | failed | CPU s per 10k calls |"
echo "|---|---|---|---|---|"
declare -A best cpu_at
for who in sipkit sipp; do
    port=$(free_port)
    start_responder "$who" "$port"
    best[$who]=0
    for rate in $rates; do
        calls=$((rate * secs))
        before=$(cpu_ticks "$pid")
        status=0
        timeout $((secs * 4 + 60)) sipp -sn uac "127.0.0.1:$port" -r "$rate" -m "$calls" \
            -l $((rate * 2)) -timeout $((secs * 4 + 40))s -nostdin \
            -trace_stat -stf "$out/uac-$who-$rate.csv" >"$out/uac-$who-$rate.log" 2>&1 || status=$?
        after=$(cpu_ticks "$pid")
        failed=$(python3 - "$out/uac-$who-$rate.csv" <<'PY' 2>/dev/null || echo "?"
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h = rows[0]; last = rows[-1]
print(last[h.index("FailedCall(C)")])
PY
)
        per10k=$(python3 -c "print(f'{($after-$before)/$hz/$calls*10000:.3f}')")
        echo "| $who | $rate | $calls | $failed (sipp exit $status) | $per10k |"
        if [ "$status" = 0 ]; then best[$who]=$rate; cpu_at[$who]=$per10k; fi
    done
    kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
done
echo
echo "highest rate with zero failed calls: sipkit ${best[sipkit]}/s (${cpu_at[sipkit]:-?} CPU s per 10k), sipp -sn uas ${best[sipp]}/s (${cpu_at[sipp]:-?} CPU s per 10k)"

# Memory: 10k, then MEM_COUNT OPTIONS transactions.
port=$(free_port)
start_responder sipkit "$port"
timeout 600 "$sipkit" send OPTIONS "sip:127.0.0.1:$port" --count 10000 --concurrency 64 \
    --timeout 300s >"$out/mem-10k.log" 2>&1 || true
sleep 35
rss10k=$(rss_kib "$pid")
timeout 3000 "$sipkit" send OPTIONS "sip:127.0.0.1:$port" --count $((mem_count - 10000)) \
    --concurrency 64 --timeout 2900s >"$out/mem-1m.log" 2>&1 || true
sleep 35
rss1m=$(rss_kib "$pid")
kill "$pid" 2>/dev/null || true
echo "VmRSS after 10,000 transactions: ${rss10k} KiB; after ${mem_count}: ${rss1m} KiB"
