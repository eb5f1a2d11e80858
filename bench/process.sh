#!/usr/bin/env bash
# Time to watch: a 60 s 720p H.264/AAC MP4 (browsers play it as it is; moov at the end,
# as cameras and most tools write it) and a 60 s 720p VP9/Opus WebM, each PUT into
# `reel serve`, timed from the end of the upload until the API says `ready` and the stream
# server answers a GET of the video as video/mp4 (what every browser plays), and then
# until the API says it is `processed` (HLS ladder and poster made). For reference the
# same ffmpeg/ffprobe commands reel runs are timed bare (written out by reel's
# process_bench example): those that make it playable, and all of them.
# Goals: MP4 playable <= 1 s after its upload; WebM <= 15 s (0.25x its duration).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

need ffmpeg
build_reel
cargo build --release --locked -q -p reel-scheduler --example process_bench
process_bench="$CARGO_TARGET_DIR/release/examples/process_bench"
log "making the clips"
make_clip "$BENCH_TMP/clip.mp4" 60 -c:v libx264 -preset veryfast -b:v 4M -pix_fmt yuv420p -c:a aac
make_clip "$BENCH_TMP/clip.webm" 60 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 \
    -b:v 2M -c:a libopus

start_reel "$BENCH_TMP/data"
sid=$(register bench)

# playable_after CLIP: seconds from the upload's end to ready and served as video/mp4,
# then to processed.
playable_after() {
    local vid upload done_ms type answer playable=300 processed=300
    read -r vid upload <<<"$(create_video "$sid" bench "$(basename "$1")")"
    upload_put "$1" "$upload"
    done_ms=$(now_ms)
    while [ $(($(now_ms) - done_ms)) -lt 300000 ]; do
        answer=$(curl -sf "$REEL_URL/api/user/bench/videos/$vid" -H "X-Session-Id: $sid")
        if [ "$(json_get status <<<"$answer")" = ready ]; then
            if [ "$playable" = 300 ]; then
                type=$(curl -s -o /dev/null -r 0-0 -w '%{content_type}' "$REEL_URL/videos/$vid")
                [ "$type" = video/mp4 ] && playable=$(calc "round(($(now_ms) - $done_ms) / 1000, 2)")
            fi
            if [ "$(json_get processed <<<"$answer")" = True ]; then
                processed=$(calc "round(($(now_ms) - $done_ms) / 1000, 2)")
                break
            fi
        fi
        sleep 0.05
    done
    echo "$playable $processed"
}

# bare CLIP: seconds the commands reel runs for CLIP take bare, until it plays and in
# all, and the commands.
bare() {
    local work began first
    work="$BENCH_TMP/bare-$(basename "$1")"
    mkdir -p "$work"
    "$process_bench" "$1" "$work" >/dev/null
    began=$(now_ms)
    bash "$work/bare-first.sh"
    first=$(calc "round(($(now_ms) - $began) / 1000, 2)")
    began=$(now_ms)
    bash "$work/bare.sh"
    echo "$first $(calc "round(($(now_ms) - $began) / 1000, 2)")"
    grep -E '^ff' "$work/bare.sh" | cut -c1-200 | sed 's/^/    /' >&2
}

echo "60 s 1280x720 clips; $(machine)"
read -r mp4 mp4_all <<<"$(playable_after "$BENCH_TMP/clip.mp4")"
read -r webm webm_all <<<"$(playable_after "$BENCH_TMP/clip.webm")"
began=$(now_ms)
ffmpeg -nostdin -loglevel error -y -i "$BENCH_TMP/clip.mp4" -c copy -movflags +faststart \
    "$BENCH_TMP/faststart.mp4"
remux=$(calc "round(($(now_ms) - $began) / 1000, 2)")
log "bare commands reel runs for the MP4:"
read -r mp4_first mp4_bare <<<"$(bare "$BENCH_TMP/clip.mp4")"
log "bare commands reel runs for the WebM:"
read -r webm_first webm_bare <<<"$(bare "$BENCH_TMP/clip.webm")"
echo "H.264/AAC MP4: playable ${mp4} s after upload, processed ${mp4_all} s;" \
    "bare: faststart remux ${remux} s, reel's commands until playable ${mp4_first} s, all ${mp4_bare} s"
echo "VP9/Opus WebM: playable ${webm} s after upload, processed ${webm_all} s;" \
    "bare: reel's commands until playable ${webm_first} s, all ${webm_bare} s"
goal "MP4 time to watch" "$mp4" '<=' 1.0 ' s'
goal "WebM time to watch" "$webm" '<=' 15 ' s'
finish
