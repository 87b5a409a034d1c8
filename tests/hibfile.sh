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
#   tests/hibfile.sh   (sourced by scripts/test.sh, or run alone as root)
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
