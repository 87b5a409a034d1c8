#!/bin/bash
# Where the hot loops lie in the x86-64 binary: one line per function.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Prints where the codecs' hot functions and mem* lie in the x86-64 binary,
and whether any of them crosses a 4 KiB page boundary.

  bench/hot-code.sh

Under QEMU's TCG a jump is chained straight to its target only within
one 4 KiB guest page; a loop across a boundary looks its target up on
every turn (the LZO encoder lost 8 % of the writer's time that way).
The LZO encoder's block and the CRC are kept in `.text.hot`, at the start
of `.text`; the decoders lie wherever the rest of the binary puts them
(a crossing in a function's last bytes, its error returns, costs nothing).
Builds the release binary once more with its symbols kept (same code,
same layout) into build/symbols. The benchmarks print this with their
figures; it passes or fails nothing.
EOF
    exit 2
}
[ "${1:-}" = -h ] && usage
top=$(cd "$(dirname "$0")/.." && pwd)
(cd "$top" && CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR="$top/build/symbols" cargo build --release --quiet)
bin=$top/build/symbols/x86_64-unknown-linux-musl/release/resume-init
nm -S -C "$bin" | grep -E ' (codec::lzo_compress::block|codec::crc32::update|codec::lzo::decompress_into|codec::lz4::decompress_into|memcpy|memset)$' |
    while read -r addr size _ name; do
        a=$((16#$addr)) s=$((16#$size))
        if [ $((a / 4096)) -eq $(((a + s - 1) / 4096)) ]; then where="within one page"
        else b=$(((a / 4096 + 1) * 4096)); where=$(printf 'CROSSES a page boundary at %#x (%d bytes before it, %d after)' "$b" $((b - a)) $((a + s - b))); fi
        printf '  %-30s %#x, %5d bytes: %s\n' "$name" "$a" "$s" "$where"
    done | sort
