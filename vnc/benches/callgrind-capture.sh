#!/bin/sh
# Counts the instructions porthole-vnc's client (driver + session +
# decoders, no drawing) executes to consume recorded sessions, with
# valgrind's callgrind: unlike CPU seconds, the count barely moves when
# the machine is busy, so two builds can be compared on a shared machine.
#
# Each recording is played by `porthole-vnc serve` to `porthole-vnc
# capture` run under callgrind; capture stops after the recording's last
# update (the count includes its PNG at the end, the same for every build).
#
# Usage: vnc/benches/callgrind-capture.sh DIR [ENCODINGS]
#   DIR holds ENCODING.fbs recordings, e.g. from compare-viewers.sh
#   (COMPARE_KEEP=DIR) or from the latency bench's crafted server:
#     target/release/deps/latency-* --crafted-server zrle 5999:20 &
#     porthole-vnc record 127.0.0.1::5999 DIR/zrle.fbs --duration 3
#   ENCODINGS defaults to raw,zrle,tight.
# PORTHOLE_VNC may name a built binary (to compare two builds); otherwise
# it is built in release mode. Needs valgrind.
set -eu

dir=${1:?usage: callgrind-capture.sh DIR [ENCODINGS]}
encodings=${2:-raw,zrle,tight}
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${PORTHOLE_VNC:-}" ]; then
    cargo build --quiet --release -p porthole-vnc --bin porthole-vnc --manifest-path "$here/Cargo.toml"
    PORTHOLE_VNC="${CARGO_TARGET_DIR:-$here/target}/release/porthole-vnc"
fi
command -v valgrind >/dev/null || { echo "callgrind-capture: valgrind is not installed" >&2; exit 1; }

work=$(mktemp -d)
serve_pid=
trap 'if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

echo "| encoding | updates | instructions (callgrind Ir) |"
echo "|---|---|---|"
for encoding in $(echo "$encodings" | tr ',' ' '); do
    recording="$dir/$encoding.fbs"
    updates=$("$PORTHOLE_VNC" replay "$recording" --bench | sed -n 's/^frames: //p')
    port=$((6000 + $$ % 800))
    "$PORTHOLE_VNC" serve "$recording" --listen "127.0.0.1:$port" --once --delay 0.5 >"$work/serve.log" 2>&1 &
    serve_pid=$!
    # Loading a large recording takes a while: wait until serve listens.
    until grep -q listening "$work/serve.log"; do sleep 0.1; done
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
        "$PORTHOLE_VNC" capture "127.0.0.1::$port" "$work/last.png" \
        --updates "$updates" --timeout 600 >/dev/null 2>"$work/valgrind.log"
    wait "$serve_pid" || true
    serve_pid=
    count=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/valgrind.log")
    echo "| $encoding | $updates | $count |"
done
