#!/usr/bin/env bash
# Uploads: a 1 GiB file into `reel serve` by PUT and by tus (16 MiB PATCHes, as the web
# page sends), then 4 at once by each, each against `dd bs=1M conv=fsync` writing the
# same file to the same disk. dd runs before and after every upload and the faster of
# the two counts, since this disk is noisy. An upload counts once it is durable: right
# after the last answer the stored files are fsync'ed and that time is added (near zero
# when reel synced before answering, as it must); it is printed apart too. Peak RSS of
# reel is polled during each. Goals: each throughput >= 0.8x dd, at most 0.2 s of
# flushing left after the answers, peak RSS <= 64 MiB. The client (bench/upload.py)
# sends with sendfile(2), so its own cost stays out of the figures.
#   SIZE_MIB=1024 CONCURRENT=4 bench/upload.sh
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
mib=${SIZE_MIB:-1024}
concurrent=${CONCURRENT:-4}

build_reel
need_disk $(((concurrent + 3) * mib))
start_reel "$BENCH_TMP/data"
sid=$(register bench)
# An MP4 `ftyp` box, then an `mdat` box (its size 0: to the end of the file) of random
# bytes: passes reel's sniffing, and compresses nowhere.
src="$BENCH_TMP/upload.mp4"
{ printf '\0\0\0\030ftypisom\0\0\002\0isomiso2\0\0\0\0mdat'; head -c $((mib * 1024 * 1024 - 32)) /dev/urandom; } >"$src"
cat "$src" >/dev/null

dd_mibs() {
    local began
    began=$(now_ms)
    dd if="$src" of="$BENCH_TMP/dd.out" bs=1M conv=fsync 2>/dev/null
    calc "round($mib * 1000 / ($(now_ms) - $began), 1)"
    rm -f "$BENCH_TMP/dd.out"
}

# upload KIND COUNT: COUNT uploads of KIND at once; prints total MiB/s once durable, the
# seconds of flushing left after the answers, and the peak RSS in KiB.
upload() {
    local kind=$1 count=$2 vids=() urls=() stored=() pids=() began secs flush i vid url
    for i in $(seq 1 "$count"); do
        read -r vid url <<<"$(create_video "$sid" bench "$kind $count $i")"
        vids+=("$vid")
        urls+=("$REEL_URL$url")
        stored+=("$BENCH_TMP/data/storage/videos/$vid/original")
    done
    echo 5 >"/proc/$REEL_PID/clear_refs" # VmHWM restarts from the current RSS
    watch_rss "$REEL_PID"
    began=$(now_ms)
    for url in "${urls[@]}"; do
        python3 "$BENCH_DIR/upload.py" "$kind" "$url" "$src" >/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || die "a $kind upload failed"; done
    secs=$(calc "($(now_ms) - $began) / 1000")
    flush=$(python3 - "${stored[@]}" <<'PY'
import os, sys, time
began = time.monotonic()
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
print(round(time.monotonic() - began, 2))
PY
)
    local polled hwm
    polled=$(peak_rss)
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$REEL_PID/status")
    for vid in "${vids[@]}"; do delete_video "$sid" bench "$vid" >&2; done
    echo "$(calc "round($count * $mib / ($secs + $flush), 1)") $flush $(calc "max($polled, $hwm)")"
}

echo "uploads of $mib MiB into reel serve (local disk under /var/tmp); $(machine)"
before=$(dd_mibs)
for test in "put 1" "tus 1" "put $concurrent" "tus $concurrent"; do
    read -r kind count <<<"$test"
    read -r mibs flush peak <<<"$(upload "$kind" "$count")"
    after=$(dd_mibs)
    ref=$(calc "max($before, $after)")
    printf '%s x%s: %s MiB/s total once durable (%s s of flushing after the answers); dd %s / %s MiB/s; reel peak RSS %s MiB\n' \
        "$kind" "$count" "$mibs" "$flush" "$before" "$after" "$(calc "round($peak / 1024, 1)")"
    goal "$kind x$count / dd" "$(calc "round($mibs / $ref, 2)")" '>=' 0.8
    goal "$kind x$count flushing left after the answers" "$flush" '<=' 0.2 ' s'
    goal "$kind x$count reel peak RSS" "$(calc "round($peak / 1024, 1)")" '<=' 64 ' MiB'
    before=$after
done
finish
