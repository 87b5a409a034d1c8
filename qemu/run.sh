#!/bin/bash
# Boots a kernel with an initramfs and disks under QEMU, on the serial console.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Boots a kernel with an initramfs and disk images under QEMU, serial
console only, and returns when the guest powers off, when the console
shows a given pattern, or at a timeout.

  qemu/run.sh [--arch x86_64|arm64] [-k KERNEL] [-i INITRD] [-d DISK]... [-m MiB] [-c CPUS]
              [-a "KERNEL PARAMS"] [-t SECONDS] [-l LOG] [-u REGEX]
              [-p "REGEX::TEXT"]... [-e VARS] [-q]

  --arch arm64: qemu-system-aarch64 -M virt -cpu max, console ttyAMA0,
      always under TCG; -k is then required (a raw arm64 Image, as
      Debian's vmlinuz-VERSION-arm64 is), -e takes AAVMF_VARS.fd copies
  -k  kernel image (default: newest /boot/vmlinuz-*)
  -i  initramfs (default: build/initramfs.cpio.gz)
  -d  raw disk image, attached as virtio-blk in order (vda, vdb, …);
      FILE@4096 gives that disk 4096-byte logical and physical sectors,
      FILE@nvme makes it an NVMe drive (nvme0n1, …), FILE@sata a SATA
      disk on an AHCI controller, FILE@scsi one on virtio-scsi (sda, …)
  -m  guest memory in MiB (default 512)      -c  CPUs (default 1)
  -a  kernel parameters added after "console=ttyS0 panic=-1" (ttyAMA0 on arm64)
  -t  timeout in seconds (default 180)       -l  serial log file
  -u  stop as soon as a console line matches this extended regex
  -p  type TEXT and Enter on the console once REGEX has appeared (as
      often as earlier -p of the same REGEX, plus one): a passphrase
  -e  boot through UEFI firmware (Debian's ovmf: OVMF_CODE_4M.fd) with
      VARS as its writable variable store (a copy of OVMF_VARS_4M.fd)
  -q  do not copy the console to standard output

QEMU runs under TCG (software emulation) by default; RESUME_INIT_KVM=1
uses KVM instead. Exit status: 0 when the guest powered off or the -u
pattern appeared, 124 on timeout, otherwise QEMU's own status.
EOF
    exit 2
}

top=$(cd "$(dirname "$0")/.." && pwd)
arch=x86_64
if [ "${1:-}" = --arch ]; then
    case ${2:-} in
        x86_64|amd64) arch=x86_64 ;;
        arm64|aarch64) arch=arm64 ;;
        *) usage ;;
    esac
    shift 2
fi
kernel=""
[ $arch = x86_64 ] && kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
initrd=$top/build/initramfs.cpio.gz
disks=()
mem=512
cpus=1
append=""
timeout=180
log=""
until_re=""
quiet=0
answers=()
firmware=()

while getopts "k:i:d:m:c:a:t:l:u:p:e:qh" opt; do
    case $opt in
        k) kernel=$OPTARG ;;
        i) initrd=$OPTARG ;;
        d) disks+=("$OPTARG") ;;
        m) mem=$OPTARG ;;
        c) cpus=$OPTARG ;;
        a) append=$OPTARG ;;
        t) timeout=$OPTARG ;;
        l) log=$OPTARG ;;
        u) until_re=$OPTARG ;;
        p) answers+=("$OPTARG") ;;
        e) code=/usr/share/OVMF/OVMF_CODE_4M.fd
           [ $arch = arm64 ] && code=/usr/share/AAVMF/AAVMF_CODE.fd
           firmware=(-drive "if=pflash,format=raw,readonly=on,file=$code"
                     -drive "if=pflash,format=raw,file=$OPTARG") ;;
        q) quiet=1 ;;
        *) usage ;;
    esac
done
[ -n "$kernel" ] && [ -f "$kernel" ] || { echo "run.sh: no kernel (give -k)" >&2; exit 2; }
[ -f "$initrd" ] || { echo "run.sh: no initramfs at $initrd (scripts/mkinitramfs.sh makes one)" >&2; exit 2; }

own_log=0
if [ -z "$log" ]; then log=$(mktemp); own_log=1; fi
: > "$log"

accel=(-accel tcg)
if [ "${RESUME_INIT_KVM:-0}" = 1 ]; then accel=(-accel kvm -cpu host); fi
qemu=qemu-system-x86_64 console=ttyS0 machine=()
if [ $arch = arm64 ]; then
    # pauth-impdef: QEMU's own pointer-authentication hash, much cheaper
    # to emulate than the architected one; the guest cannot tell.
    qemu=qemu-system-aarch64 console=ttyAMA0 accel=(-accel tcg) machine=(-M virt -cpu max,pauth-impdef=on)
fi
# Every disk as an explicit device (virtio-blk-pci unless a suffix says
# otherwise), so that they enumerate in the order given whatever their
# sector size; one AHCI and one virtio-scsi controller for all SATA and
# SCSI disks.
drives=()
n=0 sata=0 scsi=0
for d in "${disks[@]}"; do
    n=$((n + 1))
    file=$d kind=virtio size=""
    while [[ $file =~ ^(.*)@([a-z0-9]+)$ ]]; do
        file=${BASH_REMATCH[1]}
        case ${BASH_REMATCH[2]} in
            nvme|sata|scsi) kind=${BASH_REMATCH[2]} ;;
            *[!0-9]*) echo "run.sh: unknown disk suffix @${BASH_REMATCH[2]} in $d" >&2; exit 2 ;;
            *) size=",logical_block_size=${BASH_REMATCH[2]},physical_block_size=${BASH_REMATCH[2]}" ;;
        esac
    done
    case $kind in
        virtio) dev="virtio-blk-pci,drive=disk$n$size" ;;
        nvme) dev="nvme,drive=disk$n,serial=resume-init-$n$size" ;;
        sata)
            [ $sata = 0 ] && drives+=(-device ahci,id=ahci0)
            dev="ide-hd,drive=disk$n,bus=ahci0.$sata$size"; sata=$((sata + 1)) ;;
        scsi)
            [ $scsi = 0 ] && drives+=(-device virtio-scsi-pci,id=scsi0)
            dev="scsi-hd,drive=disk$n,bus=scsi0.0,lun=$scsi$size"; scsi=$((scsi + 1)) ;;
    esac
    drives+=(-drive "file=$file,format=raw,if=none,id=disk$n,cache=unsafe" -device "$dev")
done

# With answers to type, the console is a pair of FIFOs (QEMU's pipe
# chardev): its output copied to the log, its input held open here
# (read-write, so nobody blocks on open).
serial=(-serial "file:$log")
catpid=""
if [ ${#answers[@]} -gt 0 ]; then
    fifo=$(mktemp -u)
    mkfifo "$fifo.in" "$fifo.out"
    exec 3<>"$fifo.in"
    cat "$fifo.out" >> "$log" &
    catpid=$!
    serial=(-chardev "pipe,id=con,path=$fifo" -serial chardev:con)
fi
"$qemu" "${machine[@]}" "${accel[@]}" -m "$mem" -smp "$cpus" -no-reboot \
    -display none -monitor none "${serial[@]}" "${firmware[@]}" \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=$console panic=-1 $append" \
    "${drives[@]}" 2> >(grep -v "terminating on signal" >&2) &
qpid=$!

tailpid=""
if [ $quiet = 0 ]; then
    tail -n +1 -f "$log" --pid=$qpid &
    tailpid=$!
fi

status=""
deadline=$((SECONDS + timeout))
typed=0
while kill -0 $qpid 2>/dev/null; do
    if [ $typed -lt ${#answers[@]} ]; then
        a=${answers[$typed]}
        re=${a%%::*}
        want=1
        for ((i = 0; i < typed; i++)); do [ "${answers[$i]%%::*}" = "$re" ] && want=$((want + 1)); done
        if [ "$(grep -Ec -- "$re" "$log")" -ge $want ]; then
            printf '%s\n' "${a#*::}" >&3
            typed=$((typed + 1))
        fi
    fi
    if [ -n "$until_re" ] && grep -Eq -- "$until_re" "$log"; then
        status=0
        break
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "run.sh: timeout after ${timeout}s" >&2
        status=124
        break
    fi
    sleep 0.2
done
if [ -n "$status" ]; then
    kill $qpid 2>/dev/null || true
    wait $qpid 2>/dev/null || true
else
    wait $qpid && status=0 || status=$?
fi
if [ -n "$tailpid" ]; then sleep 0.3; kill $tailpid 2>/dev/null || true; wait $tailpid 2>/dev/null || true; fi
if [ -n "$catpid" ]; then
    kill $catpid 2>/dev/null || true
    exec 3>&-
    rm -f "$fifo.in" "$fifo.out"
fi
[ $own_log = 1 ] && rm -f "$log"
exit $status
