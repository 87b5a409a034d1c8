#!/bin/bash
# Benchmark: time to the session back, as a user feels it, with
# resume-init's initramfs against the distributions' own.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Benchmark: time from QEMU start to the restored session's marker, with
resume-init's initramfs against Debian's own (initramfs-tools, the
/boot/initrd.img-VERSION update-initramfs built for the kernel) and a
dracut initramfs (Debian's dracut-core, generic: every driver, its
`resume` module, systemd inside); same image, same VM, alternating.
(Host-only dracut images are smaller, but dracut cannot tell the
drivers of a VM guest from this host, and in a container it falls back
to generic anyway.)

  bench/session.sh [-k KERNEL_VERSION] [-s "SIZES_MiB"] [-r RUNS] [-m MiB] [-p CPUS] [-i "KINDS"]

  -s  MiB of random data in a ramfs before hibernating (default "0 400";
      0 = an idle system)
  -r  runs per initramfs (default 3), alternating the kinds
  -m  guest memory (default 2048)       -p  vCPUs (default 1)
  -i  which initramfs: any of resume-init every-driver debian dracut
      (default all; every-driver: resume-init's with every disk driver
      loaded whatever the hardware, its list without the alias patterns)

Boot 1 (resume-init's initramfs, the kernel's own writer, LZO) writes
one image per size; every run starts from a copy of that same disk. The
table gives the wall time (QEMU start to "BENCH-RESUMED" on the serial
console) and, from the kernel log's timestamps, where it went: kernel
boot to /init ("Run /init"), /init to the image found (resume-init:
"hibernation image found"; the kernel's loader: "resume from
hibernation"), loading ("loaded N pages" / "Image loading done"), and
the rest to the marker (restore, the session's own wake-up). A fresh
boot of resume-init's initramfs gives the time to the real init.
Not part of the test suite: it prints figures, it passes or fails nothing.
EOF
    exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
sizes="0 400"
runs=3
mem=2048
cpus=1
kinds="resume-init every-driver debian dracut"
kver_arg=""
while getopts "k:s:r:m:p:i:h" opt; do
    case $opt in
        k) kver_arg=$OPTARG ;;
        s) sizes=$OPTARG ;;
        r) runs=$OPTARG ;;
        m) mem=$OPTARG ;;
        p) cpus=$OPTARG ;;
        i) kinds=$OPTARG ;;
        *) usage ;;
    esac
done
prepare --build

T=$top/build/bench-session
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
[ -z "$kver_arg" ] || use_kernel "$kver_arg"
mkdir -p "$T"
declare -A initrd fresh
initrd[resume-init]=$T/initramfs-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -o "${initrd[resume-init]}" >/dev/null
# The same initramfs loading every disk driver whatever the hardware (no
# alias patterns in its list), as before the matching: its effect.
initrd[every-driver]=$T/initramfs-every-driver-$KVER.cpio.gz
rm -rf "$T/unpack"; mkdir -p "$T/unpack"
at=$(gzip_at "${initrd[resume-init]}")
tail -c +"$at" "${initrd[resume-init]}" | zcat | (cd "$T/unpack" && cpio -idm --quiet)
sed -i '/^@/d' "$T/unpack/etc/resume-init/modules"
{ head -c $((at - 1)) "${initrd[resume-init]}"; (cd "$T/unpack" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -9n); } > "${initrd[every-driver]}"
initrd[debian]=/boot/initrd.img-$KVER
[ -f "${initrd[debian]}" ] || update-initramfs -c -k "$KVER" >/dev/null
initrd[dracut]=$T/dracut-$KVER.img
if [[ " $kinds " == *" dracut "* ]] && [ ! -s "${initrd[dracut]}" ]; then
    command -v dracut >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dracut-core >/dev/null
    dracut --quiet --force --no-hostonly --add resume --kver "$KVER" "${initrd[dracut]}"
fi

make_rootdir "$T/rootdir" '#!/bin/sh
mount -t tmpfs tmpfs /tmp
if [ "$bench" = hibernate ]; then
  # ramfs, not tmpfs: its pages cannot be swapped out, so they land in the image.
  mount -t ramfs ramfs /mnt
  [ "$size" -gt 0 ] && dd if=/dev/urandom of=/mnt/blob bs=1048576 count="$size" 2>/dev/null
  swapon /dev/vdb
  echo "BENCH-HIBERNATING"
  echo disk > /sys/power/state
  echo "BENCH-RESUMED"
  poweroff -f
fi
echo "BENCH-FRESH"
poweroff -f'
# /etc/os-release: systemd in dracut's initramfs switches only to an OS tree.
echo "ID=bench" > "$T/rootdir/etc/os-release"
mkext4 "$T/root.img" 64 "$T/rootdir" -L benchroot

# ts LOG REGEX: the kernel timestamp of the first line matching REGEX.
ts() { grep -aEm1 -- "$2" "$1" | sed -E 's/^.*\[ *([0-9]+\.[0-9]+)\].*/\1/'; }
# med "v1 v2 …": the median.
med() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
mm() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.2f–%.2f", a[1], a[NR]}'; }

report=$T/report.txt
{
    echo "session benchmark, $(date -u +%Y-%m-%d), kernel $KVER, QEMU $(qemu-system-x86_64 --version | head -1 | grep -Eo '[0-9]+\.[0-9.]+' | head -1) $( [ "${RESUME_INIT_KVM:-0}" = 1 ] && echo KVM || echo TCG), -m $mem -smp $cpus"
    echo "host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    for k in $kinds; do echo "initramfs $k: $(du -k "${initrd[$k]}" | cut -f1) KiB"; done
    printf '%-5s %-12s | %-12s %6s | %7s %8s %8s %8s | %s\n' MiB initramfs "wall s min–max" median "→/init" "→found" loading other "resume-init ÷ it"
} > "$report"

for size in $sizes; do
    swap=$T/swap-$size.img
    rm -f "$swap"; truncate -s $(( size * 3 / 2 + 512 ))M "$swap"; mkswap -q "$swap"
    echo "== $size MiB: boot 1 writes the image"
    "$top/qemu/run.sh" -q -k "$KERNEL" -i "${initrd[resume-init]}" -m "$mem" -c "$cpus" -t 900 -l "$T/write-$size.log" \
        -d "$T/root.img" -d "$swap" -a "root=/dev/vda resume=/dev/vdb noresume bench=hibernate size=$size"
    "$BIN" inspect "$swap" > "$T/inspect-$size.txt" || { echo "   no image written; see $T/write-$size.log"; continue; }
    cp --sparse=always "$swap" "$swap.pristine"
    declare -A walls=() boot=() found=() load=() rest=()
    for r in $(seq 1 "$runs"); do
        for k in $kinds; do
            cp --sparse=always "$swap.pristine" "$swap"
            log=$T/$k-$size-$r.log
            args="root=/dev/vda resume=/dev/vdb"
            [[ $k = resume-init || $k = every-driver ]] && args+=" noresume"
            t0=$(date +%s.%N)
            "$top/qemu/run.sh" -q -k "$KERNEL" -i "${initrd[$k]}" -m "$mem" -c "$cpus" -t 900 -l "$log" -u "BENCH-RESUMED" \
                -d "$T/root.img" -d "$swap" -a "$args" || true
            wall=$(echo "$(date +%s.%N) - $t0" | bc)
            grep -q "BENCH-RESUMED" "$log" || { echo "   $k run $r did not resume; see $log"; continue; }
            init=$(ts "$log" 'Run /init as init process')
            if [[ $k = resume-init || $k = every-driver ]]; then
                f=$(ts "$log" 'resume-init: hibernation image found'); l=$(ts "$log" 'resume-init: loaded [0-9]+ pages')
            else
                f=$(ts "$log" 'PM: hibernation: resume from hibernation'); l=$(ts "$log" 'PM: Image loading done')
            fi
            walls[$k]+=" $wall"; boot[$k]+=" $init"
            found[$k]+=" $(echo "$f - $init" | bc)"; load[$k]+=" $(echo "$l - $f" | bc)"
            printf '   %-12s run %s: %6.2f s wall; /init at %s s, image found %s s, loaded %s s\n' "$k" "$r" "$wall" "$init" "$f" "$l"
        done
    done
    base=""
    for k in $kinds; do
        [ -n "${walls[$k]:-}" ] || continue
        w=$(med "${walls[$k]}"); [ -n "$base" ] || base=$w
        b=$(med "${boot[$k]}"); f=$(med "${found[$k]}"); l=$(med "${load[$k]}")
        rest=$(echo "$w - $b - $f - $l" | bc)
        printf '%-5s %-12s | %-12s %6s | %7s %8s %8s %8.2f | %s\n' "$size" "$k" "$(mm "${walls[$k]}")" "$w" "$b" "$f" "$l" "$rest" \
            "$(echo "scale=2; $base / $w" | bc)" >> "$report"
    done
done

# A fresh boot (no image): the first log line to the exec of the real
# init, drivers matched to the hardware and every driver, alternating.
echo >> "$report"
for k in resume-init every-driver; do fresh[$k]=""; done
for r in $(seq 1 "$runs"); do
    for k in resume-init every-driver; do
        "$top/qemu/run.sh" -q -k "$KERNEL" -i "${initrd[$k]}" -m "$mem" -c "$cpus" -l "$T/fresh-$k-$r.log" -d "$T/root.img" -a "root=/dev/vda"
        fresh[$k]+=" $(grep -Eo 'starting /sbin/init \([0-9]+ ms' "$T/fresh-$k-$r.log" | grep -Eo '[0-9]+')"
    done
done
for k in resume-init every-driver; do
    echo "fresh boot, $k: first log line to exec of the real init, ms:${fresh[$k]}" >> "$report"
done
echo
cat "$report"
