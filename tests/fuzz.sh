#!/bin/bash
# A short, bounded run of every cargo-fuzz target (libFuzzer with
# AddressSanitizer), from the committed seeds in fuzz/seeds/. A crash
# fails the case and its input is copied to fuzz/regressions/TARGET/,
# which `cargo hosttest` replays from then on. FUZZ_SECONDS sets the
# time per target (default 10). cargo fuzz needs nightly flags; the
# stable toolchain takes them with RUSTC_BOOTSTRAP=1.
#
#   tests/fuzz.sh        (sourced by scripts/test.sh, or run alone)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet >/dev/null 2>&1
(cd "$top" && cargo fuzz build >/dev/null 2>&1) || { case_begin "fuzz: build"; check_fail "cargo fuzz build failed"; case_end; return 1 2>/dev/null || exit 1; }

for target in cmdline devspec swap_header parttable swap_map chunks lzo_diff lzo_roundtrip luks lz4_diff lvm; do
    case_begin "fuzz: $target for ${FUZZ_SECONDS} s"
    corpus=$top/fuzz/corpus/$target
    mkdir -p "$corpus" "$top/fuzz/regressions/$target"
    log=$T/fuzz-$target.log
    if (cd "$top" && cargo fuzz run "$target" "$corpus" "fuzz/seeds/$target" -- \
            -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -max_len=300000 -print_final_stats=1) > "$log" 2>&1; then
        runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
        echo "        ${runs:-?} inputs run"
        [ "${runs:-0}" -gt 0 ] || check_fail "the fuzzer ran no input"
    else
        check_fail "the fuzzer found a crash; see $log"
        for a in "$top"/fuzz/artifacts/"$target"/*; do
            [ -f "$a" ] && cp "$a" "$top/fuzz/regressions/$target/" && echo "        saved $(basename "$a") as a regression input"
        done
        case_log=$log
    fi
    case_end
done
