#!/bin/bash
# QEMU tests of hibernation into a plain file: `resume-init hibernate
# --make-file` makes one on the ext4 root of a guest whose only swap is
# zram; `resume-init hibernate --file` writes the image into its blocks;
# resume-init (resume=UUID=<root> resume_offset=N) and the kernel's own
# loader restore it, with 64 MiB of random data in tmpfs intact. A file
# moved since the boot is refused, naming the offset to use; a boot that
# does not restore the image (resume=none) invalidates it before the root
# is mounted, and the root's filesystem checks clean afterwards.
#
#   tests/hibfile.sh   (sourced by scripts/test.sh, or run alone as root;
#                       HIBFILE_LONG=0 runs the first three cases only)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

H=$T/hibfile
mkdir -p "$H"
HF_INITRD=$T/initramfs-hibfile-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -m zram -o "$HF_INITRD" >/dev/null
HF_UUID=4b1bf11e-0000-4000-8000-00000000f11e
mkext4 "$H/root.img" 360 "$R/rootdir" -b 4096 -L hfroot -U "$HF_UUID"
hf_boot() { with_initrd "$HF_INITRD" boot_disks "$@"; }
# host_make_file IMAGE SIZE: a hibernation file /hibfile made by
# --make-file on the host in the filesystem IMAGE (loop-mounted: the same
# blocks the guest sees); prints its header's page.
host_make_file() {
    mkdir -p "$H/mnt"
    mount -o loop "$1" "$H/mnt" || return 1
    "$BIN" hibernate --make-file "$H/mnt/hibfile" --size "$2" 2>&1 | grep -Eo 'resume_offset=[0-9]+' | head -n 1 | cut -d= -f2
    umount "$H/mnt"
}

case_begin "resume-init hibernate --make-file on an ext4 root: every block allocated, immutable, the command line printed"
hf_boot "$H/m1.log" "$H/root.img" -- root=/dev/vda rw mkfile=/hibfile mksize=200M
expect_no_panic "$H/m1.log"
expect "$H/m1.log" "MKFILE-DONE" "the file made"
off=$(grep -Eo "resume=UUID=$HF_UUID resume_offset=[0-9]+" "$H/m1.log" | head -n 1 | sed 's/.*resume_offset=//')
[ -n "$off" ] || check_fail "no resume= line with the root's UUID and an offset"
off=${off:-0}
bmap=$(debugfs -R "bmap /hibfile 0" "$H/root.img" 2>/dev/null | tail -n 1)
expect_eq "$off" "$bmap" "the printed offset against debugfs's block of the file's first page"
flags=$(debugfs -R "stat /hibfile" "$H/root.img" 2>/dev/null | grep -Eo 'Flags: 0x[0-9a-f]+' | head -n 1 | cut -d' ' -f2)
(( ${flags:-0} & 0x10 )) || check_fail "the file is not immutable (inode flags ${flags:-none})"
expect_eq "$(debugfs -R "stat /hibfile" "$H/root.img" 2>/dev/null | grep -Eo 'Size: [0-9]+' | head -n 1)" "Size: 209715200" "its size"
case_end

HF_ARGS="root=/dev/vda rw resume=UUID=$HF_UUID resume_offset=$off noresume"

case_begin "a zram-only guest hibernates into the file (resume-init hibernate --file), restored by resume-init with 64 MiB of data intact"
with_initrd "$HF_INITRD" write_image "$H/w1.log" tokF1 "$H/root.img" -- $HF_ARGS swap=none zram=1 fill=64 writer=lzo wfile=/hibfile
expect "$H/w1.log" "ZRAM-SWAP-ON" "zram as the only swap"
expect "$H/w1.log" "resume-init: hibernating to /hibfile \(/dev/vda, [0-9]+:[0-9]+, header at page $off\)" "the file as the target"
expect "$H/w1.log" "resume-init: image committed on /hibfile" "the commit into the file"
expect_eq "$(inspect_status "$H/root.img" "$off")" 0 "inspect of the image in the file's blocks"
with_initrd "$HF_INITRD" resume "$H/w2.log" tokF1 "$H/root.img" -- $HF_ARGS
expect "$H/w2.log" "resume-init: hibernation image found on /dev/vda" "the image found at the file's first page"
expect "$H/w2.log" "FILL-OK" "64 MiB of random data in tmpfs intact"
expect_eq "$(inspect_status "$H/root.img" "$off")" 1 "the file's header unmarked after the resume"
case_end

case_begin "the same kind of image restored by the kernel's own loader (resume_init=kernel)"
with_initrd "$HF_INITRD" write_image "$H/k1.log" tokF2 "$H/root.img" -- $HF_ARGS swap=none zram=1 writer=lzo wfile=/hibfile
hf_boot "$H/k2.log" "$H/root.img" -- $HF_ARGS resume_init=kernel
expect_no_panic "$H/k2.log"
expect "$H/k2.log" "resume_init=kernel: handing /dev/vda" "the hand-over to the kernel"
expect "$H/k2.log" "RESUMED token=tokF2 " "the session back through the kernel's loader"
case_end

if kernel_at_least 6 8; then
    case_begin "a kernel that refuses writes to a mounted filesystem's device (bdev_allow_write_mounted=0): refused before the freeze"
    hf_boot "$H/wm.log" "$H/root.img" -- $HF_ARGS bdev_allow_write_mounted=0 hib=tokWM swap=none writer=lzo wfile=/hibfile
    expect_no_panic "$H/wm.log"
    expect "$H/wm.log" "this kernel refuses writes to the device of a mounted filesystem \(CONFIG_BLK_DEV_WRITE_MOUNTED=n or bdev_allow_write_mounted=0\)" "the reason"
    expect "$H/wm.log" "STILL-RUNNING token=tokWM" "the session going on"
    expect_not "$H/wm.log" "Freezing user space" "a freeze"
    case_end
fi

# HIBFILE_LONG=0 (the second kernel): the cases above only.
[ "${HIBFILE_LONG:-1}" = 1 ] || return 0 2>/dev/null || exit 0

case_begin "the file moved since the boot (a stale resume_offset): the writer refuses, naming the offset; the session goes on"
hf_boot "$H/s1.log" "$H/root.img" -- root=/dev/vda rw resume=UUID=$HF_UUID resume_offset=$((off + 8)) noresume hib=tokF3 swap=none writer=lzo wfile=/hibfile
expect_no_panic "$H/s1.log"
expect "$H/s1.log" "not hibernating into /hibfile: the boot named device [0-9]+:[0-9]+ page $((off + 8)), but its first page is $off on [0-9]+:[0-9]+ .*resume=UUID=$HF_UUID resume_offset=$off" "the refusal naming the right offset"
expect "$H/s1.log" "STILL-RUNNING token=tokF3" "the session going on"
expect_eq "$(inspect_status "$H/root.img" "$off")" 1 "nothing written into the file"
case_end

case_begin "resume=none after an image in the file (the place stored in the initramfs): discarded before the root is mounted; the root checks clean"
STORED_INITRD=$T/initramfs-hibfile-stored-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -m zram -r "UUID=$HF_UUID" -O "$off" -o "$STORED_INITRD" >/dev/null
with_initrd "$HF_INITRD" write_image "$H/n1.log" tokF4 "$H/root.img" -- $HF_ARGS swap=none writer=lzo wfile=/hibfile
with_initrd "$STORED_INITRD" boot_disks "$H/n2.log" "$H/root.img" -- root=/dev/vda rw resume=none
expect_no_panic "$H/n2.log"
expect "$H/n2.log" "resume-init: hibernation image on /dev/vda invalidated" "the image discarded"
expect "$H/n2.log" "resume=none: not resuming from /dev/vda" "resume=none named"
expect "$H/n2.log" "FRESH-BOOT" "a fresh boot"
expect_not "$H/n2.log" "RESUMED" "a restore"
expect_eq "$(inspect_status "$H/root.img" "$off")" 1 "the image invalidated"
e2fsck -fn "$H/root.img" > "$H/fsck.out" 2>&1 || check_fail "e2fsck -fn of the root after the fresh boot: $(tail -n 3 "$H/fsck.out")"
case_end

case_begin "a flipped byte in the image in the file: refused, invalidated, the root mounts and checks clean"
with_initrd "$HF_INITRD" write_image "$H/f1.log" tokF5 "$H/root.img" -- $HF_ARGS swap=none writer=lzo wfile=/hibfile
for k in 400 401 402 403; do flip "$H/root.img" $(( $(entry "$H/root.img" $k "$off") * 4096 + 1000 )) 0x20; done
hf_boot "$H/f2.log" "$H/root.img" -- $HF_ARGS
expect_no_panic "$H/f2.log"
expect "$H/f2.log" "image on /dev/vda refused: (CRC32 mismatch|a LZO chunk does not decompress|a chunk decompressed to|a compressed chunk claims)" "the damage found"
expect "$H/f2.log" "FRESH-BOOT" "a fresh boot"
expect_eq "$(inspect_status "$H/root.img" "$off")" 1 "the image invalidated"
e2fsck -fn "$H/root.img" > "$H/fsck.out" 2>&1 || check_fail "e2fsck -fn of the root: $(tail -n 3 "$H/fsck.out")"
case_end

case_begin "a file too small for the image: the writer fails cleanly, the file's header unmarked, the session goes on"
mkext4 "$H/small.img" 120 "$R/rootdir" -b 4096 -L hfsmall -U 4b1bf11e-0000-4000-8000-0000000005aa
small_off=$(host_make_file "$H/small.img" 8M)
[ -n "$small_off" ] || check_fail "no offset from --make-file on the host"
hf_boot "$H/t1.log" "$H/small.img" -- root=/dev/vda rw resume=UUID=4b1bf11e-0000-4000-8000-0000000005aa resume_offset=${small_off:-0} noresume hib=tokF6 swap=none fill=16 writer=lzo wfile=/hibfile
expect_no_panic "$H/t1.log"
expect "$H/t1.log" "resume-init: cannot write the image to /hibfile: .*its header is untouched" "the failure named"
expect "$H/t1.log" "STILL-RUNNING token=tokF6" "the session going on"
expect_eq "$(inspect_status "$H/small.img" "${small_off:-0}")" 1 "no image in the file"
case_end

# hf_fs NAME IMAGE UUID INITRD ARGS…: a root of another filesystem (made
# by the caller) given a hibernation file on the host, then a
# write→restore cycle through it; sets hf_off.
hf_fs() {
    local name=$1 img=$2 uuid=$3 initrd=$4; shift 4
    hf_off=$(host_make_file "$img" 160M)
    [ -n "$hf_off" ] || { check_fail "no offset from --make-file on the host ($name)"; return; }
    with_initrd "$initrd" write_image "$H/$name-1.log" "tok$name" "$img" -- "$@" resume=UUID=$uuid resume_offset=$hf_off noresume swap=none zram=1 writer=lzo wfile=/hibfile
    with_initrd "$initrd" resume "$H/$name-2.log" "tok$name" "$img" -- "$@" resume=UUID=$uuid resume_offset=$hf_off noresume
    expect_eq "$(inspect_status "$img" "$hf_off")" 1 "the file's header unmarked after the resume"
}

XFS_INITRD=$T/initramfs-hibfile-xfs-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -m zram -m xfs -m btrfs -o "$XFS_INITRD" >/dev/null

case_begin "a hibernation file on an xfs root: written and restored"
HX_UUID=4b1bf11e-0000-4000-8000-00000000a0f5
rm -f "$H/xfs.img"; truncate -s 400M "$H/xfs.img"
mkdir -p "$H/mnt"
mkfs.xfs -q -f -m uuid=$HX_UUID "$H/xfs.img" && mount -o loop "$H/xfs.img" "$H/mnt" && cp -a "$R/rootdir/." "$H/mnt/" && umount "$H/mnt" \
    && hf_fs xfs "$H/xfs.img" "$HX_UUID" "$XFS_INITRD" root=/dev/vda rw || check_fail "cannot make the xfs root"
case_end

case_begin "a hibernation file on a btrfs root (NOCOW, mapped through the chunk tree): written and restored"
HB_UUID=4b1bf11e-0000-4000-8000-00000000b7f5
rm -f "$H/btrfs.img"; truncate -s 400M "$H/btrfs.img"
mkfs.btrfs -q -f -U "$HB_UUID" --rootdir "$R/rootdir" "$H/btrfs.img" >/dev/null 2>&1 \
    && hf_fs btrfs "$H/btrfs.img" "$HB_UUID" "$XFS_INITRD" root=/dev/vda rw || check_fail "cannot make the btrfs root"
expect "$H/btrfs-1.log" "resume-init: hibernating to /hibfile \(/dev/vda, " "the btrfs file mapped to its disk"
case_end

case_begin "a hibernation file on an ext4 root inside LUKS2: the image is encrypted on disk, restored after the unlock"
printf 'root key for the tests\n' > "$H/root.key"
HL_UUID=4b1bf11e-0000-4000-8000-0000000011c5
HL_LUKS=4c554b53-6869-6266-696c-650000000001
rm -f "$H/luks.img"; truncate -s 400M "$H/luks.img"
mkext4 "$H/luksfs.img" 380 "$R/rootdir" -b 4096 -U "$HL_UUID"
hl_off=$(host_make_file "$H/luksfs.img" 160M)
dd if="$H/luksfs.img" of="$H/luks.img" conv=notrunc status=none
cryptsetup reencrypt -q --encrypt --type luks2 --reduce-device-size 16M --uuid "$HL_LUKS" "${TEST_KDF[@]}" \
    --key-file "$H/root.key" "$H/luks.img" >/dev/null 2>&1 || check_fail "cryptsetup reencrypt --encrypt failed"
LUKS_HF_INITRD=$T/initramfs-hibfile-luks-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -m zram -f "$H/root.key:/etc/keys/root.key" -o "$LUKS_HF_INITRD" >/dev/null
HL_ARGS="root=/dev/mapper/root rw rd.luks.name=$HL_LUKS=root rd.luks.key=/etc/keys/root.key resume=UUID=$HL_UUID resume_offset=${hl_off:-0} noresume"
# Uncompressed images, so that what was in memory is on disk as it was:
# first the control, the same filesystem unencrypted, where the session's
# token must be found; then inside the container, where it must not.
with_initrd "$LUKS_HF_INITRD" write_image "$H/l0.log" tokSECRET7f3a9c "$H/luksfs.img" -- root=/dev/vda rw resume=UUID=$HL_UUID resume_offset=${hl_off:-0} noresume swap=none writer=none wfile=/hibfile
grep -aq "tokSECRET7f3a9c" "$H/luksfs.img" || check_fail "control: the session's token not found in the unencrypted root's raw disk (the check below would prove nothing)"
with_initrd "$LUKS_HF_INITRD" write_image "$H/l1.log" tokSECRET7f3a9c "$H/luks.img" -- $HL_ARGS swap=none writer=none wfile=/hibfile
grep -aq "tokSECRET7f3a9c" "$H/luks.img" && check_fail "the session's token is in the raw disk image: the image is not encrypted"
with_initrd "$LUKS_HF_INITRD" resume "$H/l2.log" tokSECRET7f3a9c "$H/luks.img" -- $HL_ARGS
expect "$H/l2.log" "resume-init: unlocked /dev/vda .* as /dev/mapper/root" "the unlock before the resume"
case_end

case_begin "six write→restore cycles into the file, alternating the two loaders"
with_initrd "$HF_INITRD" boot_disks "$H/c0.log" "$H/root.img" -- $HF_ARGS swap=none writer=lzo wfile=/hibfile cycles=6 hib=tokCF
expect "$H/c0.log" "resume-init: image committed on /hibfile" "the first image"
for i in $(seq 1 6); do
    loader=userspace; [ $((i % 2)) = 0 ] && loader=kernel
    with_initrd "$HF_INITRD" boot_disks "$H/c$i.log" "$H/root.img" -- $HF_ARGS resume_init=$loader
    expect_no_panic "$H/c$i.log"
    expect "$H/c$i.log" "RESUMED token=tokCF .* n=$i([^0-9]|$)" "cycle $i restored ($loader loader)"
    [ "$i" -lt 6 ] && expect "$H/c$i.log" "resume-init: image committed on /hibfile" "image $((i + 1)) written"
done
expect_eq "$(inspect_status "$H/root.img" "$off")" 1 "no image left after the last cycle"
e2fsck -fn "$H/root.img" > "$H/fsck.out" 2>&1 || check_fail "e2fsck -fn of the root after six cycles: $(tail -n 3 "$H/fsck.out")"
case_end
