#!/bin/bash
# QEMU hibernate→resume tests: boot 1 goes through resume-init into an
# ext4 root whose init turns swap on, leaves a token in tmpfs and in a
# running process, and hibernates (the kernel writes the image and powers
# off); boot 2 goes through resume-init, which restores the image, and the
# resumed system prints the token from both places. `inspect` checks the
# image on the host between the boots, and the swap header afterwards.
#
#   tests/resume.sh      (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

R=$T/resume
mkdir -p "$R"
INSPECT=$top/target/x86_64-unknown-linux-musl/release/resume-init
SWAP_UUID=8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d
FILEROOT_UUID=1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9
MEM=${MEM:-512}

# The root's init: with hib=TOKEN on the command line it hibernates, and
# prints RESUMED when the hibernated system comes back; without, it says
# FRESH-BOOT. swap= names the swap area to turn on.
RESUME_INIT_SCRIPT='#!/bin/sh
mount -t tmpfs tmpfs /tmp
if [ -n "$hib" ]; then
  swapon "${swap:-/dev/vdb}" || echo "SWAPON-FAILED"
  echo "$hib" > /tmp/token
  sh -c "while :; do sleep 1; done" "holder-$hib" &
  pid=$!
  echo "HIBERNATING token=$hib"
  echo disk > /sys/power/state
  rc=$?
  echo "RESUMED token=$(cat /tmp/token) proc=$(tr "\0" " " < /proc/$pid/cmdline) rc=$rc"
  poweroff -f
fi
echo "FRESH-BOOT"
poweroff -f'

build_initramfs
make_rootdir "$R/rootdir" "$RESUME_INIT_SCRIPT"
mkext4 "$R/root.img" 64 "$R/rootdir" -L resroot
new_swap() { rm -f "$1"; truncate -s 256M "$1"; mkswap -q -L testswap -U "$SWAP_UUID" "$1"; }

# inspect_status IMAGE [OFFSET]: resume-init inspect's exit status.
inspect_status() {
    local s=0
    "$INSPECT" inspect --offset "${2:-0}" "$1" > "$R/inspect.out" 2>&1 || s=$?
    echo $s
}

# hibernate LOG TOKEN DISK… -- PARAMS: boot 1, expecting an image written.
hibernate() {
    local log=$1 token=$2; shift 2
    local disks=()
    while [ "$1" != "--" ]; do disks+=(-d "$1"); shift; done
    shift
    boot "$log" -m "$MEM" "${disks[@]}" -a "$* hib=$token"
    expect_no_panic "$log"
    expect "$log" "HIBERNATING token=$token" "boot 1 reaching hibernation"
    expect "$log" "PM: hibernation: Wrote [0-9]+ kbytes" "the kernel writing its image"
    expect_not "$log" "SWAPON-FAILED" "swapon failing"
}

# resume LOG TOKEN DISK… -- PARAMS: boot 2, expecting the system back.
resume() {
    local log=$1 token=$2; shift 2
    local disks=()
    while [ "$1" != "--" ]; do disks+=(-d "$1"); shift; done
    shift
    boot "$log" -m "$MEM" "${disks[@]}" -a "$*"
    expect_no_panic "$log"
    expect "$log" "resume-init: hibernation image found on " "the image found"
    expect "$log" "resume-init: loaded [0-9]+ pages \([0-9.]+ MiB\) in [0-9.]+ s \([0-9.]+ MiB/s\)" "the summary line"
    expect "$log" "RESUMED token=$token proc=sh -c while :; do sleep 1; done holder-$token  rc=0" "the token from tmpfs and from the running process"
    expect_not "$log" "FRESH-BOOT" "a fresh boot instead of the resume"
}

case_begin "uncompressed image (hibernate=nocompress), resume=/dev/vdb; inspect between boots"
new_swap "$R/swap.img"
hibernate "$R/nocomp1.log" tokU1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume hibernate=nocompress
expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
expect "$R/inspect.out" "compression: +none" "inspect naming the compression"
resume "$R/nocomp2.log" tokU1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
expect "$R/nocomp2.log" "compression none" "an uncompressed image"
expect_eq "$(inspect_status "$R/swap.img")" 1 "inspect after the resume (signature put back)"
expect "$R/inspect.out" "signature: +SWAPSPACE2" "the original swap signature"
case_end

case_begin "LZO image (the default), resume=UUID= of the swap area; inspect agrees"
new_swap "$R/swap.img"
hibernate "$R/lzo1.log" tokL1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=UUID=$SWAP_UUID noresume
expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
expect "$R/inspect.out" "computed crc32: +[0-9a-f]{8} \(matches\)" "inspect checking the CRC"
resume "$R/lzo2.log" tokL1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=UUID=$SWAP_UUID noresume
expect "$R/lzo2.log" "compression LZO" "an LZO image"
expect "$R/lzo2.log" "resume-init: image CRC32 [0-9a-f]{8} verified" "the CRC verified"
expect_eq "$(inspect_status "$R/swap.img")" 1 "inspect after the resume"
case_end

case_begin "swap file on the ext4 root with resume_offset="
make_rootdir "$R/fileroot" "$RESUME_INIT_SCRIPT"
# A swap file must have no holes: fill it, then mkswap keeps the data.
head -c 192M /dev/urandom > "$R/fileroot/swapfile"
chmod 600 "$R/fileroot/swapfile"
mkswap -q "$R/fileroot/swapfile"
mkext4 "$R/fileroot.img" 320 "$R/fileroot" -b 4096 -L fileroot -U "$FILEROOT_UUID"
offset=$(debugfs -R "bmap /swapfile 0" "$R/fileroot.img" 2>/dev/null | tail -n 1)
echo "        swap file at page $offset"
hibernate "$R/file1.log" tokF1 "$R/fileroot.img" -- root=/dev/vda rw resume=UUID=$FILEROOT_UUID resume_offset=$offset noresume swap=/swapfile
expect_eq "$(inspect_status "$R/fileroot.img" "$offset")" 0 "inspect --offset $offset of the root disk"
resume "$R/file2.log" tokF1 "$R/fileroot.img" -- root=/dev/vda rw resume=UUID=$FILEROOT_UUID resume_offset=$offset noresume
expect_eq "$(inspect_status "$R/fileroot.img" "$offset")" 1 "inspect after the resume"
case_end

case_begin "three hibernate→resume cycles in a row on the same disks, then a normal boot"
new_swap "$R/swap.img"
for i in 1 2 3; do
    hibernate "$R/cycle$i-a.log" tokC$i "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
    resume "$R/cycle$i-b.log" tokC$i "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
done
boot "$R/cycle-fresh.log" -m "$MEM" -d "$R/root.img" -d "$R/swap.img" -a "root=/dev/vda resume=/dev/vdb noresume"
expect_no_panic "$R/cycle-fresh.log"
expect "$R/cycle-fresh.log" "resume-init: no hibernation image on /dev/vdb" "no old image found again"
expect "$R/cycle-fresh.log" "FRESH-BOOT" "a fresh boot"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the swap header after all cycles"
case_end

case_begin "resume_init=skip discards the image and boots fresh"
new_swap "$R/swap.img"
hibernate "$R/skip1.log" tokS1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
boot "$R/skip2.log" -m "$MEM" -d "$R/root.img" -d "$R/swap.img" -a "root=/dev/vda resume=/dev/vdb noresume resume_init=skip"
expect_no_panic "$R/skip2.log"
expect "$R/skip2.log" "resume_init=skip: not resuming from /dev/vdb" "the skip message"
expect "$R/skip2.log" "FRESH-BOOT" "a fresh boot"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
case_end

case_begin "resume_init=kernel hands the image to the kernel's own loader"
new_swap "$R/swap.img"
hibernate "$R/kern1.log" tokK1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
boot "$R/kern2.log" -m "$MEM" -d "$R/root.img" -d "$R/swap.img" -a "root=/dev/vda resume=/dev/vdb noresume resume_init=kernel"
expect_no_panic "$R/kern2.log"
expect "$R/kern2.log" "resume_init=kernel: handing /dev/vdb" "the hand-over"
expect "$R/kern2.log" "PM: (hibernation: )?Loading and decompressing image data|PM: Image loading progress" "the kernel's loader at work"
expect "$R/kern2.log" "RESUMED token=tokK1 " "the system back"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
case_end
