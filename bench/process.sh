#!/usr/bin/env bash
# Processing: a generated 60-second 1280x720 VP9/Opus WebM (the transcoding path: an
# H.264/AAC MP4 with faststart, a 360p+720p HLS ladder, a poster) through reel's
# scheduler, from queued to ready, against the very same ffmpeg/ffprobe commands run
# bare. The two alternate in one run; the best of each is compared. Goal: ratio <= 1.1.
#   ROUNDS=2 bench/process.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/reel-target}"
rounds=${ROUNDS:-2}

if ! command -v ffmpeg >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
fi
cargo build --release --locked -q -p reel-scheduler --example process_bench
bench="$CARGO_TARGET_DIR/release/examples/process_bench"
tmp=$(mktemp -d /var/tmp/reel-process-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

clip="$tmp/clip.webm"
ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=1280x720:rate=30:duration=60 \
    -f lavfi -i sine=frequency=440:duration=60 \
    -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -b:v 2M -c:a libopus "$clip"
echo "clip: 60 s 1280x720 30 fps VP9/Opus WebM, $(($(stat -c %s "$clip") / 1024 / 1024)) MiB; $(nproc) cores"

ms() { echo $(($(date +%s%N) / 1000000)); }
best_reel=""
best_bare=""
for round in $(seq 1 "$rounds"); do
    rm -rf "$tmp/work"
    mkdir -p "$tmp/work"
    reel_ms=$("$bench" "$clip" "$tmp/work" | sed -n 's/^reel_ms=//p')
    start=$(ms)
    bash "$tmp/work/bare.sh"
    bare_ms=$(($(ms) - start))
    echo "round $round: through reel ${reel_ms} ms, bare ffmpeg ${bare_ms} ms"
    if [ -z "$best_reel" ] || [ "$reel_ms" -lt "$best_reel" ]; then best_reel=$reel_ms; fi
    if [ -z "$best_bare" ] || [ "$bare_ms" -lt "$best_bare" ]; then best_bare=$bare_ms; fi
done
echo "the commands reel ran, bare:"
grep -E '^ff' "$tmp/work/bare.sh" | cut -c1-160 | sed 's/^/  /'
awk -v r="$best_reel" -v b="$best_bare" 'BEGIN {
    printf "bare ffmpeg:  %.2f s\nthrough reel: %.2f s\nratio: %.3f (goal <= 1.1)\n", b / 1000, r / 1000, r / b
}'
