#!/bin/bash
# Benchmark: resume-init hibernate into a hibernation file against into a swap partition.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Benchmark: resume-init hibernate into a hibernation file on the ext4 root
against into a swap partition of the same size, in the same VM, the same
amount of random data in tmpfs, alternating, measured in one run.

  bench/hibfile.sh [-k KERNEL_VERSION] [-s MiB] [-r RUNS] [-m MiB] [-p CPUS]

  -s  MiB of random data kept in tmpfs, so the image has a chosen size (default 200)
  -r  writes per target (default 3)
  -m  guest memory (default 1024)

Both targets get the same number of pages (the file made by --make-file
on the host, the swap partition by mkswap), and both writes are timed by
the writer's own summary line (`wrote … in S s`). Every run starts from a
pristine copy of the disks. Prints min / median / max and the ratio
file / swap.
EOF
    exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
size=200 runs=3 mem=1024 cpus=1 kver_arg=""
while getopts "k:s:r:m:p:h" opt; do
    case $opt in
        k) kver_arg=$OPTARG ;;
        s) size=$OPTARG ;;
        r) runs=$OPTARG ;;
        m) mem=$OPTARG ;;
        p) cpus=$OPTARG ;;
        *) usage ;;
    esac
done
prepare --build
T=$top/build/bench-hibfile
mkdir -p "$T"
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
if [ -n "$kver_arg" ]; then use_kernel "$kver_arg"; else build_initramfs; fi
make_rootdir "$T/rootdir" "$(cat "$top/tests/guest-init.sh")"
cp "$BIN" "$T/rootdir/sbin/resume-init"
target_mib=$(( size * 3 / 2 + 64 ))
UUID=4b1bf11e-0000-4000-8000-0000000be7c4
mkext4 "$T/root.img" $(( target_mib + 200 )) "$T/rootdir" -b 4096 -U "$UUID"
mkdir -p "$T/mnt"
mount -o loop "$T/root.img" "$T/mnt"
off=$("$BIN" hibernate --make-file "$T/mnt/hibfile" --size "${target_mib}M" 2>&1 | grep -Eo 'resume_offset=[0-9]+' | head -n 1 | cut -d= -f2)
umount "$T/mnt"
[ -n "$off" ] || { echo "bench: --make-file gave no offset" >&2; exit 1; }
rm -f "$T/swap.img"; truncate -s "${target_mib}M" "$T/swap.img"; mkswap -q "$T/swap.img"
cp "$T/root.img" "$T/root.pristine"; cp "$T/swap.img" "$T/swap.pristine"

stats() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f %.3f", a[1], a[int((NR+1)/2)], a[NR]}'; }
f=""; s=""; ratios=""
for r in $(seq 1 "$runs"); do
    for t in swap file; do
        cp "$T/root.pristine" "$T/root.img"; cp "$T/swap.pristine" "$T/swap.img"
        log=$T/$t-$r.log
        args="root=/dev/vda rw noresume hib=tokB fill=$size writer=lzo after=shutdown"
        if [ $t = file ]; then args+=" resume=UUID=$UUID resume_offset=$off swap=none wfile=/hibfile"; else args+=" resume=/dev/vdb swap=/dev/vdb"; fi
        "$top/qemu/run.sh" -q -k "$KERNEL" -i "$INITRD" -m "$mem" -c "$cpus" -t 900 -l "$log" -d "$T/root.img" -d "$T/swap.img" -a "$args"
        secs=$(grep -Eo 'resume-init: wrote [0-9]+ pages \([0-9.]+ MiB\) in [0-9.]+ s' "$log" | awk '{print $8}' | tail -n 1)
        [ -n "$secs" ] || { echo "   $t run $r wrote no image; see $log"; continue; }
        mib=$(grep -Eo 'resume-init: wrote [0-9]+ pages \([0-9.]+' "$log" | grep -Eo '[0-9.]+$' | tail -n 1)
        printf '   %-4s run %s: %6.3f s (%s MiB)\n' "$t" "$r" "$secs" "$mib"
        if [ $t = swap ]; then s+=" $secs"; last=$secs; else f+=" $secs"; ratios+=" $(echo "scale=4; $secs / $last" | bc)"; fi
    done
done
echo
echo "resume-init hibernate, $(date -u +%Y-%m-%d), kernel $KVER, $( [ "${RESUME_INIT_KVM:-0}" = 1 ] && echo KVM || echo TCG), -m $mem -smp $cpus, $size MiB of random data, LZO"
read -r smin smed smax <<< "$(stats "$s")"
read -r fmin fmed fmax <<< "$(stats "$f")"
read -r rmin rmed rmax <<< "$(stats "$ratios")"
printf 'into a swap partition  %6.3f %6.3f %6.3f s\ninto a hibernation file %6.3f %6.3f %6.3f s\nratio file/swap         %6.2f %6.2f %6.2f\n' \
    "$smin" "$smed" "$smax" "$fmin" "$fmed" "$fmax" "$rmin" "$rmed" "$rmax"
