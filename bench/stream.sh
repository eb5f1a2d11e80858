#!/usr/bin/env bash
# Playback: random 1 MiB ranges of a 256 MiB video, 64 connections, wrk, against reel's
# stream server and against nginx serving the same file; the two alternate in one run so
# both see the same machine. Prints requests/s and MB/s of each and the ratio.
# nginx runs with sendfile off by default: on this kind of VM it is faster that way, so
# the comparison is with nginx at its best (NGINX_SENDFILE=on to try the other).
#   ROUNDS=3 DURATION=10 CONNECTIONS=64 bench/stream.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/reel-target}"
rounds=${ROUNDS:-3}
duration=${DURATION:-10}
connections=${CONNECTIONS:-64}
size=$((256 * 1024 * 1024))

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked -q -p reel-stream --example stream_server
server="$CARGO_TARGET_DIR/release/examples/stream_server"
tmp=$(mktemp -d)
chmod 755 "$tmp" # nginx workers run as an unprivileged user
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# The video: an MP4 `ftyp` box, then random bytes; stored where reel's local backend keeps
# an original, and read once so that both servers start from the page cache.
vid=$(cat /proc/sys/kernel/random/uuid)
dir="$tmp/data/storage/videos/$vid"
mkdir -p "$dir"
{ printf '\0\0\0\030ftypisom\0\0\002\0isomiso2'; head -c $((size - 24)) /dev/urandom; } >"$dir/original"
chmod -R a+rX "$tmp/data"
cat "$dir/original" >/dev/null

reel_port=$(free_port)
nginx_port=$(free_port)
RUST_LOG=warn "$server" "$tmp/data" "127.0.0.1:$reel_port" >/dev/null &
pids+=($!)

cat >"$tmp/nginx.conf" <<CONF
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile ${NGINX_SENDFILE:-off};
    tcp_nopush on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location /videos/ { alias $tmp/data/storage/videos/; types { video/mp4 original; } }
    }
}
CONF
"$nginx_bin" -c "$tmp/nginx.conf" -g 'daemon off;' &
pids+=($!)

cat >"$tmp/ranges.lua" <<'LUA'
local size = 256 * 1024 * 1024
local chunk = 1024 * 1024
local path
function init(args)
    path = args[1]
    math.randomseed(os.time() * 1000 + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
end
function request()
    local first = math.random(0, size - chunk)
    return wrk.format("GET", path, { Range = "bytes=" .. first .. "-" .. (first + chunk - 1) })
end
LUA

reel_url="http://127.0.0.1:$reel_port/videos/$vid"
nginx_url="http://127.0.0.1:$nginx_port/videos/$vid/original"
for _ in $(seq 1 100); do
    curl -sf -o /dev/null -r 0-0 "$reel_url" && curl -sf -o /dev/null -r 0-0 "$nginx_url" && break
    sleep 0.1
done
for url in "$reel_url" "$nginx_url"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -r 1000-1048575 "$url")
    [ "$code" = 206 ] || { echo "$url answered $code to a range request" >&2; exit 1; }
done

# One wrk run; prints "requests/s MB/s" and fails on any non-206 answer.
run() {
    local out
    out=$(wrk -t2 -c"$connections" -d"${duration}s" -s "$tmp/ranges.lua" "$1" -- "$2")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$out" >&2
        echo "non-2xx answers from $1" >&2
        exit 1
    fi
    local rps bytes
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    bytes=$(awk '/requests in/ {print $5}' <<<"$out")
    python3 - "$rps" "$bytes" "$duration" <<'PY'
import sys
rps, text, secs = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
unit = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}
num = text.rstrip("KMGTB")
mb = float(num) * unit[text[len(num):] or "B"] / 2**20 / secs
print(f"{rps:.1f} {mb:.1f}")
PY
}

echo "random 1 MiB ranges of a 256 MiB file, $connections connections, ${duration}s x $rounds rounds"
reel_total=0
nginx_total=0
for round in $(seq 1 "$rounds"); do
    read -r r_rps r_mb < <(run "http://127.0.0.1:$reel_port" "/videos/$vid")
    read -r n_rps n_mb < <(run "http://127.0.0.1:$nginx_port" "/videos/$vid/original")
    printf 'round %d: reel %8.1f req/s %8.1f MB/s | nginx %8.1f req/s %8.1f MB/s\n' \
        "$round" "$r_rps" "$r_mb" "$n_rps" "$n_mb"
    reel_total=$(python3 -c "print($reel_total + $r_rps)")
    nginx_total=$(python3 -c "print($nginx_total + $n_rps)")
done
python3 - "$reel_total" "$nginx_total" "$rounds" <<'PY'
import sys
reel, nginx, rounds = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"mean: reel {reel / rounds:.1f} req/s, nginx {nginx / rounds:.1f} req/s, "
      f"ratio reel/nginx = {reel / nginx:.2f} (goal >= 0.90)")
PY
