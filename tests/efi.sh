#!/bin/bash
# QEMU tests under UEFI firmware (Debian's OVMF, its variable store a
# copy of OVMF_VARS_4M.fd) of systemd's HibernateLocation EFI variable:
# the resume device found there when the command line has no resume=,
# used only by the kernel that hibernated, and removed once read; and
# the same variable written by resume-init hibernate, for a swap
# partition, a swap file and a hibernation file (the filesystem's UUID
# and the page).
#
#   tests/efi.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

E=$T/efi
mkdir -p "$E"
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$E/vars.fd"
new_swap "$E/swap.img"

# efi_boot LOG PARAMS…: a UEFI boot with the root and swap disks.
efi_boot() {
    local log=$1; shift
    boot "$log" -m "$MEM" -e "$E/vars.fd" -d "$R/root.img" -d "$E/swap.img" -a "$*"
}

case_begin "UEFI: no resume=, the swap area from systemd's HibernateLocation variable; hibernated, resumed, the variable removed"
# Boot 1 hibernates as systemd does: the variable first, then the kernel.
efi_boot "$E/e1.log" root=/dev/vda resume=/dev/vdb noresume hib=tokE efiloc=self efiuuid=$SWAP_UUID
efi_boot "$E/e2.log" root=/dev/vda noresume
efi_boot "$E/e3.log" root=/dev/vda noresume
expect_no_panic "$E/e1.log"
expect_not "$E/e1.log" "EFIVAR-WRITE-FAILED" "the variable not written"
expect "$E/e1.log" "PM: hibernation: Wrote [0-9]+ kbytes" "boot 1 hibernated by the kernel"
expect_no_panic "$E/e2.log"
expect "$E/e2.log" "resume-init: EFI variable HibernateLocation \(UUID=$SWAP_UUID at page 0, kernel $KVER\): used; removed" "the variable used"
expect "$E/e2.log" "resume-init: hibernation image found on /dev/vdb" "the image on the swap it names"
expect "$E/e2.log" "RESUMED token=tokE proc=sh -c while :; do sleep 1; done holder-tokE  rc=0" "the session back"
expect "$E/e3.log" "EFIVAR-ABSENT" "the variable removed (seen by the next boot)"
expect "$E/e3.log" "FRESH-BOOT" "a fresh boot"
case_end

case_begin "UEFI: HibernateLocation from another kernel: not used, removed, a fresh boot"
efi_boot "$E/o1.log" root=/dev/vda noresume efiloc=0.0.0-other efiuuid=$SWAP_UUID
efi_boot "$E/o2.log" root=/dev/vda noresume
expect "$E/o1.log" "EFIVAR-PRESENT" "the variable written"
expect_no_panic "$E/o2.log"
expect "$E/o2.log" "resume-init: EFI variable HibernateLocation \(UUID=$SWAP_UUID at page 0, kernel 0.0.0-other\): from another kernel, not used; removed" "the mismatch named"
expect "$E/o2.log" "EFIVAR-ABSENT" "the variable removed"
expect "$E/o2.log" "FRESH-BOOT" "a fresh boot"
case_end

case_begin "UEFI: resume-init hibernate writes HibernateLocation as systemd does; a boot without resume= resumes from it"
new_swap "$E/swap.img"
efi_boot "$E/w1.log" root=/dev/vda resume=/dev/vdb noresume hib=tokF writer=lzo
efi_boot "$E/w2.log" root=/dev/vda noresume
expect_no_panic "$E/w1.log"
expect "$E/w1.log" "resume-init: image committed on " "the image written by resume-init hibernate"
expect_not "$E/w1.log" "cannot write the EFI variable" "the variable not written"
expect_no_panic "$E/w2.log"
expect "$E/w2.log" "resume-init: EFI variable HibernateLocation \(UUID=$SWAP_UUID at page 0, kernel $KVER\): used; removed" "the writer's variable used"
expect "$E/w2.log" "RESUMED token=tokF proc=sh -c while :; do sleep 1; done holder-tokF  rc=0" "the session back"
case_end

case_begin "UEFI: resume-init hibernate to a swap file writes HibernateLocation with the filesystem's UUID and the page; a boot without resume= resumes from it"
offset=$(swapfile_root "$E/fileroot" efifile 96 200)
boot "$E/f1.log" -m "$MEM" -e "$E/vars.fd" -d "$E/fileroot.img" -a "root=/dev/vda rw noresume swap=/swapfile hib=tokG writer=lzo"
boot "$E/f2.log" -m "$MEM" -e "$E/vars.fd" -d "$E/fileroot.img" -a "root=/dev/vda rw noresume"
expect_no_panic "$E/f1.log"
expect "$E/f1.log" "hibernating to /swapfile \(/dev/vda, [0-9]+:[0-9]+, header at page $offset\)" "the swap file, at the page debugfs gives"
expect "$E/f1.log" "resume-init: image committed on " "the image written by resume-init hibernate"
expect_no_panic "$E/f2.log"
expect "$E/f2.log" "resume-init: EFI variable HibernateLocation \(UUID=$FILEROOT_UUID at page $offset, kernel $KVER\): used; removed" "the variable naming the filesystem and the page, used"
expect "$E/f2.log" "RESUMED token=tokG proc=sh -c while :; do sleep 1; done holder-tokG  rc=0" "the session back"
case_end

case_begin "UEFI: resume-init hibernate --file with no resume= set writes HibernateLocation for the hibernation file; a boot without resume= resumes from it"
HFE_UUID=4b1bf11e-0000-4000-8000-0000000e0f1e
mkext4 "$E/hfroot.img" 300 "$R/rootdir" -b 4096 -U "$HFE_UUID"
mkdir -p "$E/mnt"
hfe_off=""
if mount -o loop "$E/hfroot.img" "$E/mnt"; then
    hfe_off=$("$BIN" hibernate --make-file "$E/mnt/hibfile" --size 160M 2>&1 | grep -Eo 'resume_offset=[0-9]+' | head -n 1 | cut -d= -f2)
    umount "$E/mnt"
fi
[ -n "$hfe_off" ] || check_fail "no offset from --make-file on the host"
boot "$E/h1.log" -m "$MEM" -e "$E/vars.fd" -d "$E/hfroot.img" -a "root=/dev/vda rw noresume swap=none hib=tokHE writer=lzo wfile=/hibfile"
boot "$E/h2.log" -m "$MEM" -e "$E/vars.fd" -d "$E/hfroot.img" -a "root=/dev/vda rw noresume"
expect_no_panic "$E/h1.log"
expect "$E/h1.log" "resume-init: image committed on /hibfile" "the image written into the file"
expect_no_panic "$E/h2.log"
expect "$E/h2.log" "resume-init: EFI variable HibernateLocation \(UUID=$HFE_UUID at page ${hfe_off:-x}, kernel $KVER\): used; removed" "the variable naming the filesystem and the file's first page"
expect "$E/h2.log" "RESUMED token=tokHE proc=sh -c while :; do sleep 1; done holder-tokHE  rc=0" "the session back"
case_end
