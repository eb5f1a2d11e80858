#!/usr/bin/env bash
# The browser tests: starts `reel serve` on a free port with a temporary data dir, runs
# reel.test.mjs (playwright-core driving Debian's Chromium), and stops the server.
# Screenshots go to test-output/screenshots/, the server's log to
# test-output/browser-server.log. Installs chromium, ffmpeg and node if missing, and
# the pinned playwright-core with `npm ci`.
#
# Arguments go to `node --test` (e.g. --test-name-pattern=comment). REEL_BIN=path uses
# that binary instead of building one; REEL_URL=http://… runs the tests against a site
# that is already running instead of starting one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/reel-target}"
out="$root/test-output"
export REEL_SCREENSHOTS="$out/screenshots"

step() { printf '\n== %s\n' "$*" >&2; }
fail() { printf 'tests/browser/run.sh: %s\n' "$*" >&2; exit 1; }

packages=()
command -v chromium >/dev/null || packages+=(chromium)
command -v ffmpeg >/dev/null || packages+=(ffmpeg)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if [ ${#packages[@]} -gt 0 ]; then
    step "installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq "${packages[@]}" >/dev/null
fi

pinned="$(cd "$here" && node -p 'require("./package.json").devDependencies["playwright-core"]')"
installed="$(cd "$here" && node -p 'require("./node_modules/playwright-core/package.json").version' 2>/dev/null || true)"
if [ "$pinned" != "$installed" ]; then
    step "npm ci (playwright-core $pinned)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

rm -rf "$REEL_SCREENSHOTS"
mkdir -p "$REEL_SCREENSHOTS"

if [ -z "${REEL_URL:-}" ]; then
    bin="${REEL_BIN:-}"
    if [ -z "$bin" ]; then
        step "cargo build -p reel"
        (cd "$root" && cargo build --locked -p reel)
        bin="$CARGO_TARGET_DIR/debug/reel"
    fi
    data="$(mktemp -d /tmp/reel-browser-data.XXXXXX)"
    port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    export REEL_URL="http://127.0.0.1:$port"
    # The tests look into storage to check that a deleted video leaves nothing behind.
    export REEL_DATA_DIR="$data"
    step "reel serve on $REEL_URL (data in $data)"
    # A small upload limit, so that the oversize upload is refused quickly.
    REEL_MAX_UPLOAD_BYTES="${REEL_MAX_UPLOAD_BYTES:-67108864}" REEL_LOG="${REEL_LOG:-info}" \
        "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$out/browser-server.log" 2>&1 &
    server=$!
    stop() {
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        rm -rf "$data"
    }
    trap stop EXIT
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$server" 2>/dev/null || fail "reel serve exited; see $out/browser-server.log"
        sleep 0.1
    done
fi

step "browser tests against $REEL_URL"
cd "$here"
node --test --test-reporter=spec "$@" reel.test.mjs
