#!/usr/bin/env bash
# `sipkit listen` as a responder under SIPp load, next to SIPp's own UAS, in one run.
#
#   bench/listen.sh
#   RATES="1000 2000 4000 6000 8000 10000" SECONDS_PER_RATE=5 MEM_COUNT=1000000 MEM_RATE=5000 bench/listen.sh
#
# For each responder (sipkit listen, sipp -sn uas) and each rate, `sipp -sn uac` places
# rate*SECONDS_PER_RATE calls (INVITE, ACK, BYE) over UDP on loopback (and against
# bench/listen-floor.c, a yardstick that only copies header lines, when cc is there); a rate passes when
# SIPp exits 0 (no failed call). CPU = utime+stime of the responder process (/proc/PID/stat)
# across that step, per 10,000 calls. Memory: a fresh listen answers 10,000 OPTIONS from
# SIPp (tests/fixtures/sipp/options-uac.xml) at MEM_RATE, then MEM_COUNT in all at the same
# rate; VmRSS/VmHWM are read after each, once the transactions have expired (Timer J, 32 s).
# Then the top rate again TOP_REPEAT times (default 3), sipkit and sipp alternating, each
# fresh, with the median ratio. Each step is bounded with `timeout`. MEM_COUNT=0 skips the
# memory step, RATES="" the rates, TOP_REPEAT=0 the repeats.
# Needs: cargo, sipp, python3. Logs go to target/bench-listen/.
set -euo pipefail
cd "$(dirname "$0")/.."

rates=${RATES-"1000 2000 4000 6000 8000 10000"}
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
# failed_calls CSV: SIPp's FailedCall(C) in the last row of its -trace_stat file.
failed_calls() {
    python3 - "$1" <<'PY' 2>/dev/null || echo "?"
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h = rows[0]; last = rows[-1]
print(last[h.index("FailedCall(C)")])
PY
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_responder NAME PORT: sets $pid
start_responder() {
    case $1 in
        sipkit) "$sipkit" listen --udp "127.0.0.1:$2" --msrp 127.0.0.1:0 --quiet \
                    --timeout 3600s >"$out/listen-$2.log" 2>&1 & ;;
        sipp)   sipp -sn uas -i 127.0.0.1 -p "$2" -nostdin -timeout 3600s \
                    >"$out/uas-$2.log" 2>&1 & ;;
        floor)  "$out/listen-floor" "$2" >"$out/floor-$2.log" 2>&1 & ;;
    esac
    pid=$!
    started+=("$pid")
    sleep 0.5
}

# uac_step RATE NAME: SIPp's UAC places RATE*secs calls against the responder on $port ($pid);
# sets calls, status (SIPp's exit), failed, per10k (the responder's CPU s per 10k calls) and
# achieved. Logs go to $out/NAME.{csv,log}.
uac_step() {
    calls=$(($1 * secs))
    local before after t0 t1
    before=$(cpu_ticks "$pid")
    t0=$(date +%s%N)
    status=0
    timeout $((secs * 4 + 60)) sipp -sn uac "127.0.0.1:$port" -r "$1" -m "$calls" \
        -l $(($1 * 2)) -timeout $((secs * 4 + 40))s -nostdin \
        -trace_stat -stf "$out/$2.csv" >"$out/$2.log" 2>&1 || status=$?
    after=$(cpu_ticks "$pid")
    t1=$(date +%s%N)
    failed=$(failed_calls "$out/$2.csv")
    per10k=$(python3 -c "print(f'{($after-$before)/$hz/$calls*10000:.3f}')")
    # What SIPp managed: its last call starts at calls/rate s when it keeps up; a call lasts
    # about as long as its round trips, so calls over the run's length is a lower bound.
    achieved=$(python3 -c "print(round($calls / (($t1 - $t0) / 1e9)))")
}

# The yardstick: bench/listen-floor.c answers by copying five header lines, with no parsing
# and no transaction state; what it costs is the kernel's share, which every responder pays.
responders="sipkit sipp"
if command -v cc >/dev/null && cc -O2 -o "$out/listen-floor" bench/listen-floor.c; then
    responders="sipkit sipp floor"
fi

declare -A best cpu_at cpu_of got_of
ratio() { python3 -c "print(f'{$1/$2:.2f}')" 2>/dev/null || echo "?"; }
if [ -n "${rates// /}" ]; then
echo "| responder | rate asked (calls/s) | calls | achieved (calls/s) | failed | CPU s per 10k calls |"
echo "|---|---|---|---|---|---|"
for who in $responders; do
    port=$(free_port)
    start_responder "$who" "$port"
    best[$who]=0
    for rate in $rates; do
        uac_step "$rate" "uac-$who-$rate"
        echo "| $who | $rate | $calls | $achieved | $failed (sipp exit $status) | $per10k |"
        cpu_of[$who,$rate]=$per10k
        got_of[$who,$rate]="$achieved calls/s, $failed failed"
        if [ "$status" = 0 ]; then best[$who]=$rate; cpu_at[$who]=$per10k; fi
    done
    kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
done
echo
echo "| rate asked | sipkit CPU s/10k | sipp -sn uas CPU s/10k | sipkit / sipp | floor CPU s/10k | floor / sipp | sipkit run | sipp run |"
echo "|---|---|---|---|---|---|---|---|"
for rate in $rates; do
    echo "| $rate | ${cpu_of[sipkit,$rate]} | ${cpu_of[sipp,$rate]} |" \
        "$(ratio "${cpu_of[sipkit,$rate]}" "${cpu_of[sipp,$rate]}") |" \
        "${cpu_of[floor,$rate]:--} | $(ratio "${cpu_of[floor,$rate]:-x}" "${cpu_of[sipp,$rate]}") |" \
        "${got_of[sipkit,$rate]} | ${got_of[sipp,$rate]} |"
done
echo
echo "highest rate with zero failed calls: sipkit ${best[sipkit]}/s (${cpu_at[sipkit]:-?} CPU s per 10k), sipp -sn uas ${best[sipp]}/s (${cpu_at[sipp]:-?} CPU s per 10k)"
fi

# The top rate again, TOP_REPEAT times, each responder fresh (no transactions left over from
# lower rates) and the two alternating, so one slow moment of the machine does not decide the
# ratio. SIPp's UAS is overloaded there and its CPU per call moves with how far behind it falls;
# the median of the pairs is the figure to quote, the spread says how much to trust it.
top_repeat=${TOP_REPEAT:-3}
top=${rates##* }
if [ -n "$top" ] && [ "$top_repeat" -gt 0 ]; then
    echo
    echo "top rate $top calls/s asked, $top_repeat alternating pairs, fresh responders:"
    echo
    echo "| pair | sipkit: achieved, failed | sipkit CPU s/10k | sipp -sn uas: achieved, failed | sipp CPU s/10k | sipkit / sipp |"
    echo "|---|---|---|---|---|---|"
    ratios=()
    for i in $(seq 1 "$top_repeat"); do
        declare -A pair_cpu pair_run
        for who in sipkit sipp; do
            port=$(free_port)
            start_responder "$who" "$port"
            uac_step "$top" "top-$who-$i"
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            pair_cpu[$who]=$per10k
            pair_run[$who]="$achieved, $failed (exit $status)"
        done
        r=$(ratio "${pair_cpu[sipkit]}" "${pair_cpu[sipp]}")
        ratios+=("$r")
        echo "| $i | ${pair_run[sipkit]} | ${pair_cpu[sipkit]} | ${pair_run[sipp]} | ${pair_cpu[sipp]} | $r |"
    done
    echo
    echo "median sipkit / sipp at $top calls/s: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}') (pairs: ${ratios[*]})"
fi

[ "$mem_count" = 0 ] && exit 0

# Memory: a fresh listen answers 10,000 OPTIONS transactions from SIPp at MEM_RATE, then
# MEM_COUNT in all at the same rate; VmRSS and VmHWM are read after each, 35 s later, once the
# transactions have expired (Timer J, 64*T1 = 32 s).
mem_rate=${MEM_RATE:-5000}
options=tests/fixtures/sipp/options-uac.xml
port=$(free_port)
start_responder sipkit "$port"
mem_status() { awk '/^Vm(RSS|HWM)/ {printf "%s %s KiB  ", $1, $2}' "/proc/$pid/status"; }
# options_run COUNT LOG: COUNT OPTIONS at mem_rate; prints SIPp's failed-call count.
options_run() {
    local limit=$(($1 / mem_rate + 120))
    timeout "$limit" sipp -sf "$options" "127.0.0.1:$port" -r "$mem_rate" -m "$1" \
        -l $((mem_rate * 2)) -timeout "$((limit - 20))s" -nostdin \
        -trace_stat -stf "$out/$2.csv" >"$out/$2.log" 2>&1 || true
    failed_calls "$out/$2.csv"
}
failed10k=$(options_run 10000 mem-10k)
sleep 35
after10k=$(mem_status)
failed_rest=$(options_run $((mem_count - 10000)) mem-rest)
sleep 35
after_all=$(mem_status)
kill "$pid" 2>/dev/null || true
echo
echo "memory, OPTIONS at ${mem_rate}/s (failed: $failed10k, then $failed_rest):"
echo "  after 10,000 transactions: $after10k"
echo "  after ${mem_count}: $after_all"
