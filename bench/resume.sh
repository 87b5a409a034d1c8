#!/bin/bash
# Benchmark: resume-init's loader against the kernel's own.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Benchmark: resume-init's loader against the kernel's own, on the same
images, in the same VM configuration, measured in one run.

  bench/resume.sh [-k KERNEL_VERSION] [-s "SIZES_MiB"] [-c "COMPRESSIONS"] [-r RUNS] [-m MiB] [-p CPUS]

  -s  MiB of random data boot 1 puts in a ramfs before hibernating, so
      the image has a chosen size (default "0 400"; 0 = an idle system)
  -c  any of nocomp lzo lz4 (default "nocomp lzo", plus lz4 on 6.9+ kernels)
  -r  restores per loader (default 3), alternating userspace/kernel
  -m  guest memory (default 2048; the kernel needs room for its copy)

For each image: boot 1 writes it once; every restore then starts from a
copy of that same disk, with resume_init=userspace or resume_init=kernel.
Load time comes from the kernel log timestamps: for resume-init, from
"hibernation image found" to "loaded …"; for the kernel, from "PM:
hibernation: resume from hibernation" to "PM: Image loading done". The
resumed system checks its data against the digest taken before
hibernating. A last boot reads the same number of bytes from the swap
disk with dd and discards them: the limit for this VM.
Not part of the test suite: it prints figures, it passes or fails nothing.
EOF
    exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
sizes="0 400"
comps=""
runs=3
mem=2048
cpus=1
kver_arg=""
while getopts "k:s:c:r:m:p:h" opt; do
    case $opt in
        k) kver_arg=$OPTARG ;;
        s) sizes=$OPTARG ;;
        c) comps=$OPTARG ;;
        r) runs=$OPTARG ;;
        m) mem=$OPTARG ;;
        p) cpus=$OPTARG ;;
        *) usage ;;
    esac
done
prepare --build

if [ -n "$kver_arg" ]; then KVER=$kver_arg; KERNEL=/boot/vmlinuz-$kver_arg; fi
T=$top/build/bench
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
INITRD=$T/initramfs-$KVER.cpio.gz
major=${KVER%%.*}; minor=${KVER#*.}; minor=${minor%%.*}
lz4_ok=0; [ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -ge 9 ]; } && lz4_ok=1
[ -n "$comps" ] || { comps="nocomp lzo"; [ $lz4_ok = 1 ] && comps+=" lz4"; }
mods=(); [ $lz4_ok = 1 ] && mods=(-m lz4)
"$top/scripts/mkinitramfs.sh" -k "$KVER" "${mods[@]}" -o "$INITRD" >/dev/null

make_rootdir "$T/rootdir" '#!/bin/sh
mount -t tmpfs tmpfs /tmp
if [ "$bench" = hibernate ]; then
  # ramfs, not tmpfs: its pages cannot be swapped out, so they land in the image.
  mount -t ramfs ramfs /mnt || echo "BENCH-DATA-FAILED"
  if [ "$size" -gt 0 ]; then
    dd if=/dev/urandom of=/mnt/blob bs=1048576 count="$size" 2>/dev/null || echo "BENCH-DATA-FAILED"
  fi
  digest() { if [ -f /mnt/blob ]; then md5sum /mnt/blob | cut -d" " -f1; else echo none; fi; }
  digest > /tmp/sum
  if [ "$comp" = lz4 ]; then echo lz4 > /sys/module/hibernate/parameters/compressor || echo "BENCH-NO-LZ4"; fi
  swapon /dev/vdb
  echo "BENCH-HIBERNATING"
  echo disk > /sys/power/state
  if [ "$(digest)" = "$(cat /tmp/sum)" ]; then echo "BENCH-RESUMED digest-ok"; else echo "BENCH-RESUMED digest-BAD"; fi
  poweroff -f
fi
if [ "$bench" = read ]; then
  t0=$(cut -d" " -f1 /proc/uptime)
  dd if=/dev/vdb of=/dev/null bs=1048576 count="$mib" 2>/dev/null || echo "BENCH-READ-FAILED"
  t1=$(cut -d" " -f1 /proc/uptime)
  echo "BENCH-READ $mib MiB $t0 $t1"
fi
poweroff -f'
mkext4 "$T/root.img" 64 "$T/rootdir" -L benchroot

# ts LOG REGEX: the kernel timestamp of the first line matching REGEX.
ts() { grep -Em1 -- "$2" "$1" | sed -E 's/^\[ *([0-9.]+)\].*/\1/'; }
# stats "v1 v2 …": min median max
stats() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f %.3f", a[1], a[int((NR+1)/2)], a[NR]}'; }

report=$T/report.txt
{
    echo "resume-init benchmark, $(date -u +%Y-%m-%d), kernel $KVER, QEMU $(qemu-system-x86_64 --version | head -1 | grep -Eo '[0-9]+\.[0-9.]+' | head -1) $( [ "${RESUME_INIT_KVM:-0}" = 1 ] && echo KVM || echo TCG), -m $mem -smp $cpus"
    echo "host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "binary: $(stat -c %s "$BIN") bytes"
    printf '%-7s %5s %8s %9s | %-26s %-26s | %-22s | %-22s %-22s\n' comp data pages MiB \
        "userspace load s min/med/max" "kernel load s min/med/max" "ratio u/k min/med/max" "u start→marker s med" "k start→marker s med"
} > "$report"

for comp in $comps; do
    for size in $sizes; do
        name=$comp-$size
        swapsize=$(( (size * 3 / 2 + 512) ))
        rm -f "$T/$name.img"; truncate -s "${swapsize}M" "$T/$name.img"; mkswap -q "$T/$name.img"
        extra=""; [ "$comp" = nocomp ] && extra=hibernate=nocompress
        echo "== $name: boot 1 writes the image"
        "$top/qemu/run.sh" -q -k "$KERNEL" -i "$INITRD" -m "$mem" -c "$cpus" -t 900 -l "$T/$name-write.log" \
            -d "$T/root.img" -d "$T/$name.img" -a "root=/dev/vda resume=/dev/vdb noresume bench=hibernate size=$size comp=$comp $extra"
        grep -q "BENCH-NO-LZ4" "$T/$name-write.log" && { echo "   this kernel cannot write LZ4 images; skipped"; continue; }
        grep -q "BENCH-DATA-FAILED" "$T/$name-write.log" && { echo "   boot 1 could not write its $size MiB of data; skipped"; continue; }
        "$BIN" inspect "$T/$name.img" > "$T/$name.inspect" \
            || { echo "   no valid image written; see $T/$name-write.log"; continue; }
        pages=$(grep -Eo 'stream: +[0-9]+' "$T/$name.inspect" | grep -Eo '[0-9]+$')
        disk_pages=$(grep -Eo 'on disk: +[0-9]+' "$T/$name.inspect" | grep -Eo '[0-9]+$' || echo "$pages")
        cp --sparse=always "$T/$name.img" "$T/$name.pristine"
        u_loads=""; k_loads=""; ratios=""; u_wall=""; k_wall=""
        for r in $(seq 1 "$runs"); do
            for mode in userspace kernel; do
                cp --sparse=always "$T/$name.pristine" "$T/$name.img"
                log=$T/$name-$mode-$r.log
                t0=$(date +%s.%N)
                "$top/qemu/run.sh" -q -k "$KERNEL" -i "$INITRD" -m "$mem" -c "$cpus" -t 900 -l "$log" -u "BENCH-RESUMED" \
                    -d "$T/root.img" -d "$T/$name.img" -a "root=/dev/vda resume=/dev/vdb noresume resume_init=$mode"
                wall=$(echo "$(date +%s.%N) - $t0" | bc)
                grep -q "BENCH-RESUMED digest-ok" "$log" || { echo "   $mode run $r did not resume with intact data; see $log"; continue; }
                if [ $mode = userspace ]; then
                    load=$(echo "$(ts "$log" 'resume-init: loaded [0-9]+ pages') - $(ts "$log" 'resume-init: hibernation image found')" | bc)
                    u_loads+=" $load"; u_wall+=" $wall"; last_u=$load
                else
                    load=$(echo "$(ts "$log" 'PM: Image loading done') - $(ts "$log" 'PM: hibernation: resume from hibernation')" | bc)
                    k_loads+=" $load"; k_wall+=" $wall"
                    ratios+=" $(echo "scale=4; $last_u / $load" | bc)"
                fi
                printf '   %-9s run %s: load %6.3f s, start→marker %6.2f s\n' $mode "$r" "$load" "$wall"
            done
        done
        [ -n "$u_loads" ] && [ -n "$k_loads" ] || continue
        mib=$(echo "scale=2; $pages * 4096 / 1048576" | bc)
        read -r umin umed umax <<< "$(stats "$u_loads")"
        read -r kmin kmed kmax <<< "$(stats "$k_loads")"
        read -r rmin rmed rmax <<< "$(stats "$ratios")"
        read -r _ uw _ <<< "$(stats "$u_wall")"; read -r _ kw _ <<< "$(stats "$k_wall")"
        printf '%-7s %5s %8s %9s | %6.3f %6.3f %6.3f (%4.0f MiB/s) | %6.3f %6.3f %6.3f (%4.0f MiB/s) | %5.2f %5.2f %5.2f | %10.2f %10.2f\n' \
            "$comp" "$size" "$pages" "$mib" "$umin" "$umed" "$umax" "$(echo "$mib / $umed" | bc -l)" \
            "$kmin" "$kmed" "$kmax" "$(echo "$mib / $kmed" | bc -l)" "$rmin" "$rmed" "$rmax" "$uw" "$kw" >> "$report"
        # The limit: the same number of bytes read from the swap disk and discarded.
        dmib=$(( (disk_pages * 4096 + 1048575) / 1048576 ))
        cp --sparse=always "$T/$name.pristine" "$T/$name.img"
        "$top/qemu/run.sh" -q -k "$KERNEL" -i "$INITRD" -m "$mem" -c "$cpus" -t 600 -l "$T/$name-read.log" \
            -d "$T/root.img" -d "$T/$name.img" -a "root=/dev/vda resume_init=skip bench=read mib=$dmib"
        read -r _ rm t0 t1 <<< "$(grep -Eo 'BENCH-READ [0-9]+ MiB [0-9.]+ [0-9.]+' "$T/$name-read.log" | sed 's/ MiB//')" || true
        [ -n "${t1:-}" ] && printf '        limit: dd reads the %s MiB on disk in %.3f s (%.0f MiB/s)\n' "$rm" "$(echo "$t1 - $t0" | bc)" \
            "$(echo "$rm / ($t1 - $t0 + 0.0001)" | bc -l)" >> "$report"
    done
done

# Budgets.
boot_log=$T/fresh.log
"$top/qemu/run.sh" -q -k "$KERNEL" -i "$INITRD" -m "$mem" -c "$cpus" -l "$boot_log" -d "$T/root.img" -a "root=/dev/vda"
{
    echo
    echo "budgets:"
    echo "  binary size: $(stat -c %s "$BIN") bytes"
    hwm=$(grep -ho 'peak memory (VmHWM) [0-9]* kB' "$T"/*-userspace-*.log 2>/dev/null | grep -Eo '[0-9]+' | sort -n | tail -n 1)
    echo "  init's peak memory before atomic restore (VmHWM of PID 1): ${hwm:-?} kB"
    echo "  first log line to exec of the real init, fresh boot: $(grep -Eo 'starting /sbin/init \([0-9]+ ms' "$boot_log" | grep -Eo '[0-9]+') ms"
    echo "  where the codecs lie (bench/hot-code.sh):"
    "$top/bench/hot-code.sh"
} >> "$report"
echo
cat "$report"
