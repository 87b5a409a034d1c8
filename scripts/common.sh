# What every entry script does first: install what is missing
# (scripts/setup.sh, idempotent), put rustup's cargo on PATH, know where
# the binary is built. Sourced after `top` is set:
#
#   top=$(cd "$(dirname "$0")/.." && pwd)
#   . "$top/scripts/common.sh"
#   prepare [--build]       # setup, PATH; with --build also the release binary
# shellcheck shell=bash

# shellcheck source=scripts/paths.sh
. "$top/scripts/paths.sh"

# prepare [--build]: returns non-zero (after saying why) if setup fails.
prepare() {
    "$top/scripts/setup.sh" || { echo "setup failed" >&2; return 1; }
    if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
    if [ "${1:-}" = --build ]; then
        (cd "$top" && cargo build --release --quiet) || { echo "cargo build failed" >&2; return 1; }
    fi
}
