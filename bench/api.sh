#!/usr/bin/env bash
# The API's listing endpoint, GET /api/user/NAME/videos?limit=20 on a warm `reel serve`
# (SQLite, 20 ready videos), against nginx serving the same JSON as a static file; the two
# alternate in one run so both see the same machine. Prints requests/s and the ratio.
#   ROUNDS=3 DURATION=5 CONNECTIONS=64 bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/reel-target}"
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-64}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked -q -p reel
reel="$CARGO_TARGET_DIR/release/reel"
tmp=$(mktemp -d)
chmod 755 "$tmp" # nginx workers run as an unprivileged user
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
reel_port=$(free_port)
nginx_port=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# LISTING_CACHE_TTL=0s measures the database path alone.
REEL_LISTING_CACHE_TTL=${LISTING_CACHE_TTL:-1s} REEL_LOG=warn "$reel" serve --listen "127.0.0.1:$reel_port" --data-dir "$tmp/data" &
pids+=($!)
base="http://127.0.0.1:$reel_port"
for _ in $(seq 1 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

sid=$(curl -sf -X POST "$base/api/user" -H 'content-type: application/json' \
    -d '{"user_name":"bench","pwd":"bench password"}' | sed 's/.*"session_id":"\([0-9a-f]*\)".*/\1/')
for i in $(seq 1 20); do
    curl -sf -X POST "$base/api/user/bench/videos" -H "X-Session-Id: $sid" \
        -H 'content-type: application/json' -d "{\"name\":\"Video number $i\"}" >/dev/null
done
# As the scheduler would once each upload is playable.
python3 - "$tmp/data/reel.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE video_info SET status = 'ready', size = 1048576, duration_ms = 61000, width = 1280, height = 720")
db.commit()
PY
path="/api/user/bench/videos?limit=20"
mkdir -p "$tmp/www/api/user/bench"
curl -sf "$base$path" > "$tmp/www/videos.json"
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["videos"]))' "$tmp/www/videos.json")
[ "$count" = 20 ] || { echo "expected 20 videos in the listing, got $count" >&2; exit 1; }

cat > "$tmp/nginx.conf" <<NGINX
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { root $tmp/www; try_files /videos.json =404; }
    }
}
NGINX
"$nginx_bin" -c "$tmp/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$nginx_port$path" >/dev/null && break; sleep 0.1; done
cmp <(curl -sf "http://127.0.0.1:$nginx_port$path") "$tmp/www/videos.json"

rps() { wrk -t2 -c"$connections" -d"${duration}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
# Warm both.
rps "$base$path" >/dev/null
rps "http://127.0.0.1:$nginx_port$path" >/dev/null
reel_total=0; nginx_total=0
for r in $(seq 1 "$rounds"); do
    a=$(rps "$base$path"); b=$(rps "http://127.0.0.1:$nginx_port$path")
    printf 'round %d: reel %10.0f req/s   nginx %10.0f req/s\n' "$r" "$a" "$b"
    reel_total=$(python3 -c "print($reel_total + $a)"); nginx_total=$(python3 -c "print($nginx_total + $b)")
done
python3 - "$reel_total" "$nginx_total" "$rounds" "$(wc -c < "$tmp/www/videos.json")" <<'PY'
import sys
reel, nginx, rounds, size = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"listing of 20 videos ({size} bytes): reel {reel/rounds:.0f} req/s, nginx {nginx/rounds:.0f} req/s")
print(f"ratio reel/nginx: {reel/nginx:.2f} (goal: at least 0.50)")
PY
