#!/usr/bin/env bash
# The Debian package on this machine: build it, install it with dpkg, start `reel serve`
# the way its systemd unit does (systemd itself may not run here: the unit's User,
# Environment, WorkingDirectory, LimitNOFILE and ExecStart are read from the installed
# unit and applied with setpriv and prlimit), run the README's curl tour against it,
# then purge the package and check that the site's data is kept. Needs root. Cleans up
# after itself, also on failure: the package, the user and the data dir go.
#
#   tests/package/run.sh [DEB]      # builds the package unless given one
#
# REEL_DEB_ARGS passes options to `cargo deb` (scripts/test packages the debug build it
# made already: `--profile dev --no-build`).
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { printf 'tests/package: FAIL: %s\n' "$*" >&2; exit 1; }
say() { printf 'tests/package: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || fail "must run as root (it installs a package)"
if dpkg-query -W -f '${Status}' reel 2>/dev/null | grep -q installed; then
    fail "a reel package is installed already: this test would replace it"
fi
[ -e /var/lib/reel ] && fail "/var/lib/reel exists already: this test would use it"

server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    dpkg --purge reel >/dev/null 2>&1 || true
    rm -rf /var/lib/reel /etc/reel
    getent passwd reel >/dev/null && userdel reel 2>/dev/null
    getent group reel >/dev/null && groupdel reel 2>/dev/null
    rm -rf "$work"
    true
}
work=$(mktemp -d)
trap cleanup EXIT

deb=${1:-}
if [ -z "$deb" ]; then
    say "building the package"
    # shellcheck disable=SC2086 # options, split on purpose
    deb=$(scripts/package-deb ${REEL_DEB_ARGS:-})
fi
say "installing $deb"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
/usr/bin/reel --version | grep -Eq '^reel [0-9.]+ \(commit ([0-9a-f]{7,}|unknown), built [0-9]{4}-[0-9]{2}-[0-9]{2}\)$' \
    || fail "reel --version names no build: $(/usr/bin/reel --version)"
getent passwd reel >/dev/null || fail "no reel user"
[ "$(stat -c %U:%a /var/lib/reel)" = reel:750 ] || fail "/var/lib/reel is $(stat -c %U:%a /var/lib/reel)"
[ -f /etc/reel/reel.toml ] || fail "no /etc/reel/reel.toml"
unit=$(dpkg -L reel | grep '/systemd/system/reel.service$') || fail "no systemd unit"
for option in ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes \
    ReadWritePaths=/var/lib/reel User=reel LimitNOFILE=; do
    grep -q "^$option" "$unit" || fail "the unit lacks $option"
done

# --- start it as the unit would ---------------------------------------------------
value() { sed -n "s/^$1=//p" "$unit"; }
user=$(value User); dir=$(value WorkingDirectory); nofile=$(value LimitNOFILE)
# A container may cap the hard limit below the unit's: then the cap is what we get.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ]; then
    say "LimitNOFILE=$nofile is above this machine's hard limit $hard: using $hard"
    nofile=$hard
fi
read -r -a exec_start <<<"$(value ExecStart)"
env_args=()
while IFS= read -r assignment; do env_args+=("$assignment"); done < <(value Environment)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
say "starting ${exec_start[*]} as $user on port $port"
(
    cd "$dir"
    exec prlimit --nofile="$nofile" setpriv --reuid="$user" --regid="$user" --init-groups \
        --no-new-privs env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${env_args[@]}" \
        REEL_LISTEN="127.0.0.1:$port" "${exec_start[@]}"
) >"$work/reel.log" 2>&1 &
server_pid=$!
B="http://127.0.0.1:$port/api"
for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/reel.log" >&2; fail "reel serve exited"; }
    sleep 0.1
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/reel.log" >&2; fail "reel serve never got ready"; }
[ -f /var/lib/reel/signing.key ] || fail "no signing key generated at first start"
[ "$(stat -c %U:%a /var/lib/reel/signing.key)" = reel:600 ] || fail "signing.key is $(stat -c %U:%a /var/lib/reel/signing.key)"

# --- the README's curl tour ---------------------------------------------------------
expect() { # expect STATUS METHOD PATH [curl args…]: prints the body
    local want=$1 method=$2 path=$3; shift 3
    local got
    got=$(curl -s -o "$work/body" -w '%{http_code}' -X "$method" "$B$path" "$@")
    [ "$got" = "$want" ] || fail "$method $path answered $got, not $want: $(cat "$work/body")"
    cat "$work/body"
}
json='content-type: application/json'
SID=$(expect 201 POST /user -H "$json" -d '{"user_name":"alice","pwd":"a long password"}' \
    | sed 's/.*"session_id":"\([0-9a-f]*\)".*/\1/')
expect 200 POST /user/alice -H "$json" -d '{"pwd":"a long password"}' >/dev/null
video=$(expect 201 POST /user/alice/videos -H "X-Session-Id: $SID" -H "$json" -d '{"name":"Holiday"}')
VID=$(sed 's/.*"id":"\([0-9a-f-]*\)".*/\1/' <<<"$video")
upload=$(sed 's/.*"upload_url":"\([^"]*\)".*/\1/' <<<"$video")
expect 200 GET "/user/alice/videos?limit=20" -H "X-Session-Id: $SID" | grep -q "$VID" || fail "the video is not listed"
expect 200 GET /videos >/dev/null
printf '\0\0\0\x18ftypisom\0\0\x02\0isomiso2\0\0\0\0mdat%04096d' 0 >"$work/clip.mp4"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$work/clip.mp4" "http://127.0.0.1:$port$upload")" = 201 ] \
    || fail "the upload was refused"
comment=$(expect 201 POST "/videos/$VID/comments" -H "X-Session-Id: $SID" -H "$json" -d '{"content":"Nice!"}')
CID=$(sed 's/.*"id":"\([0-9a-f-]*\)".*/\1/' <<<"$comment")
expect 200 GET "/videos/$VID/comments" -H "X-Session-Id: $SID" | grep -q Nice || fail "the comment is not listed"
expect 204 DELETE "/videos/$VID/comments/$CID" -H "X-Session-Id: $SID" >/dev/null
expect 204 DELETE "/user/alice/videos/$VID" -H "X-Session-Id: $SID" >/dev/null
expect 204 DELETE /user/alice -H "X-Session-Id: $SID" >/dev/null
say "the curl tour passed against the installed package"
/usr/bin/reel doctor --data-dir /var/lib/reel >"$work/doctor.txt" 2>&1 || true
grep -q '^OK   signing key: fingerprint' "$work/doctor.txt" || fail "reel doctor: $(cat "$work/doctor.txt")"

kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
grep -q '"level":"ERROR"\|ERROR' "$work/reel.log" && { cat "$work/reel.log" >&2; fail "errors logged"; }

# --- purge keeps the data -----------------------------------------------------------
dpkg --purge reel >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
[ ! -e /usr/bin/reel ] || fail "the binary outlived the purge"
[ ! -e /etc/reel/reel.toml ] || fail "the configuration outlived the purge"
for kept in reel.db signing.key storage; do
    [ -e "/var/lib/reel/$kept" ] || fail "purging removed /var/lib/reel/$kept"
done
say "purged; /var/lib/reel kept"
echo "package test passed" >&2
