#!/usr/bin/env bash
# Playback throughput: `reel serve` against nginx serving the very files reel stored.
#  - random 1 MiB ranges of a ~240 MiB H.264 video uploaded through reel, 64 connections;
#  - whole HLS-sized pieces (400-700 KiB), many files, laid where reel keeps HLS renditions.
# nginx runs three times per round: `sendfile on; worker_processes 1`, `sendfile off;
# worker_processes auto`, and Debian's default `sendfile on; worker_processes auto`; the
# fastest counts. The servers alternate in one
# run so all see the same machine. Goal: reel / best nginx >= 1.0 on both.
#   ROUNDS=3 DURATION=10 CONNECTIONS=64 PIECES=1000 bench/stream.sh
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
rounds=${ROUNDS:-3}
duration=${DURATION:-10}
connections=${CONNECTIONS:-64}
pieces=${PIECES:-1000}

need wrk nginx ffmpeg
build_reel
data="$BENCH_TMP/data"
start_reel "$data"
sid=$(register bench)

# Incompressible frames make a 60 s clip of ~240 MiB at 32 Mbit/s.
clip="$BENCH_TMP/clip.mp4"
log "making a ~240 MiB H.264/AAC clip"
make_clip "$clip" 60 -vf noise=alls=40:allf=t -c:v libx264 -preset ultrafast -b:v 32M \
    -maxrate 32M -bufsize 64M -c:a aac -movflags +faststart
read -r vid upload <<<"$(create_video "$sid" bench "Ranges")"
upload_put "$clip" "$upload"
wait_ready "$sid" bench "$vid" 600
file=$(served_file "$data" "$vid")
size=$(stat -c %s "$file")
served=$(curl -sfI "$REEL_URL/videos/$vid" | awk 'tolower($1) == "content-length:" {print $2+0}')
[ "$served" = "$size" ] || die "reel serves $served bytes, $file has $size"

log "laying $pieces pieces of 400-700 KiB"
hls="$data/storage/videos/$vid/hls/bench"
mkdir -p "$hls"
head -c $((700 * 1024)) /dev/urandom >"$BENCH_TMP/piece"
for i in $(seq -f '%05g' 1 "$pieces"); do
    head -c $(((400 + RANDOM % 301) * 1024)) "$BENCH_TMP/piece" >"$hls/seg_$i.ts"
done
cat "$file" "$hls"/* >/dev/null

cat >"$BENCH_TMP/ranges.lua" <<'LUA'
local path, size
local chunk = 1024 * 1024
function init(args)
    path, size = args[1], tonumber(args[2])
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end
function request()
    local first = math.random(0, size - chunk)
    return wrk.format("GET", path, { Range = "bytes=" .. first .. "-" .. (first + chunk - 1) })
end
LUA
cat >"$BENCH_TMP/pieces.lua" <<'LUA'
local prefix, count
function init(args)
    prefix, count = args[1], tonumber(args[2])
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end
function request()
    return wrk.format("GET", string.format("%sseg_%05d.ts", prefix, math.random(1, count)))
end
LUA

# The same URLs work on every server: nginx maps /videos/ onto reel's storage.
storage="$data/storage/videos/"
on_port=$(free_port)
off_port=$(free_port)
auto_port=$(free_port)
location="location /videos/ { alias $storage; }"
start_nginx "$(nginx_conf "$on_port" 1 on "$location")" "$on_port"
start_nginx "$(nginx_conf "$off_port" auto off "$location")" "$off_port"
start_nginx "$(nginx_conf "$auto_port" auto on "$location")" "$auto_port"
nginx_path="/videos/$vid/${file##*/}"
for port in "$on_port" "$off_port" "$auto_port"; do
    cmp <(curl -sf -r 1000-2000 "http://127.0.0.1:$port$nginx_path") \
        <(curl -sf -r 1000-2000 "$REEL_URL/videos/$vid") || die "nginx serves other bytes"
done

declare -A total=()
# measure NAME URL PATH LUA ARG: one wrk run, added to NAME's total.
measure() {
    local rps
    rps=$(wrk_run "$2" "$duration" "$connections" "$4" "$3" "$5")
    total[$1]=$(calc "${total[$1]:-0} + $rps")
    printf ' %s %8.0f req/s' "$1" "$rps"
}
# compare TEST REEL_PATH NGINX_PATH LUA ARG
compare() {
    local test=$1 servers
    servers=("reel $REEL_URL $2" "nginx-sendfile-1 http://127.0.0.1:$on_port $3"
        "nginx-nosendfile-auto http://127.0.0.1:$off_port $3"
        "nginx-sendfile-auto http://127.0.0.1:$auto_port $3")
    echo "$test: $connections connections, ${duration}s x $rounds rounds"
    for server in "${servers[@]}"; do
        read -r _ url path <<<"$server"
        wrk_run "$url" 2 "$connections" "$4" "$path" "$5" >/dev/null # warm-up
    done
    total=()
    for round in $(seq 1 "$rounds"); do
        printf 'round %d:' "$round"
        for server in "${servers[@]}"; do
            read -r name url path <<<"$server"
            measure "$name" "$url" "$path" "$4" "$5"
        done
        echo
    done
    local reel on off auto best
    reel=$(calc "${total[reel]} / $rounds")
    on=$(calc "${total[nginx-sendfile-1]} / $rounds")
    off=$(calc "${total[nginx-nosendfile-auto]} / $rounds")
    auto=$(calc "${total[nginx-sendfile-auto]} / $rounds")
    best=$(calc "max($on, $off, $auto)")
    printf 'mean: reel %.0f req/s; nginx sendfile on/1 worker %.0f, off/auto %.0f, on/auto %.0f\n' \
        "$reel" "$on" "$off" "$auto"
    goal "$test reel / best nginx" "$(calc "round($reel / $best, 2)")" '>=' 1.0
}

echo "file: $(calc "round($size / 2**20, 1)") MiB ($(basename "$file")); $(machine)"
compare "random 1 MiB ranges" "/videos/$vid" "$nginx_path" "$BENCH_TMP/ranges.lua" "$size"
compare "HLS pieces ($pieces files of 400-700 KiB)" "/videos/$vid/hls/bench/" \
    "/videos/$vid/hls/bench/" "$BENCH_TMP/pieces.lua" "$pieces"
finish
