#!/usr/bin/env bash
# Viewers: 5,000 viewers of one uploaded video, each from its own loopback address,
# reading 16 KiB a second for 45 s, while a probe times 256 KiB ranges (bench/viewers.py).
# `reel serve` runs with --max-connections raised for them; nginx (sendfile on, one
# worker) takes the same load for reference. Goals for reel: 0 errors, probe p99 <= 500
# ms, RSS growth <= 40 KiB per viewer.
#   VIEWERS=5000 WATCH_SECONDS=45 bench/viewers.sh
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
viewers=${VIEWERS:-5000}
seconds=${WATCH_SECONDS:-45}

need nginx ffmpeg
python_env
build_reel
data="$BENCH_TMP/data"
REEL_MAX_CONNECTIONS=$((viewers + 100)) start_reel "$data"
sid=$(register bench)
log "making and uploading a 60 s 720p H.264/AAC clip"
make_clip "$BENCH_TMP/clip.mp4" 60 -c:v libx264 -preset veryfast -b:v 4M -c:a aac
read -r vid upload <<<"$(create_video "$sid" bench "Popular")"
upload_put "$BENCH_TMP/clip.mp4" "$upload"
wait_ready "$sid" bench "$vid" 300
file=$(served_file "$data" "$vid")
size=$(stat -c %s "$file")
cat "$file" >/dev/null

# run NAME PID PORT PATH FIGURES: the load against one server; prints the summary with
# its RSS and writes "errors probe-p99-ms KiB-per-viewer" to FIGURES.
run() {
    local name=$1 pid=$2 port=$3 path=$4 before summary peak
    curl -sf -o /dev/null -r 0-1048575 "http://127.0.0.1:$port$path"
    sleep 1
    before=$(tree_rss_kib "$pid")
    watch_rss "$pid"
    summary=$("$BENCH_PY" "$BENCH_DIR/viewers.py" 127.0.0.1 "$port" "$path" "$size" \
        --viewers "$viewers" --seconds "$seconds")
    peak=$(peak_rss)
    python3 - "$name" "$summary" "$before" "$peak" "$5" <<'PY'
import json, sys
name, s, before, peak = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
per = (peak - before) / s["viewers"]
print(f"{name}: {s['viewers']} viewers, errors {s['errors']} {s['error_kinds'] or ''}, "
      f"late seconds {s['late_seconds']}; probe p50 {s['probe_p50_ms']} ms, "
      f"p99 {s['probe_p99_ms']} ms over {s['probes']} probes; RSS {before / 1024:.0f} -> "
      f"{peak / 1024:.0f} MiB, {per:.1f} KiB per viewer")
with open(sys.argv[5], "w") as figures:
    print(s["errors"], s["probe_p99_ms"], f"{per:.1f}", file=figures)
PY
}

echo "$viewers viewers at 16 KiB/s for ${seconds}s of a $(calc "round($size / 2**20, 1)") MiB video; $(machine)"
run "reel serve" "$REEL_PID" "${REEL_URL##*:}" "/videos/$vid" "$BENCH_TMP/reel-figures"
read -r errors p99 per_viewer <"$BENCH_TMP/reel-figures"
stop_pid "$REEL_PID"

port=$(free_port)
start_nginx "$(nginx_conf "$port" 1 on "location /videos/ { alias $data/storage/videos/; }")" "$port"
run "nginx (sendfile on, 1 worker)" "$NGINX_PID" "$port" "/videos/$vid/${file##*/}" "$BENCH_TMP/nginx-figures"

goal "reel viewers' errors" "$errors" '==' 0
goal "reel probe p99" "$p99" '<=' 500 ' ms'
goal "reel RSS growth per viewer" "$per_viewer" '<=' 40 ' KiB'
finish
