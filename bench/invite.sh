#!/usr/bin/env bash
# Push one big file over MSRP with `sipkit invite` to `sipkit listen` on loopback and, in the
# same run, copy the same file over a plain loopback TCP connection; print the README table.
#
#   bench/invite.sh                  # 1 GiB
#   SIZE_MIB=256 bench/invite.sh
#   SIPKIT=/tmp/sipkit-old bench/invite.sh   # an already built binary (no cargo build)
#
# MSRP: listen (UDP for SIP, MSRP on a free TCP port, --save-dir target/bench-invite/saved: a
# file is written to a hidden partial file, SHA-256 and SHA-1 computed, then renamed) and
# invite --file (SHA-1 of the file for a=file-selector first, then the
# chunks, then the Success-Report). Throughput = file bytes / invite's own transfer time (first
# chunk to Success-Report); the whole-process wall time is printed too.
# Plain TCP: a python3 sender that reads the file in 1 MiB blocks and sendall()s them, and a
# python3 receiver that writes each recv_into() to a file in the same directory listen saves to
# (like `nc -l >out`; socat and nc are not installed on the project's machine), then answers one
# byte so the sender's clock stops when the copy is written. A second copy whose receiver drops
# the bytes is printed for reference.
# Peak memory: GNU time -f %M (max RSS) for invite; listen's VmHWM from /proc just before it
# exits (it runs until BYE, and we read /proc after the transfer event).
# Needs: cargo, python3, /usr/bin/time (GNU). Files and logs go to target/bench-invite/.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${SIZE_MIB:-1024}
out=target/bench-invite
mkdir -p "$out"
file=$out/payload.bin

if [ -n "${SIPKIT:-}" ]; then
    sipkit=$SIPKIT
else
    cargo build --release --bin sipkit >&2
    sipkit=$PWD/target/release/sipkit
fi

if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne $((size_mib * 1048576)) ]; then
    head -c $((size_mib * 1048576)) /dev/urandom >"$file"
fi
bytes=$(stat -c %s "$file")
cat "$file" >/dev/null # both runs start with the file in the page cache

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- MSRP: invite -> listen
sip_port=$(free_port)
msrp_port=$(free_port)
# listen declines file offers without a place to keep them; each run starts with an empty one.
rm -rf "$out/saved"
mkdir -p "$out/saved"
"$sipkit" listen --udp "127.0.0.1:$sip_port" --msrp "127.0.0.1:$msrp_port" --count 2 \
    --save-dir "$out/saved" \
    --timeout 600s --format json >"$out/listen.jsonl" 2>"$out/listen.err" &
listen=$!
trap 'kill "$listen" 2>/dev/null || true' EXIT
sleep 0.5
hwm_file=$out/listen.hwm
: >"$hwm_file"
# Sample listen's VmHWM while it runs (the last sample is taken before it exits).
(while kill -0 "$listen" 2>/dev/null; do
    grep VmHWM "/proc/$listen/status" 2>/dev/null | awk '{print $2}' >"$hwm_file.tmp" &&
        mv "$hwm_file.tmp" "$hwm_file"
    sleep 0.05
done) &
sampler=$!
start=$(date +%s.%N)
/usr/bin/time -f %M -o "$out/invite.rss" "$sipkit" invite "127.0.0.1:$sip_port" \
    --file "$file" --timeout 120s --format json -q >"$out/invite.jsonl" 2>"$out/invite.err" ||
    { cat "$out/invite.err" >&2; exit 1; }
end=$(date +%s.%N)
wait "$listen" || true
wait "$sampler" || true
trap - EXIT
msrp_secs=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "transfer":
        assert e["confirmed"], e
        print(e["seconds"])
' "$out/invite.jsonl")
wall=$(python3 -c "print($end - $start)")
invite_rss=$(cat "$out/invite.rss")
listen_rss=$(cat "$hwm_file")
got=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "msrp-message":
        print(e["size"])
' "$out/listen.jsonl")
[ "$got" = "$bytes" ] || { echo "listen received $got bytes, not $bytes" >&2; exit 1; }
saved=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "msrp-message" and e.get("sha1") == e.get("sha1_expected"):
        print(e["path"])
' "$out/listen.jsonl")
cmp -s "$file" "$saved" || { echo "listen saved no byte-exact copy (${saved:-none})" >&2; exit 1; }
rm -f "$saved" # the TCP copy below starts with the same free page cache

# --- plain TCP copy of the same file, python3 on both ends. First the receiver writes what it
# gets to a file in the directory listen saves to (what `nc -l >out` does): the honest peer.
# Then, for reference, a receiver that drops the bytes (the network path alone).
tcp_copy() { # $1: file to write, or "-" to drop the bytes; prints the sender's seconds
    local port
    port=$(free_port)
    python3 - "$port" "$1" >"$out/tcp-recv.txt" <<'PY' &
import os, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); buf = bytearray(1 << 20); view = memoryview(buf); n = 0
out = None if sys.argv[2] == "-" else open(sys.argv[2], "wb", buffering=0)
while True:
    k = c.recv_into(buf)
    if not k: break
    if out is not None:
        w = 0
        while w < k: w += out.write(view[w:k])
    n += k
if out is not None: out.close()
c.sendall(b"x") # the sender's clock stops once the data is written, as MSRP's at the report
print(n)
PY
    local recv=$!
    sleep 0.3
    python3 - "$port" "$file" <<'PY'
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t = time.monotonic()
with open(sys.argv[2], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b: break
        c.sendall(b)
c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
print(time.monotonic() - t)
PY
    wait "$recv"
    [ "$(cat "$out/tcp-recv.txt")" = "$bytes" ] || { echo "TCP copy incomplete" >&2; exit 1; }
}
mkdir -p "$out/saved"
tcp_secs=$(tcp_copy "$out/saved/tcp-copy.bin")
cmp -s "$file" "$out/saved/tcp-copy.bin" || { echo "TCP copy differs" >&2; exit 1; }
tcp_drop_secs=$(tcp_copy -)
rm -rf "$out/saved"

python3 - "$bytes" "$msrp_secs" "$wall" "$tcp_secs" "$tcp_drop_secs" "$invite_rss" "$listen_rss" <<'PY'
import sys
b, msrp, wall, tcp, drop, irss, lrss = sys.argv[1:]
b = int(b); msrp = float(msrp); wall = float(wall); tcp = float(tcp); drop = float(drop)
mb = lambda s: b / s / 1e6
print(f"| measure | sipkit invite → listen (MSRP) | plain TCP copy (python3) | ratio MSRP/TCP |")
print(f"|---|---:|---:|---:|")
print(f"| {b / 1048576:.0f} MiB, throughput (MB/s), both receivers write the file | {mb(msrp):,.0f} (transfer {msrp:.2f} s; whole process {wall:.2f} s, {mb(wall):,.0f} MB/s) | {mb(tcp):,.0f} ({tcp:.2f} s) | {mb(msrp) / mb(tcp):.2f} |")
print(f"| the same, TCP receiver drops the bytes (reference) | - | {mb(drop):,.0f} ({drop:.2f} s) | {mb(msrp) / mb(drop):.2f} |")
print(f"| peak RSS, sender | {int(irss) / 1024:.1f} MB (invite, GNU time %M) | - | - |")
print(f"| peak RSS, receiver | {int(lrss) / 1024:.1f} MB (listen, VmHWM) | - | - |")
PY
