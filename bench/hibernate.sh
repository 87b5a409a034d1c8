#!/bin/bash
# Benchmark: resume-init hibernate against the kernel's own writer.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Benchmark: resume-init hibernate's writer against the kernel's own
(echo disk > /sys/power/state), same VM, same data, alternating, in one run.

  bench/hibernate.sh [-k KERNEL_VERSION] [-s "SIZES_MiB"] [-c "COMPRESSIONS"] [-r RUNS] [-m MiB] [-p CPUS] [-t THREADS]

  -s  MiB of random data put in a ramfs before hibernating (default "0 400")
  -c  any of lzo nocomp lz4 (default "lzo nocomp")
  -r  writes per writer (default 3)     -m  guest memory (default 2048)
  -p  guest CPUs (default 1)     -t  resume-init hibernate --threads (default: its own choice)

Write time: the kernel's "PM: hibernation: Wrote N kbytes in S seconds"
(its write loop) against resume-init's "wrote N pages … in S s" (reading
the stream from /dev/snapshot, compressing, CRC, writing, flushing). The
last image of each row is restored by resume-init and its data checked.
Not part of the test suite: it prints figures, it passes or fails nothing.
EOF
    exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
sizes="0 400"
comps="lzo nocomp"
runs=3
mem=2048
cpus=1
kver_arg=""
threads=""
while getopts "k:s:c:r:m:p:t:h" opt; do
    case $opt in
        k) kver_arg=$OPTARG ;;
        s) sizes=$OPTARG ;;
        c) comps=$OPTARG ;;
        r) runs=$OPTARG ;;
        m) mem=$OPTARG ;;
        p) cpus=$OPTARG ;;
        t) threads=$OPTARG ;;
        *) usage ;;
    esac
done
prepare --build

if [ -n "$kver_arg" ]; then KVER=$kver_arg; KERNEL=/boot/vmlinuz-$kver_arg; fi
T=$top/build/bench-hibernate
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
INITRD=$T/initramfs-$KVER.cpio.gz
mods=(); kernel_at_least 6 9 && mods=(-m lz4)
"$top/scripts/mkinitramfs.sh" -k "$KVER" "${mods[@]}" -o "$INITRD" >/dev/null

make_rootdir "$T/rootdir" '#!/bin/sh
mount -t tmpfs tmpfs /tmp
mount -t ramfs ramfs /mnt
digest() { if [ -f /mnt/blob ]; then md5sum /mnt/blob | cut -d" " -f1; else echo none; fi; }
if [ -n "$writer" ]; then
  [ "$size" -gt 0 ] && dd if=/dev/urandom of=/mnt/blob bs=1048576 count="$size" 2>/dev/null
  digest > /tmp/sum
  swapon /dev/vdb
  [ "$comp" = lz4 ] && echo lz4 > /sys/module/hibernate/parameters/compressor
  echo "BENCH-HIBERNATING"
  if [ "$writer" = kernel ]; then
    echo disk > /sys/power/state
  else
    c=$comp; [ "$c" = nocomp ] && c=none
    /sbin/resume-init hibernate --compress "$c" --after shutdown ${threads:+--threads "$threads"}
  fi
  if [ "$(digest)" = "$(cat /tmp/sum)" ]; then echo "BENCH-RESUMED digest-ok"; else echo "BENCH-RESUMED digest-BAD"; fi
fi
poweroff -f'
cp "$BIN" "$T/rootdir/sbin/resume-init"
mkext4 "$T/root.img" 64 "$T/rootdir" -L benchroot

stats() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f %.3f", a[1], a[int((NR+1)/2)], a[NR]}'; }

report=$T/report.txt
{
    echo "resume-init writer benchmark, $(date -u +%Y-%m-%d), kernel $KVER, QEMU $(qemu-system-x86_64 --version | head -1 | grep -Eo '[0-9]+\.[0-9.]+' | head -1) $( [ "${RESUME_INIT_KVM:-0}" = 1 ] && echo KVM || echo TCG), -m $mem -smp $cpus${threads:+, --threads $threads}"
    echo "host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "binary: $(stat -c %s "$BIN") bytes"
    printf '%-7s %5s %8s | %-24s | %-24s | %-18s | %s\n' comp data MiB "resume-init write s" "kernel write s" "ratio u/k" "resume-init breakdown (last run)"
} > "$report"

for comp in $comps; do
    for size in $sizes; do
        swapsize=$(( size * 3 / 2 + 512 ))
        extra=""; [ "$comp" = nocomp ] && extra=hibernate=nocompress
        u=""; k=""; ratios=""; mib=""
        for r in $(seq 1 "$runs"); do
            for w in kernel resume-init; do
                rm -f "$T/swap.img"; truncate -s "${swapsize}M" "$T/swap.img"; mkswap -q "$T/swap.img"
                log=$T/$comp-$size-$w-$r.log
                "$top/qemu/run.sh" -q -k "$KERNEL" -i "$INITRD" -m "$mem" -c "$cpus" -t 900 -l "$log" \
                    -d "$T/root.img" -d "$T/swap.img" -a "root=/dev/vda resume=/dev/vdb noresume writer=$w size=$size comp=$comp${threads:+ threads=$threads} $extra"
                if [ $w = kernel ]; then
                    s=$(grep -Eo 'Wrote [0-9]+ kbytes in [0-9.]+ seconds' "$log" | awk '{print $5}' | tail -n 1)
                    kb=$(grep -Eo 'Wrote [0-9]+ kbytes' "$log" | awk '{print $2}' | tail -n 1)
                    [ -n "$s" ] || { echo "   kernel run $r wrote no image; see $log"; continue; }
                    k+=" $s"; last_k=$s
                    printf '   %s %s MiB %-11s run %s: %6.3f s (%s kbytes)\n' "$comp" "$size" kernel "$r" "$s" "$kb"
                else
                    s=$(grep -Eo 'resume-init: wrote [0-9]+ pages \([0-9.]+ MiB\) in [0-9.]+ s' "$log" | awk '{print $8}' | tail -n 1)
                    [ -n "$s" ] || { echo "   resume-init run $r wrote no image; see $log"; continue; }
                    mib=$(grep -Eo 'resume-init: wrote [0-9]+ pages \([0-9.]+' "$log" | grep -Eo '[0-9.]+$' | tail -n 1)
                    breakdown=$(grep -Eo 'write time: .*' "$log" | tail -n 1)
                    u+=" $s"; ratios+=" $(echo "scale=4; $s / $last_k" | bc)"
                    printf '   %s %s MiB %-11s run %s: %6.3f s (%s MiB)\n' "$comp" "$size" resume-init "$r" "$s" "$mib"
                fi
            done
        done
        # The last image (resume-init's) restored by resume-init, data checked.
        "$top/qemu/run.sh" -q -k "$KERNEL" -i "$INITRD" -m "$mem" -c "$cpus" -t 900 -l "$T/$comp-$size-restore.log" -u "BENCH-RESUMED" \
            -d "$T/root.img" -d "$T/swap.img" -a "root=/dev/vda resume=/dev/vdb noresume"
        grep -q "BENCH-RESUMED digest-ok" "$T/$comp-$size-restore.log" || echo "   the last image did not restore with intact data"
        [ -n "$u" ] && [ -n "$k" ] || continue
        read -r umin umed umax <<< "$(stats "$u")"
        read -r kmin kmed kmax <<< "$(stats "$k")"
        read -r rmin rmed rmax <<< "$(stats "$ratios")"
        printf '%-7s %5s %8s | %6.3f %6.3f %6.3f    | %6.3f %6.3f %6.3f    | %5.2f %5.2f %5.2f | %s\n' \
            "$comp" "$size" "$mib" "$umin" "$umed" "$umax" "$kmin" "$kmed" "$kmax" "$rmin" "$rmed" "$rmax" "${breakdown#write time: }" >> "$report"
    done
done
{ echo; echo "where the codecs lie (bench/hot-code.sh):"; "$top/bench/hot-code.sh"; } >> "$report"
echo
cat "$report"
