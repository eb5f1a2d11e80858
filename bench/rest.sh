#!/usr/bin/env bash
# Start-up and memory at rest of `reel serve` on an existing data dir (SQLite): 100 users
# with 2 sessions each and 300 videos, made through the API by a first run. Then reel is
# started STARTS times on it, each timed from the spawn to the first 200 of /readyz (the
# median counts, all are printed), and its RSS is read after 5 s at rest, then again after
# it served the home page, a user's page, listings, a video, comments and a log-in, and
# rested 5 s more.
# Goals: /readyz <= 150 ms after start; RSS at rest <= 20 MiB (both readings).
#   STARTS=5 bench/rest.sh
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
starts=${STARTS:-5}

build_reel
data="$BENCH_TMP/data"
# 200 log-ins and registrations from one address: the limit on them is not measured here.
start_reel "$data" --auth-attempts-per-minute 1000000
log "filling the data dir: 100 users, 200 sessions, 300 videos"
fill_user() {
    local name="user$1" sid
    sid=$(register "$name")
    curl -sf -o /dev/null -X POST "$REEL_URL/api/user/$name" -H 'content-type: application/json' \
        -d '{"pwd":"a long bench password"}'
    for v in 1 2 3; do create_video "$sid" "$name" "Video $v of $name" >/dev/null; done
    echo "$name $sid"
}
fillers=()
for i in $(seq 1 100); do
    fill_user "$i" >>"$BENCH_TMP/users" &
    fillers+=($!)
    if [ ${#fillers[@]} = 4 ]; then wait "${fillers[@]}"; fillers=(); fi
done
[ "$(wc -l <"$BENCH_TMP/users")" = 100 ] || die "could not fill the data dir"
read -r name sid < <(head -1 "$BENCH_TMP/users")
read -r vid _ <<<"$(create_video "$sid" "$name" "Watched")"
stop_pid "$REEL_PID"

readyz_ms=()
for n in $(seq 1 "$starts"); do
    port=$(free_port)
    began=$(now_ms)
    "$REEL_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" >>"$BENCH_TMP/reel.log" 2>&1 &
    REEL_PID=$!
    BENCH_PIDS+=("$REEL_PID")
    until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do
        [ $(($(now_ms) - began)) -lt 30000 ] || die "no /readyz within 30 s"
    done
    readyz_ms+=($(($(now_ms) - began)))
    [ "$n" = "$starts" ] || stop_pid "$REEL_PID"
done
REEL_URL="http://127.0.0.1:$port"
sleep 5
idle=$(tree_rss_kib "$REEL_PID")
for path in / "/u/$name" /api/videos "/api/user/$name/videos/$vid" "/api/videos/$vid/comments"; do
    curl -sf -o /dev/null "$REEL_URL$path" -H "X-Session-Id: $sid" || die "GET $path failed"
done
curl -sf -o /dev/null -X POST "$REEL_URL/api/user/$name" -H 'content-type: application/json' \
    -d '{"pwd":"a long bench password"}' || die "log-in failed"
sleep 5
used=$(tree_rss_kib "$REEL_PID")

median=$(python3 -c "import statistics, sys; print(statistics.median(map(int, sys.argv[1:])))" "${readyz_ms[@]}")
echo "/readyz after start, $starts starts on a data dir of 100 users, 200 sessions, 301 videos: ${readyz_ms[*]} ms"
echo "RSS at rest: $(calc "round($idle / 1024, 1)") MiB after start, $(calc "round($used / 1024, 1)") MiB after serving pages and a log-in"
goal "/readyz after start (median)" "$median" '<=' 150 ' ms'
goal "RSS at rest after start" "$(calc "round($idle / 1024, 1)")" '<=' 20 ' MiB'
goal "RSS at rest after use" "$(calc "round($used / 1024, 1)")" '<=' 20 ' MiB'
finish
