#!/usr/bin/env bash
# Hostile traffic: `reel serve` on its defaults, started under `ulimit -Sn 1024` (systemd's
# default), while four viewer loops from 127.0.0.1 play an uploaded clip (256 KiB ranges)
# and load the home page. The attacks of bench/abuse.py run one after another, each for
# ATTACK_SECONDS: (a) 1,200 slowloris connections (127.0.0.2), (b) 1,100 connections that
# GET the video and never read (127.0.0.3), (c) one endless chunked multipart upload with
# a valid upload token and no boundary (127.0.0.4), (d) 64 loops of log-ins and
# registrations hanging up after 20 ms (127.0.0.5). Per attack: the viewers' success
# rate and p99 latency, and reel's peak RSS. Goals during every attack: >= 99% success,
# p99 <= 2 s, RSS <= 256 MiB.
#   ATTACK_SECONDS=40 bench/abuse.sh
#   ATTACKS="logins" bench/abuse.sh    # some of the attacks only, in the order given
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
seconds=${ATTACK_SECONDS:-40}
attacks=${ATTACKS:-slowloris noread multipart logins}
for name in $attacks; do
    case $name in slowloris | noread | multipart | logins) ;; *) die "unknown attack: $name" ;; esac
done

need ffmpeg
python_env
build_reel
need_disk 4096
REEL_SOFT_NOFILE=1024 start_reel "$BENCH_TMP/data"
port=${REEL_URL##*:}
sid=$(register bench)
make_clip "$BENCH_TMP/clip.mp4" 20 -c:v libx264 -preset veryfast -b:v 4M -c:a aac -movflags +faststart
read -r vid upload <<<"$(create_video "$sid" bench "Clip")"
upload_put "$BENCH_TMP/clip.mp4" "$upload"
wait_ready "$sid" bench "$vid" 120
size=$(curl -sfI "$REEL_URL/videos/$vid" | awk 'tolower($1) == "content-length:" {print $2+0}')
# Anyone can register and get an upload token.
mallory=$(register mallory)
read -r _ mallory_upload <<<"$(create_video "$mallory" mallory "Never ends")"

"$BENCH_PY" "$BENCH_DIR/abuse.py" viewers "$port" "/videos/$vid" "$size" "$BENCH_TMP/viewers.log" &
viewers_pid=$!
BENCH_PIDS+=("$viewers_pid")

phases="$BENCH_TMP/phases"
# phase NAME COMMAND...: runs COMMAND and records the window and reel's peak RSS.
phase() {
    local name=$1 began note
    shift
    log "phase: $name"
    watch_rss "$REEL_PID"
    began=$(now_ms)
    note=$("$@" 2>>"$BENCH_TMP/attack.err" | tail -1) ||
        note="(the attacker failed: $(tail -1 "$BENCH_TMP/attack.err"))"
    echo "$name $began $(now_ms) $(peak_rss) $note" >>"$phases"
    sleep 5 # the attacker's connections close before the next phase
}
# shellcheck disable=SC2317 # called through phase
attack() { "$BENCH_PY" "$BENCH_DIR/abuse.py" "$1" "$port" "$seconds" "${@:2}" --pid "$REEL_PID" \
    --data-dir "$BENCH_TMP/data"; }

echo "reel serve under ulimit -Sn 1024; viewers from 127.0.0.1; ${seconds}s per attack; $(machine)"
phase none sleep 10
for name in $attacks; do
    case $name in
        slowloris) phase slowloris attack slowloris ;;
        noread) phase noread attack noread "/videos/$vid" ;;
        multipart) phase multipart attack multipart "$mallory_upload" ;;
        logins) phase logins attack logins ;;
    esac
done
stop_pid "$viewers_pid"
kill -0 "$REEL_PID" 2>/dev/null ||
    echo "reel serve exited during the attacks: $(grep -v 'accept error' "$BENCH_TMP/reel.log" | tail -3)"

python3 - "$BENCH_TMP/viewers.log" "$phases" >"$BENCH_TMP/figures" <<'PY'
import sys
requests = [line.split() for line in open(sys.argv[1])]
for line in open(sys.argv[2]):
    name, began, ended, peak, *note = line.rstrip("\n").split(maxsplit=4)
    began, ended = int(began), int(ended)
    inside = [(int(ok), int(ms)) for start, ok, ms, _ in requests if began <= int(start) < ended]
    n = len(inside)
    success = 100 * sum(ok for ok, _ in inside) / n if n else 0
    lat = sorted(ms for _, ms in inside)
    p99 = lat[min(n - 1, int(0.99 * n))] if n else 10**6
    print(name, n, f"{success:.1f}", p99, f"{int(peak) / 1024:.0f}", *note)
PY
while read -r name n success p99 rss note; do
    printf '%-10s viewers: %5d requests, %5.1f%% successful, p99 %5d ms; reel peak RSS %5d MiB  %s\n' \
        "$name" "$n" "$success" "$p99" "$rss" "$note"
done <"$BENCH_TMP/figures"
while read -r name n success p99 rss _; do
    [ "$name" = none ] && continue
    goal "$name: viewers' success" "$success" '>=' 99 '%'
    goal "$name: viewers' p99" "$p99" '<=' 2000 ' ms'
    goal "$name: reel peak RSS" "$rss" '<=' 256 ' MiB'
done <"$BENCH_TMP/figures"
finish
