# shellcheck shell=bash
# Shared by the scripts in bench/: installing what they need, building and starting
# `reel serve`, driving its API, starting nginx, measuring memory, judging goals.
# Sourcing it enters the repository root, makes a scratch dir under /var/tmp (the disk
# reel stores on) and arranges for every server started through it to be stopped and
# the scratch dir removed on exit.

set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$BENCH_DIR/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/reel-target}"
BENCH_VENV=${BENCH_VENV:-/var/tmp/reel-bench-venv}
BENCH_TMP=$(mktemp -d /var/tmp/reel-bench.XXXXXX)
chmod 755 "$BENCH_TMP"
BENCH_PIDS=()
BENCH_ON_EXIT=()
BENCH_FAILED=0
# Load generators hold thousands of sockets.
ulimit -n "$(ulimit -Hn)"

bench_cleanup() {
    local pid hook
    for pid in "${BENCH_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${BENCH_PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    for hook in "${BENCH_ON_EXIT[@]}"; do eval "$hook" || true; done
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# need COMMAND... installs the Debian package of each missing command.
need() {
    local cmd pkgs=()
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] && continue
        case $cmd in
            nginx) pkgs+=(nginx-light) ;;
            psql | createdb | dropdb) pkgs+=(postgresql-client) ;;
            *) pkgs+=("$cmd") ;;
        esac
    done
    [ ${#pkgs[@]} -eq 0 ] && return 0
    log "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${pkgs[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq "${pkgs[@]}" >/dev/null; }
}

# python_env: a venv with uvloop for the Python load generators; sets BENCH_PY.
python_env() {
    if ! "$BENCH_VENV/bin/python" -c 'import uvloop' 2>/dev/null; then
        log "creating $BENCH_VENV"
        python3 -m venv "$BENCH_VENV"
        "$BENCH_VENV/bin/pip" install -q uvloop
    fi
    # shellcheck disable=SC2034 # used by the scripts
    BENCH_PY="$BENCH_VENV/bin/python"
}

# build_reel: the release binary users run; sets REEL_BIN.
build_reel() {
    # REEL_BIN=path measures that binary instead (figures of a debug build are not comparable).
    if [ -n "${REEL_BIN:-}" ]; then
        log "using $REEL_BIN"
        return
    fi
    log "building reel (release)"
    cargo build --release --locked -q -p reel
    REEL_BIN="$CARGO_TARGET_DIR/release/reel"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# machine: what the figures were measured on; other work on the machine shows in the load.
machine() { echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_http URL SECONDS: until URL answers 2xx.
wait_http() {
    local deadline=$(($(now_ms) + $2 * 1000))
    until curl -sf -o /dev/null --max-time 2 "$1"; do
        [ "$(now_ms)" -lt "$deadline" ] || die "$1 did not answer within $2 s"
        sleep 0.05
    done
}

# start_reel DATA_DIR [ARGS...]: `reel serve` on a free port with default settings (and
# default logging, to a file) plus ARGS; REEL_SOFT_NOFILE, when set, is its open-files
# soft limit. Sets REEL_PID, REEL_URL and waits for /readyz.
start_reel() {
    local data=$1
    shift
    local port
    port=$(free_port)
    (
        [ -n "${REEL_SOFT_NOFILE:-}" ] && ulimit -Sn "$REEL_SOFT_NOFILE"
        exec "$REEL_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" "$@"
    ) >>"$BENCH_TMP/reel.log" 2>&1 &
    REEL_PID=$!
    BENCH_PIDS+=("$REEL_PID")
    REEL_URL="http://127.0.0.1:$port"
    wait_http "$REEL_URL/readyz" 60
}

# stop_pid PID: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
}

json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# register NAME: a new user; prints its session id.
register() {
    curl -sf -X POST "$REEL_URL/api/user" -H 'content-type: application/json' \
        -d "{\"user_name\":\"$1\",\"pwd\":\"a long bench password\"}" | json_get session_id
}

# create_video SID USER TITLE: prints "VID UPLOAD_PATH".
create_video() {
    local answer
    answer=$(curl -sf -X POST "$REEL_URL/api/user/$2/videos" -H "X-Session-Id: $1" \
        -H 'content-type: application/json' -d "{\"name\":\"$3\"}")
    echo "$(json_get id <<<"$answer") $(json_get upload_url <<<"$answer")"
}

# upload_put FILE UPLOAD_PATH: one PUT of the whole file, as curl sends it.
upload_put() {
    local code
    code=$(curl -sS -o "$BENCH_TMP/upload-answer" -w '%{http_code}' -H 'Expect:' -T "$1" "$REEL_URL$2")
    [ "${code:0:1}" = 2 ] || die "upload answered $code: $(cat "$BENCH_TMP/upload-answer")"
}

# delete_video SID USER VID: deletes it through the API and waits until its files are gone.
delete_video() {
    local dir="$BENCH_TMP/data/storage/videos/$3" deadline=$(($(now_ms) + 60000))
    curl -sf -o /dev/null -X DELETE "$REEL_URL/api/user/$2/videos/$3" -H "X-Session-Id: $1"
    while [ -e "$dir" ]; do
        [ "$(now_ms)" -lt "$deadline" ] || { log "the files of $3 are still there after 60 s"; return; }
        sleep 0.2
    done
}

# need_disk MIB: dies unless the scratch dir's disk has MIB free (the machine is shared).
need_disk() {
    local free
    free=$(($(df --output=avail -k "$BENCH_TMP" | tail -1) / 1024))
    [ "$free" -ge "$1" ] || die "needs $1 MiB free on the disk of $BENCH_TMP, has $free MiB"
}

# video_status SID USER VID
video_status() {
    curl -sf "$REEL_URL/api/user/$2/videos/$3" -H "X-Session-Id: $1" | json_get status
}

# wait_ready SID USER VID SECONDS
wait_ready() {
    local deadline=$(($(now_ms) + $4 * 1000)) status
    while :; do
        status=$(video_status "$1" "$2" "$3")
        [ "$status" = ready ] && return 0
        [ "$status" = failed ] && die "processing of $3 failed"
        [ "$(now_ms)" -lt "$deadline" ] || die "$3 still $status after $4 s"
        sleep 0.2
    done
}

# served_file DATA_DIR VID: the stored file reel answers GET /videos/VID with.
served_file() {
    local dir="$1/storage/videos/$2"
    if [ -f "$dir/playable.mp4" ]; then echo "$dir/playable.mp4"; else echo "$dir/original"; fi
}

# make_clip OUT SECONDS VIDEO_ARGS...: a 720p test clip of testsrc2 and a sine tone.
make_clip() {
    local out=$1 secs=$2
    shift 2
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=$secs" \
        -f lavfi -i "sine=frequency=440:duration=$secs" "$@" "$out"
}

# nginx_conf PORT WORKERS SENDFILE LOCATIONS: an nginx config serving LOCATIONS, with
# what a production static site sets (tcp_nopush with sendfile, no access log).
nginx_conf() {
    local conf="$BENCH_TMP/nginx-$1.conf"
    cat >"$conf" <<CONF
user root;
worker_processes $2;
worker_rlimit_nofile 20000;
pid $BENCH_TMP/nginx-$1.pid;
error_log $BENCH_TMP/nginx-error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    sendfile $3;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { video/mp4 mp4; video/mp2t ts; application/json json; text/html html; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$1;
        $4
    }
}
CONF
    echo "$conf"
}

# start_nginx CONF PORT: sets NGINX_PID.
start_nginx() {
    "$(command -v nginx || echo /usr/sbin/nginx)" -c "$1" -g 'daemon off;' &
    NGINX_PID=$!
    BENCH_PIDS+=("$NGINX_PID")
    local deadline=$(($(now_ms) + 10000))
    until curl -s -o /dev/null "http://127.0.0.1:$2/"; do
        [ "$(now_ms)" -lt "$deadline" ] || die "nginx did not start: $(cat "$BENCH_TMP/nginx-error.log")"
        sleep 0.05
    done
}

# tree_rss_kib PID: resident KiB of PID and its children (nginx's master and workers).
tree_rss_kib() {
    local total=0 pid kib
    for pid in "$1" $(pgrep -P "$1" || true); do
        kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}

# watch_rss PID: polls tree_rss_kib every 50 ms into a file; sets WATCH_PID, WATCH_FILE.
# VmHWM alone is not enough: it cannot be read per attack window, and nginx has workers.
watch_rss() {
    WATCH_FILE="$BENCH_TMP/rss-$1-$(now_ms)"
    (
        peak=0
        while kill -0 "$1" 2>/dev/null; do
            kib=$(tree_rss_kib "$1")
            if [ "$kib" -gt "$peak" ]; then peak=$kib; echo "$peak" >"$WATCH_FILE"; fi
            sleep 0.05
        done
    ) &
    WATCH_PID=$!
    BENCH_PIDS+=("$WATCH_PID")
}

# peak_rss: stops the watcher started last; prints the peak in KiB.
peak_rss() {
    local peak
    kill "$WATCH_PID" 2>/dev/null || true
    wait "$WATCH_PID" 2>/dev/null || true
    peak=$(cat "$WATCH_FILE" 2>/dev/null || true)
    echo "${peak:-0}"
}

# wrk_run URL DURATION CONNECTIONS [LUA [ARGS...]]: prints requests/s; dies on any
# non-2xx answer or socket error, which would make a server look faster than it is.
wrk_run() {
    local url=$1 secs=$2 conns=$3 out
    shift 3
    local lua=()
    if [ $# -gt 0 ]; then lua=(-s "$1" "$url" --); shift; fi
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s "${lua[@]:-$url}" "$@")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        log "$out"
        die "errors from $url"
    fi
    awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

# calc EXPRESSION: a Python expression's value.
calc() { python3 -c "print($1)"; }

# goal NAME VALUE OP LIMIT UNIT: prints whether VALUE OP LIMIT holds and remembers a miss.
goal() {
    local name=$1 value=$2 op=$3 limit=$4 unit=${5:-}
    if python3 -c "import sys; sys.exit(0 if $value $op $limit else 1)"; then
        printf 'PASS  %s: %s%s (goal %s %s%s)\n' "$name" "$value" "$unit" "$op" "$limit" "$unit"
    else
        printf 'FAIL  %s: %s%s (goal %s %s%s)\n' "$name" "$value" "$unit" "$op" "$limit" "$unit"
        BENCH_FAILED=1
    fi
}

# finish: the exit status: non-zero when a goal was missed.
finish() {
    echo "$(machine) at the end"
    if [ "$BENCH_FAILED" = 0 ]; then echo "all goals met"; else echo "goal missed"; fi
    exit "$BENCH_FAILED"
}
