#!/bin/bash
# QEMU boot tests of the roots other distributions install: btrfs
# (Fedora, openSUSE) and xfs (RHEL and its rebuilds), found by root=UUID=
# and root=LABEL=, their modules added with mkinitramfs.sh -m; a btrfs
# over two devices (refused with a hint, then mounted with
# rootflags=device=); a clear hold when the initramfs lacks the driver;
# and hibernate→resume cycles
# through a swap file on a btrfs root whose resume device and offset
# come from the initramfs (mkinitramfs.sh -r/-O), not the command line.
#
#   tests/fs.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

S=$T/fs
mkdir -p "$S"
BTRFS_UUID=b7f5c0de-0000-4000-8000-0000000b7f50
XFS_UUID=7f5c0de0-0000-4000-8000-0000000a7f50
FS_INIT='#!/bin/sh
echo "FS-INIT-OK pid=$$ fs=$(awk '"'"'$2=="/"{print $3}'"'"' /proc/mounts)"
poweroff -f'
build_initramfs
make_rootdir "$S/rootdir" "$FS_INIT"

# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

# btrfs straight from the directory; xfs (mkfs.xfs has no directory
# option in Debian 12) filled through a loop mount.
rm -f "$S/btrfs.img"; truncate -s 160M "$S/btrfs.img"
mkfs.btrfs -q -f -L fedora -U "$BTRFS_UUID" --rootdir "$S/rootdir" "$S/btrfs.img" >/dev/null 2>&1 \
    || echo "fs.sh: mkfs.btrfs failed" >&2
rm -f "$S/xfs.img"; truncate -s 300M "$S/xfs.img"
mkfs.xfs -q -f -L rhel-root -m uuid="$XFS_UUID" "$S/xfs.img" || echo "fs.sh: mkfs.xfs failed" >&2
mkdir -p "$S/mnt"
if mount -o loop "$S/xfs.img" "$S/mnt"; then
    cp -a "$S/rootdir/." "$S/mnt/"
    umount "$S/mnt"
else
    echo "fs.sh: cannot loop-mount the xfs image" >&2
fi

FS_INITRD=$T/initramfs-fs-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -m btrfs -m xfs -o "$FS_INITRD" >/dev/null

# fs_boot LOG IMAGE ARGS: a boot of the -m btrfs -m xfs initramfs.
fs_boot() { with_initrd "$FS_INITRD" boot "$1" -d "$2" -a "$3"; }

for c in "btrfs root=UUID=$BTRFS_UUID" "btrfs root=LABEL=fedora" "xfs root=UUID=$XFS_UUID" "xfs root=LABEL=rhel-root"; do
    fs=${c%% *}; arg=${c#* }
    case_begin "$fs root by $arg: probed, mounted as $fs, its init started"
    log=$S/$fs-$(echo "$arg" | cut -d= -f2).log
    fs_boot "$log" "$S/$fs.img" "$arg"
    expect_no_panic "$log"
    expect "$log" "resume-init: mounted /dev/vda \([0-9]+:[0-9]+, $fs, ro\) on /root" "the mount as $fs"
    expect "$log" "FS-INIT-OK pid=1 fs=$fs" "the real init on $fs"
    case_end
done

case_begin "btrfs over two devices: found by its UUID, refused with the hint, mounted with rootflags=device="
# Made on loop devices (mkfs.btrfs --rootdir takes one device only).
MULTI_UUID=b7f5c0de-0000-4000-8000-0000000d0d0d
rm -f "$S/m1.img" "$S/m2.img"; truncate -s 200M "$S/m1.img" "$S/m2.img"
l1=$(losetup -f --show "$S/m1.img"); l2=$(losetup -f --show "$S/m2.img")
mkfs.btrfs -q -f -d single -m raid1 -L multi -U "$MULTI_UUID" "$l1" "$l2" >/dev/null 2>&1 || check_fail "mkfs.btrfs on two devices failed"
if mount -o "device=$l1,device=$l2" "$l1" "$S/mnt"; then
    cp -a "$S/rootdir/." "$S/mnt/"
    umount "$S/mnt"
else
    check_fail "cannot loop-mount the two-device btrfs"
fi
losetup -d "$l1" "$l2"
with_initrd "$FS_INITRD" boot "$S/multi1.log" -d "$S/m1.img" -d "$S/m2.img" -a "root=UUID=$MULTI_UUID panic=0" -u "cannot continue|FS-INIT-OK"
with_initrd "$FS_INITRD" boot "$S/multi2.log" -d "$S/m1.img" -d "$S/m2.img" -a "root=UUID=$MULTI_UUID rootflags=device=/dev/vda,device=/dev/vdb"
expect_no_panic "$S/multi1.log"
expect "$S/multi1.log" "resume-init: cannot mount root=UUID=$MULTI_UUID \(/dev/vd[ab]\): the kernel refused its btrfs \(EINVAL \(invalid argument\)\): see dmesg \(multi-device btrfs: rootflags=device=DEV,…\)" "the refusal with the hint"
expect_no_panic "$S/multi2.log"
expect "$S/multi2.log" "resume-init: mounted /dev/vd[ab] \([0-9]+:[0-9]+, btrfs, ro\) on /root" "the mount with both devices"
expect "$S/multi2.log" "FS-INIT-OK pid=1 fs=btrfs" "the real init on the two-device btrfs"
case_end

case_begin "a btrfs root without its module in the initramfs: held with the reason"
boot "$S/nomod.log" -d "$S/btrfs.img" -a "root=LABEL=fedora panic=0" -u "cannot continue"
expect_no_panic "$S/nomod.log"
expect "$S/nomod.log" "it holds btrfs, which this kernel has no driver for; add the module to the initramfs \(mkinitramfs.sh -m btrfs\)" "the missing driver named"
expect "$S/nomod.log" "cannot continue; the system stays here" "the hold"
case_end

case_begin "swap file on a btrfs root, resume device stored in the initramfs (-r UUID= -O): hibernated into by the kernel and by resume-init hibernate (which finds the file's disk page itself), resumed"
# The swap file is made as btrfs wants it (NOCOW, preallocated) by
# btrfs-progs on a loop mount; its header's physical page is what
# map-swapfile -r prints.
BSWAP_UUID=b7f5c0de-0000-4000-8000-00000005ba9f
rm -f "$S/bswap.img"; truncate -s 400M "$S/bswap.img"
mkfs.btrfs -q -f -L bswap -U "$BSWAP_UUID" --rootdir "$R/rootdir" "$S/bswap.img" >/dev/null 2>&1 || check_fail "mkfs.btrfs failed"
off=""
if mount -o loop "$S/bswap.img" "$S/mnt"; then
    btrfs filesystem mkswapfile --size 200m "$S/mnt/swapfile" >/dev/null 2>&1 || check_fail "btrfs filesystem mkswapfile failed"
    off=$(btrfs inspect-internal map-swapfile -r "$S/mnt/swapfile" 2>/dev/null)
    umount "$S/mnt"
fi
[ -n "$off" ] || check_fail "no resume offset from btrfs inspect-internal map-swapfile"
BSWAP_INITRD=$T/initramfs-bswap-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -m btrfs -r "UUID=$BSWAP_UUID" -O "${off:-0}" -o "$BSWAP_INITRD" >/dev/null
with_initrd "$BSWAP_INITRD" boot_disks "$S/b1.log" "$S/bswap.img" -- root=LABEL=bswap rw noresume hib=tokB swap=/swapfile
with_initrd "$BSWAP_INITRD" boot_disks "$S/b2.log" "$S/bswap.img" -- root=LABEL=bswap rw noresume
# And resume-init hibernate into the same file, told nothing (resume=none:
# no /sys/power/resume): it maps the file's btrfs address to the disk
# through the chunk tree itself, to the page map-swapfile -r printed.
with_initrd "$BSWAP_INITRD" write_image "$S/b3.log" tokC "$S/bswap.img" -- root=LABEL=bswap rw noresume resume=none swap=/swapfile writer=lzo wforce=1
with_initrd "$BSWAP_INITRD" resume "$S/b4.log" tokC "$S/bswap.img" -- root=LABEL=bswap rw noresume
expect "$S/b3.log" "hibernating to /swapfile \(/dev/vda, [0-9]+:[0-9]+, header at page $off\)" "the writer finding the swap file's disk page by itself"
expect_no_panic "$S/b1.log"
expect "$S/b1.log" "resume=UUID=$BSWAP_UUID from /conf/conf.d/resume" "the stored resume device"
expect "$S/b1.log" "HIBERNATING token=tokB" "boot 1 reaching hibernation"
expect "$S/b1.log" "PM: hibernation: Wrote [0-9]+ kbytes" "the kernel writing into the swap file"
expect_not "$S/b1.log" "SWAPON-FAILED" "swapon of the btrfs swap file failing"
expect_no_panic "$S/b2.log"
expect "$S/b2.log" "resume-init: hibernation image found on /dev/vda:" "the image in the swap file"
expect "$S/b2.log" "RESUMED token=tokB proc=sh -c while :; do sleep 1; done holder-tokB  rc=0" "the session back"
case_end
