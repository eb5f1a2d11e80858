#!/usr/bin/env bash
# Uploads: a 100 MiB and a 2 GiB video, each PUT to a fresh stream server (local disk),
# printing throughput and the server's peak RSS (VmHWM), which must stay flat: the body
# streams to disk in constant memory.
#   SIZES_MIB="100 2048" bench/upload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/reel-target}"
sizes=${SIZES_MIB:-100 2048}

cargo build --release --locked -q -p reel-stream --example stream_server
server="$CARGO_TARGET_DIR/release/examples/stream_server"
tmp=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

echo "PUT uploads to a fresh local-disk stream server; peak RSS from /proc/PID/status VmHWM"
for mib in $sizes; do
    file="$tmp/upload-$mib.mp4"
    # An MP4 `ftyp` box, then an `mdat` box (its size 0: to the end of the file) of
    # random bytes.
    { printf '\0\0\0\030ftypisom\0\0\002\0isomiso2\0\0\0\0mdat'; head -c $((mib * 1024 * 1024 - 32)) /dev/urandom; } >"$file"
    rm -rf "$tmp/data"
    port=$(free_port)
    RUST_LOG=warn "$server" "$tmp/data" "127.0.0.1:$port" >/dev/null &
    pid=$!
    vid=$(cat /proc/sys/kernel/random/uuid)
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/videos/$vid" && break
        sleep 0.1
    done
    idle=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    token=$("$server" "$tmp/data" token "$vid")
    result=$(curl -sS -o "$tmp/answer" -w '%{http_code} %{time_total}' -T "$file" \
        "http://127.0.0.1:$port/upload/$vid?token=$token")
    read -r code secs <<<"$result"
    [ "$code" = 201 ] || { echo "upload answered $code: $(cat "$tmp/answer")" >&2; exit 1; }
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    stored=$(stat -c %s "$tmp/data/storage/videos/$vid/original")
    [ "$stored" = "$(stat -c %s "$file")" ] || { echo "stored $stored bytes" >&2; exit 1; }
    python3 - "$mib" "$secs" "$idle" "$peak" <<'PY'
import sys
mib, secs, idle, peak = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"{mib:5d} MiB: {secs:6.2f} s, {mib / secs:7.1f} MiB/s; server peak RSS "
      f"{peak / 1024:5.1f} MiB (idle {idle / 1024:.1f} MiB; goal <= 64 MiB)")
PY
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    rm -f "$file"
done
