#!/bin/bash
# Benchmark: our codecs against the kernel's own C, on the host's CPU.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Benchmark on the host's real CPU: our codecs (LZO1X encoder and decoder,
lz4_flex, CRC-32) against the kernel's own C code for the same work
(lib/lzo, lib/lz4, lib/crc32.c from Debian's linux-source-6.1 package,
built in user space with the shims in bench/kernel-codecs/, general
registers only as in the kernel), over the same data cut into 128 KiB
chunks, on 1 and more threads. This is the figure that stands for real
hardware, where KVM is not available here.

  bench/pipeline.sh [-f SAMPLE] [-t MAX_THREADS] [-r REPS] [-g KERNEL_VERSION [-s MiB]]

  -f  the data (default: the pages of an uncompressed image the kernel
      writes in a QEMU guest, captured once into build/pipeline/sample.bin)
  -t  thread counts 1, 2, 4 … up to this (default: the host's CPUs)
  -r  passes over the data (default 3)
  -g  run both sides (built static) inside a QEMU guest under TCG, as the
      loader and the writer run in the other benchmarks, with this kernel,
      on the first -s MiB of the sample (default 16), one thread
Both decoders read the same bytes: the kernel code's compressed chunks.
Not part of the test suite: it prints figures, it passes or fails nothing.
EOF
    exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
W=$top/build/pipeline
mkdir -p "$W"
sample=""
threads=$(nproc)
reps=3
guest=""
guest_mib=16
while getopts "f:t:r:g:s:h" opt; do
    case $opt in
        f) sample=$OPTARG ;;
        t) threads=$OPTARG ;;
        r) reps=$OPTARG ;;
        g) guest=$OPTARG ;;
        s) guest_mib=$OPTARG ;;
        *) usage ;;
    esac
done
prepare
dpkg-query -W -f='${Status}' linux-source-6.1 2>/dev/null | grep -q "install ok installed" || {
    echo "pipeline: installing linux-source-6.1 (the kernel's C code to compare with)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-source-6.1 >/dev/null
}

# The kernel's code, built in user space as the kernel builds it: general
# registers only (the kernel's -mno-sse; gcc 12 vectorises at -O2 otherwise:
# SSE code the kernel never runs, which slowed its LZO code down, on the host
# and in a TCG guest, and sped its LZ4 decoder up in the guest); the harness
# around it normally.
src=$W/src
shim=$top/bench/kernel-codecs/shim
build_harness() { # OUT [more gcc flags]
    local out=$1 o=$W/obj f
    shift
    rm -rf "$o"; mkdir -p "$o"
    for f in lib/lzo/lzo1x_compress.c lib/lzo/lzo1x_decompress_safe.c lib/lz4/lz4_compress.c lib/lz4/lz4_decompress.c lib/crc32.c; do
        gcc -O2 -mgeneral-regs-only "$@" -c -I"$shim" -I"$src/inc" -I"$src/lib" -I"$src/lib/lzo" -I"$src/lib/lz4" -w \
            -o "$o/$(basename "$f" .c).o" "$src/$f"
    done
    gcc -O2 "$@" -pthread -I"$shim" -I"$src/inc" -I"$src/lib" -w -o "$out" "$top/bench/kernel-codecs/harness.c" "$o"/*.o
}
if [ ! -x "$W/harness" ] || [ "$top/bench/kernel-codecs/harness.c" -nt "$W/harness" ] || [ "$0" -nt "$W/harness" ]; then
    rm -rf "$src"; mkdir -p "$src/inc/linux"
    tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$src" --strip-components=1 --wildcards \
        'linux-source-6.1/lib/lzo/*' 'linux-source-6.1/lib/lz4/lz4_*compress.c' 'linux-source-6.1/lib/lz4/lz4defs.h' \
        'linux-source-6.1/lib/crc32.c' 'linux-source-6.1/lib/crc32defs.h' 'linux-source-6.1/lib/gen_crc32table.c' \
        'linux-source-6.1/include/linux/lzo.h' 'linux-source-6.1/include/linux/lz4.h'
    cp "$src/include/linux/lzo.h" "$src/include/linux/lz4.h" "$src/inc/linux/"
    sed -i 's#"../include/linux/crc32poly.h"#<linux/crc32poly.h>#; s#"../include/generated/autoconf.h"#<generated/autoconf.h>#' "$src/lib/gen_crc32table.c"
    gcc -O2 -I"$shim" -w -o "$W/gen_crc32table" "$src/lib/gen_crc32table.c"
    "$W/gen_crc32table" > "$src/lib/crc32table.h"
    build_harness "$W/harness"
fi
(cd "$top" && cargo build --release --quiet --example pipeline --target x86_64-unknown-linux-gnu)
ours=$top/target/x86_64-unknown-linux-gnu/release/examples/pipeline

# The data: what a hibernation stream holds.
if [ -z "$sample" ]; then
    sample=$W/sample.bin
    if [ ! -s "$sample" ]; then
        echo "pipeline: capturing an uncompressed image in QEMU for the sample"
        T=$W/capture
        # shellcheck source=tests/lib.sh
        . "$top/tests/lib.sh"
        # shellcheck source=tests/hibernate-lib.sh
        . "$top/tests/hibernate-lib.sh"
        new_swap "$R/swap.img"
        hibernate "$R/capture.log" sample "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume hibernate=nocompress
        pages=$(grep -Eo 'Wrote [0-9]+ kbytes' "$R/capture.log" | grep -Eo '[0-9]+' | tail -n 1)
        # The image's pages lie at the start of the fresh swap area.
        dd if="$R/swap.img" of="$sample" bs=4096 skip=2 count=$(( pages / 4 )) status=none
    fi
fi

if [ -n "$guest" ]; then
    # Both sides static, in a busybox root with the sample, one boot.
    G=$W/guest
    mkdir -p "$G"
    build_harness "$G/harness" -static
    (cd "$top" && CARGO_TARGET_DIR=$W/static-target RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --quiet --example pipeline --target x86_64-unknown-linux-gnu)
    T=$G
    # shellcheck source=tests/lib.sh
    . "$top/tests/lib.sh"
    make_rootdir "$G/root" "#!/bin/sh
mount -t proc proc /proc
for i in \$(seq $reps); do
    PIPELINE_STREAMS=/tmp/streams /harness /sample.bin 1 2
    PIPELINE_STREAMS=/tmp/streams /ours /sample.bin 1 2
done
poweroff -f"
    cp "$G/harness" "$G/root/harness"
    cp "$W/static-target/x86_64-unknown-linux-gnu/release/examples/pipeline" "$G/root/ours"
    head -c "$((guest_mib * 1048576))" "$sample" > "$G/root/sample.bin"
    mkext4 "$G/root.img" $((guest_mib * 3 + 120)) "$G/root"
    "$top/scripts/mkinitramfs.sh" -k "$guest" -o "$G/initramfs.cpio.gz" >/dev/null
    "$top/qemu/run.sh" -q -k "/boot/vmlinuz-$guest" -i "$G/initramfs.cpio.gz" -m 1024 -t 1800 -l "$G/console.log" \
        -d "$G/root.img" -a "root=/dev/vda rw" || true
    report=$W/report-guest.txt
    {
        echo "pipeline benchmark in a QEMU TCG guest ($(qemu-system-x86_64 --version | head -n 1)), kernel $guest, $(date -u +%Y-%m-%d)"
        echo "host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $guest_mib MiB of $sample, 2 passes per run, $reps runs each, alternating"
        echo "MB/s per run (1 MB = 10^6 bytes), one thread; both decoders read the kernel code's compressed chunks"
        grep -E "^(kernel|ours) [a-z0-9-]+ 1 " "$G/console.log" | tr -d '\r' |
            awk '{k=$2; v[$1" "k]=v[$1" "k]" "$4} END {for (k in v) print k, v[k]}' | sort -k2,2 -k1,1
    } > "$report"
    cat "$report"
    exit 0
fi

report=$W/report.txt
{
    echo "pipeline benchmark, $(date -u +%Y-%m-%d), host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "sample: $sample ($(( $(stat -c %s "$sample") / 1048576 )) MiB), $reps passes, 128 KiB chunks; MB/s (1 MB = 10^6 bytes)"
    printf '%-15s %7s | %9s %9s | %7s | %s\n' what threads "ours" "kernel" "ours/k" "output/input (ours, kernel)"
} > "$report"
# The kernel's compressed chunks are what both decoders read.
PIPELINE_STREAMS=$W/streams "$W/harness" "$sample" "$threads" "$reps" > "$W/kernel.txt"
PIPELINE_STREAMS=$W/streams "$ours" "$sample" "$threads" "$reps" > "$W/ours.txt"
while read -r _ what t mbs ratio; do
    read -r kmbs kratio <<< "$(awk -v w="$what" -v t="$t" '$2 == w && $3 == t {print $4, $5}' "$W/kernel.txt")"
    [ -n "${kmbs:-}" ] || continue
    printf '%-15s %7s | %9s %9s | %7.2f | %s %s\n' "$what" "$t" "$mbs" "$kmbs" "$(echo "$mbs / $kmbs" | bc -l)" "$ratio" "$kratio" >> "$report"
done < "$W/ours.txt"
cat "$report"
