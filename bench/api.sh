#!/usr/bin/env bash
# The API's request path against nginx serving static files, in one run:
#  - the watch page's two reads: GET /api/user/NAME/videos/VID and GET
#    /api/videos/VID/comments, alternating, with a viewer's X-Session-Id, on SQLite (the
#    default) and on PostgreSQL (a fresh database, dropped at exit), against nginx serving
#    a small static file (the same video's JSON); with the default settings (records and
#    first comment pages kept for the listing cache's TTL), and uncached (a second
#    `reel serve` on the same data with --listing-cache-ttl 0s), for the record;
#  - the home listing path as a stranger sees it (1 s listing cache, the default):
#    GET /api/user/NAME/videos?limit=20, against nginx serving the same JSON.
# nginx runs with 1 worker and with one per core; the faster counts. Goal: >= 0.5 each.
#   ROUNDS=3 DURATION=5 CONNECTIONS=64 bench/api.sh
# shellcheck disable=SC2154 # URL_*, UNCACHED_*, VID_* and SID_* are set by site() with printf -v
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-64}
pg_server=${PG_URL:-postgres://postgres@127.0.0.1:5432}

need wrk nginx ffmpeg createdb
build_reel
make_clip "$BENCH_TMP/clip.mp4" 2 -vf scale=320:180 -c:v libx264 -preset veryfast -c:a aac \
    -movflags +faststart

# site NAME [ARGS...]: a `reel serve` with 20 ready videos of one author and 20 comments
# on the first, read by another user; sets URL_NAME, VID_NAME, SID_NAME.
site() {
    local name=$1 sid viewer vid upload vids=()
    shift
    start_reel "$BENCH_TMP/data-$name" "$@"
    sid=$(register bench)
    viewer=$(register viewer)
    for i in $(seq 1 20); do
        read -r vid upload <<<"$(create_video "$sid" bench "Video number $i")"
        upload_put "$BENCH_TMP/clip.mp4" "$upload"
        vids+=("$vid")
    done
    for vid in "${vids[@]}"; do wait_ready "$sid" bench "$vid" 120; done
    local first=${vids[0]}
    for i in $(seq 1 20); do
        curl -sf -o /dev/null -X POST "$REEL_URL/api/videos/$first/comments" -H "X-Session-Id: $viewer" \
            -H 'content-type: application/json' -d "{\"content\":\"Comment number $i\"}"
    done
    printf -v "URL_$name" %s "$REEL_URL"
    printf -v "VID_$name" %s "$first"
    printf -v "SID_$name" %s "$viewer"
    # The same site read without the caches.
    start_reel "$BENCH_TMP/data-$name" "$@" --listing-cache-ttl 0s
    printf -v "UNCACHED_$name" %s "$REEL_URL"
}

db="reel_bench_$(date +%s)_$$"
createdb -h 127.0.0.1 -U postgres "$db"
BENCH_ON_EXIT+=("dropdb -h 127.0.0.1 -U postgres --if-exists $db")
site sqlite
site postgres --database-url "$pg_server/$db"

www="$BENCH_TMP/www"
mkdir -p "$www"
curl -sf "$URL_sqlite/api/user/bench/videos/$VID_sqlite" -H "X-Session-Id: $SID_sqlite" >"$www/small.json"
curl -sf "$URL_sqlite/api/user/bench/videos?limit=20" >"$www/listing.json"
count=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["videos"]))' "$www/listing.json")
[ "$count" = 20 ] || die "expected 20 videos in the listing, got $count"
one_port=$(free_port)
auto_port=$(free_port)
start_nginx "$(nginx_conf "$one_port" 1 on "root $www;")" "$one_port"
start_nginx "$(nginx_conf "$auto_port" auto on "root $www;")" "$auto_port"

cat >"$BENCH_TMP/watch.lua" <<'LUA'
local reads, n = {}, 0
function init(args)
    local headers = { ["X-Session-Id"] = args[2] }
    reads[1] = wrk.format("GET", "/api/user/bench/videos/" .. args[1], headers)
    reads[2] = wrk.format("GET", "/api/videos/" .. args[1] .. "/comments", headers)
end
function request()
    n = n + 1
    return reads[n % 2 + 1]
end
LUA
cat >"$BENCH_TMP/path.lua" <<'LUA'
local path
function init(args) path = args[1] end
function request() return wrk.format("GET", path) end
LUA

declare -A total=()
tests=(
    "reel-sqlite-watch $URL_sqlite watch.lua $VID_sqlite $SID_sqlite"
    "reel-postgres-watch $URL_postgres watch.lua $VID_postgres $SID_postgres"
    "reel-sqlite-uncached $UNCACHED_sqlite watch.lua $VID_sqlite $SID_sqlite"
    "reel-postgres-uncached $UNCACHED_postgres watch.lua $VID_postgres $SID_postgres"
    "reel-listing $URL_sqlite path.lua /api/user/bench/videos?limit=20"
    "nginx-1-small http://127.0.0.1:$one_port path.lua /small.json"
    "nginx-auto-small http://127.0.0.1:$auto_port path.lua /small.json"
    "nginx-1-listing http://127.0.0.1:$one_port path.lua /listing.json"
    "nginx-auto-listing http://127.0.0.1:$auto_port path.lua /listing.json"
)
for t in "${tests[@]}"; do
    read -r name url lua args <<<"$t"
    # shellcheck disable=SC2086 # the Lua arguments are words
    wrk_run "$url" 2 "$connections" "$BENCH_TMP/$lua" $args >/dev/null
done
echo "$connections connections, ${duration}s x $rounds rounds; $(machine)"
for round in $(seq 1 "$rounds"); do
    for t in "${tests[@]}"; do
        read -r name url lua args <<<"$t"
        # shellcheck disable=SC2086
        rps=$(wrk_run "$url" "$duration" "$connections" "$BENCH_TMP/$lua" $args)
        total[$name]=$(calc "${total[$name]:-0} + $rps")
        printf 'round %d: %-20s %8.0f req/s\n' "$round" "$name" "$rps"
    done
done
mean() { calc "${total[$1]} / $rounds"; }
small=$(calc "max($(mean nginx-1-small), $(mean nginx-auto-small))")
listing=$(calc "max($(mean nginx-1-listing), $(mean nginx-auto-listing))")
printf 'nginx small file %.0f req/s, listing file %.0f req/s (best of 1 worker and auto)\n' "$small" "$listing"
for name in reel-sqlite-watch reel-postgres-watch; do
    printf '%s: %.0f req/s\n' "$name" "$(mean $name)"
    goal "$name / nginx small file" "$(calc "round($(mean $name) / $small, 2)")" '>=' 0.5
done
for name in reel-sqlite-uncached reel-postgres-uncached; do
    printf '%s (for the record): %.0f req/s, %.2f of nginx\n' "$name" "$(mean $name)" \
        "$(calc "$(mean $name) / $small")"
done
printf 'reel-listing (cached): %.0f req/s\n' "$(mean reel-listing)"
goal "reel cached listing / nginx" "$(calc "round($(mean reel-listing) / $listing, 2)")" '>=' 0.5
finish
