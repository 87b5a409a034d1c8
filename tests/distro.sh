#!/bin/bash
# QEMU tests of resume-init in a distribution's life: `resume-init check`
# agreeing with what happens next (a swap area the boot names and an
# initramfs carrying resume-init: exit 0 and the hibernation restored;
# zram as the only swap, a swap area nothing names, too little room:
# exit 1 with the reason, and the hibernation failing as it says);
# Debian's own initramfs, built by initramfs-tools' mkinitramfs with
# resume-init's hook as scripts/install.sh lays it out, restoring a
# kernel-written image through resume-init's resume step; the same with
# dracut's initramfs (systemd inside) and resume-init's dracut module;
# and the layout scripts/install.sh makes.
#
#   tests/distro.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

D=$T/distro
mkdir -p "$D"
# resume-init's initramfs, with zram for the zram-only case; a copy in
# the root's /boot, where check looks for the running kernel's.
D_INITRD=$D/initramfs-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -m zram -o "$D_INITRD" >/dev/null
make_rootdir "$D/rootdir" "$RESUME_INIT_SCRIPT"
cp "$BIN" "$D/rootdir/sbin/resume-init"
mkdir -p "$D/rootdir/boot"
cp "$D_INITRD" "$D/rootdir/boot/initrd.img-$KVER"
mkext4 "$D/root.img" 96 "$D/rootdir" -L dsroot
new_swap "$D/swap.img"
d_boot() { with_initrd "$D_INITRD" boot_disks "$@"; }

case_begin "resume-init check: the swap area resume= names, an initramfs carrying resume-init: exit 0, and the hibernation restored"
with_initrd "$D_INITRD" hibernate "$D/c1.log" tokC "$D/root.img" "$D/swap.img" -- root=/dev/vda resume=/dev/vdb noresume check=1
expect "$D/c1.log" "CHECK-RC=0" "check's exit status 0"
expect "$D/c1.log" "CHECK: ok +the kernel offers hibernation" "hibernation offered"
expect "$D/c1.log" "CHECK: ok +the image would go to /dev/vdb \(/dev/vdb, [0-9]+:[0-9]+, header at page 0\), which holds no image now" "the place"
expect "$D/c1.log" "CHECK: ok +the next boot looks there: resume=/dev/vdb on the kernel command line" "where the next boot looks"
expect "$D/c1.log" "CHECK: ok +room: [0-9]+ MiB free there; the image now: [0-9]+–[0-9]+ MiB" "the room"
expect "$D/c1.log" "CHECK: ok +/boot/initrd.img-$KVER, the running kernel's initramfs, carries resume-init \(as /init, built by mkinitramfs.sh for $KVER\)" "the marker read from the initramfs"
expect "$D/c1.log" "check: a hibernation now would be restored at the next boot" "the verdict"
with_initrd "$D_INITRD" resume "$D/c2.log" tokC "$D/root.img" "$D/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
case_end

case_begin "resume-init check and the writer: zram as the only swap is refused by both (exit 1), nothing written"
d_boot "$D/z.log" "$D/root.img" -- root=/dev/vda noresume hib=tokZ swap=none zram=1 check=1 writer=lzo
expect_no_panic "$D/z.log"
expect "$D/z.log" "ZRAM-SWAP-ON" "zram as the only swap"
expect "$D/z.log" "CHECK-RC=1" "check's exit status 1"
expect "$D/z.log" "CHECK: PROBLEM +/dev/zram0 \(/dev/zram0\) lives in memory, and an image there is gone at power-off: hibernate into a file instead" "check's reason"
expect "$D/z.log" "resume-init: /dev/zram0 \(/dev/zram0\) lives in memory" "the writer's refusal"
expect "$D/z.log" "HIBERNATE-FAILED rc=1" "the writer's exit status"
expect_not "$D/z.log" "image committed" "an image written"
case_end

case_begin "resume-init check: a swap area nothing names (no resume=, no EFI variable): exit 1 naming what to set"
d_boot "$D/n.log" "$D/root.img" "$D/swap.img" -- root=/dev/vda noresume hib=tokN check=1 writer=lzo
expect_no_panic "$D/n.log"
expect "$D/n.log" "CHECK-RC=1" "check's exit status 1"
expect "$D/n.log" "CHECK: PROBLEM +nothing will look for an image on /dev/vdb at the next boot .*boot with resume= naming it" "check's reason"
expect "$D/n.log" "HIBERNATE-FAILED rc=1" "the writer refusing the same"
case_end

case_begin "resume-init check: too little swap for the memory in use: exit 1; the kernel's hibernation fails as it says"
rm -f "$D/small.img"; truncate -s 24M "$D/small.img"; mkswap -q "$D/small.img"
d_boot "$D/s.log" "$D/root.img" "$D/small.img" -- root=/dev/vda resume=/dev/vdb noresume hib=tokS fill=120 check=1
expect_no_panic "$D/s.log"
expect "$D/s.log" "CHECK-RC=1" "check's exit status 1"
expect "$D/s.log" "CHECK: PROBLEM +room: [0-9]+ MiB free there, and the image now needs at least [0-9]+ MiB" "check's reason"
expect "$D/s.log" "HIBERNATE-FAILED" "the kernel's hibernation failing"
expect "$D/s.log" "STILL-RUNNING token=tokS" "the system going on"
case_end

# --- Debian's own initramfs with resume-init's hook ------------------------
# initramfs-tools' mkinitramfs with its own configuration (MODULES=most:
# the guest's drivers) in a directory of ours, our hook among its hooks,
# from the layout scripts/install.sh makes.
case_begin "scripts/install.sh --destdir: the binary, the hooks, the drop-in, the kernel hooks with --whole-initramfs"
rm -rf "$D/inst" "$D/inst2"
"$top/scripts/install.sh" --destdir "$D/inst" -b "$BIN" > "$D/install.log" 2>&1 || check_fail "install.sh failed: $(tail -n 3 "$D/install.log")"
"$top/scripts/install.sh" --destdir "$D/inst2" -b "$BIN" --whole-initramfs --no-writer > "$D/install2.log" 2>&1 || check_fail "install.sh --whole-initramfs failed"
for f in usr/sbin/resume-init usr/share/initramfs-tools/hooks/resume-init usr/lib/dracut/modules.d/90resume-init/module-setup.sh \
         usr/lib/dracut/modules.d/90resume-init/resume-init.sh usr/lib/resume-init/scripts/mkinitramfs.sh usr/lib/resume-init/scripts/host.sh; do
    [ -x "$D/inst/$f" ] || check_fail "/$f not installed executable"
done
[ -f "$D/inst/usr/lib/systemd/system/systemd-hibernate.service.d/resume-init.conf" ] || check_fail "the systemd drop-in not installed"
[ -f "$D/inst/etc/dracut.conf.d/resume-init.conf" ] || check_fail "the dracut configuration not installed"
[ -e "$D/inst/etc/kernel/postinst.d/zz-resume-init" ] && check_fail "kernel hooks installed without --whole-initramfs"
for f in etc/kernel/postinst.d/zz-resume-init etc/kernel/postrm.d/zz-resume-init usr/lib/kernel/install.d/60-resume-init.install; do
    [ -x "$D/inst2/$f" ] || check_fail "/$f not installed by --whole-initramfs"
done
[ -e "$D/inst2/usr/lib/systemd/system/systemd-hibernate.service.d/resume-init.conf" ] && check_fail "the drop-in installed with --no-writer"
for f in "$D"/inst2/etc/kernel/*/zz-resume-init "$D"/inst2/usr/lib/kernel/install.d/* "$D"/inst/usr/share/initramfs-tools/hooks/resume-init; do
    sh -n "$f" || check_fail "$f is not valid sh"
done
bash -n "$D/inst/usr/lib/dracut/modules.d/90resume-init/module-setup.sh" || check_fail "the dracut module is not valid bash"
case_end

case_begin "Debian's initramfs (initramfs-tools) with resume-init's hook: the kernel-written image restored by its resume step"
itc=$D/itools-conf
rm -rf "$itc"; mkdir -p "$itc/conf.d" "$itc/hooks" "$itc/scripts"
sed 's/^MODULES=.*/MODULES=most/' /etc/initramfs-tools/initramfs.conf > "$itc/initramfs.conf"
: > "$itc/modules"
cp "$D/inst/usr/share/initramfs-tools/hooks/resume-init" "$itc/hooks/"
RESUME_INIT_BIN=$D/inst/usr/sbin/resume-init mkinitramfs -d "$itc" -o "$D/debian-initrd.img" "$KVER" > "$D/mkinitramfs.log" 2>&1 \
    || check_fail "initramfs-tools' mkinitramfs failed: $(tail -n 3 "$D/mkinitramfs.log")"
lsinitramfs "$D/debian-initrd.img" > "$D/lsinitramfs.txt" 2>/dev/null
grep -qx "usr/sbin/resume-init\|sbin/resume-init" "$D/lsinitramfs.txt" || check_fail "no resume-init in Debian's initramfs"
expect "$D/lsinitramfs.txt" "^etc/resume-init/initramfs$" "the marker in its early part"
# A root with that initramfs in /boot, for check.
cp -a "$D/rootdir" "$D/debroot"
cp "$D/debian-initrd.img" "$D/debroot/boot/initrd.img-$KVER"
mkext4 "$D/debroot.img" 160 "$D/debroot" -L dsroot
with_initrd "$D/debian-initrd.img" hibernate "$D/h1.log" tokH "$D/debroot.img" "$D/swap.img" -- root=/dev/vda resume=/dev/vdb check=1
expect "$D/h1.log" "resume-init: resume-init [0-9.]+: the resume step of this initramfs" "resume-init run by Debian's init"
expect "$D/h1.log" "CHECK: ok +/boot/initrd.img-$KVER, the running kernel's initramfs, carries resume-init \(its resume step, in initramfs-tools' initramfs \(hook\)\)" "check reading the hook's marker"
expect "$D/h1.log" "CHECK-RC=0" "check's exit status 0"
with_initrd "$D/debian-initrd.img" resume "$D/h2.log" tokH "$D/debroot.img" "$D/swap.img" -- root=/dev/vda resume=/dev/vdb
case_end

case_begin "dracut's initramfs (systemd inside) with resume-init's module: the kernel-written image restored by its pre-mount hook"
# dracut from Debian's dracut-core, its modules copied with ours added
# (dracutbasedir), its configuration ours (dist/dracut: the module added,
# dracut's resume left out); generic, with the guest's drivers.
rm -rf "$D/dracutbase" "$D/kroot"; cp -a /usr/lib/dracut "$D/dracutbase"
cp -a "$D/inst/usr/lib/dracut/modules.d/90resume-init" "$D/dracutbase/modules.d/"
RESUME_INIT_BIN=$D/inst/usr/sbin/resume-init dracutbasedir=$D/dracutbase dracut --force --quiet --no-hostonly --conf /dev/null \
    --confdir "$D/inst/etc/dracut.conf.d" --kver "$KVER" --compress gzip \
    --modules "systemd systemd-initrd dracut-systemd udev-rules base fs-lib rootfs-block kernel-modules resume-init" \
    --drivers "virtio_blk virtio_pci ext4" "$D/dracut-initrd.img" > "$D/dracut.log" 2>&1 || check_fail "dracut failed: $(tail -n 3 "$D/dracut.log")"
lsinitrd "$D/dracut-initrd.img" > "$D/lsinitrd.txt" 2>/dev/null
expect "$D/lsinitrd.txt" "usr/lib/dracut/hooks/pre-mount/10-resume-init.sh" "the pre-mount hook in dracut's initramfs"
expect_not "$D/lsinitrd.txt" "systemd-hibernate-resume" "dracut's own resume step"
# systemd switches only to a root with an os-release.
cp -a "$D/rootdir" "$D/kroot"
echo "ID=resume-init-test" > "$D/kroot/etc/os-release"
mkext4 "$D/kroot.img" 96 "$D/kroot" -L dsroot
with_initrd "$D/dracut-initrd.img" hibernate "$D/k1.log" tokK "$D/kroot.img" "$D/swap.img" -- root=/dev/vda rw resume=/dev/vdb
expect "$D/k1.log" "resume-init: resume-init [0-9.]+: the resume step of this initramfs" "resume-init run by dracut's hook"
with_initrd "$D/dracut-initrd.img" resume "$D/k2.log" tokK "$D/kroot.img" "$D/swap.img" -- root=/dev/vda rw resume=/dev/vdb
case_end
