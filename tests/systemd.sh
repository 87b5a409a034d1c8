#!/bin/bash
# QEMU tests on a genuine Debian 12 with systemd 252 (debootstrap,
# tests/debian-root.sh), resume-init as the initramfs and installed in
# the root by scripts/install.sh (binary, drop-in, hooks): a normal boot
# reaching `running` with no failed unit and swap from fstab, with
# `resume-init check` saying a hibernation would come back;
# `systemctl hibernate` through the drop-in (resume-init's writer) and
# through systemd's own writer, each resumed by resume-init with the
# session intact and the sleep hooks run; a hibernation failing for want
# of swap, whose post hooks still run; a LUKS2 swap listed in crypttab,
# unlocked by resume-init, hibernated into and resumed, which
# systemd-cryptsetup in the real root takes as it is, asking nothing;
# Debian's kernel hook (scripts/install.sh --whole-initramfs) run in the
# guest, building resume-init's initramfs with mkinitramfs.sh --host,
# which then boots it, resumes it, and finds the resume device it stored.
#
# The driver in the guest is /usr/local/sbin/rtest (below), started once
# the boot is done; it reports on the serial console as `RTEST …`.
#
#   tests/systemd.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"
# shellcheck source=tests/debian-root.sh
. "$top/tests/debian-root.sh"

S=$T/systemd
mkdir -p "$S"
SYSROOT_UUID=5d5e5f60-0000-4000-8000-0000005e5700
LUKS_UUID=4c554b53-2d73-7761-702d-746573740001

RTEST='#!/bin/sh
# tests/systemd.sh: reports how the boot went, runs resume-init check,
# and with rtest=drop-in|kernel|fail hibernates through systemd and
# reports what came back; rtest=postinst runs the kernel hook.
exec > /dev/ttyS0 2>&1
arg() { tr " " "\n" < /proc/cmdline | sed -n "s/^$1=//p" | tail -n 1; }
mode=$(arg rtest) token=$(arg token) fill=$(arg fill)
state=$(systemctl is-system-running --wait)
echo "RTEST boot: state=$state failed-units=$(systemctl --failed --no-legend --plain | wc -l)"
systemctl --failed --no-legend --plain | sed "s/^/RTEST failed unit: /"
echo "RTEST swaps: $(swapon --show=NAME --noheadings | tr "\n" " ")"
[ -n "$fill" ] && dd if=/dev/urandom of=/dev/shm/fill bs=1M count="$fill" 2>/dev/null
/usr/sbin/resume-init check > /run/check.out 2>&1
echo "RTEST check-rc=$?"
sed "s/^/RTEST check: /" /run/check.out
if [ "$mode" = postinst ]; then
    # What a kernel package runs after installing the running kernel.
    /etc/kernel/postinst.d/zz-resume-init "$(uname -r)" "/boot/vmlinuz-$(uname -r)" > /run/postinst.out 2>&1
    echo "RTEST postinst-rc=$?"
    sed "s/^/RTEST postinst: /" /run/postinst.out
elif [ -n "$mode" ]; then
    if [ "$mode" = kernel ]; then
        rm -f /usr/lib/systemd/system/systemd-hibernate.service.d/resume-init.conf
        systemctl daemon-reload
    fi
    echo "$token" > /run/token
    sh -c "while :; do sleep 1; done" "holder-$token" &
    pid=$!
    echo "RTEST hibernating token=$token mode=$mode"
    if [ "$mode" = fail ]; then systemctl start hibernate.target; else systemctl hibernate; fi
    echo "RTEST systemctl-rc=$?"
    # The post hook runs after a resume and after a failure alike.
    i=0
    while ! grep -q "^post" /run/sleep-hooks 2>/dev/null && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
    echo "RTEST back token=$(cat /run/token) proc=$(tr "\0" " " < /proc/$pid/cmdline) hooks=$(tr "\n" "," < /run/sleep-hooks)"
    echo "RTEST hibernate-service: $(systemctl show -p Result --value systemd-hibernate.service)"
fi
echo "RTEST done"
sync
systemctl poweroff -ff'
SLEEP_HOOK='#!/bin/sh
echo "$1 $2 ${SYSTEMD_SLEEP_ACTION:-}" >> /run/sleep-hooks'
RTEST_UNIT='[Unit]
Description=resume-init test driver
After=multi-user.target
[Service]
Type=simple
ExecStart=/usr/local/sbin/rtest
[Install]
WantedBy=multi-user.target'

# sys_image DIR IMAGE SWAP_LINE [CRYPTTAB_LINE]: the Debian root in DIR,
# with resume-init installed, the driver, fstab and crypttab, as an ext4
# image.
sys_image() {
    local d=$1 img=$2 swap=$3 crypt=${4:-}
    "$top/scripts/install.sh" --destdir "$d" -b "$BIN" > "$S/install.log" 2>&1 || { echo "install.sh failed" >&2; return 1; }
    echo sysroot > "$d/etc/hostname"
    printf 'LABEL=sysroot / ext4 errors=remount-ro 0 1\n%s\n' "$swap" > "$d/etc/fstab"
    if [ -n "$crypt" ]; then echo "$crypt" > "$d/etc/crypttab"; else rm -f "$d/etc/crypttab"; fi
    # The console is the driver's; no login prompt on it.
    ln -sf /dev/null "$d/etc/systemd/system/serial-getty@ttyS0.service"
    printf '%s\n' "$RTEST" > "$d/usr/local/sbin/rtest"; chmod 0755 "$d/usr/local/sbin/rtest"
    mkdir -p "$d/usr/lib/systemd/system-sleep" "$d/etc/systemd/system/multi-user.target.wants"
    printf '%s\n' "$SLEEP_HOOK" > "$d/usr/lib/systemd/system-sleep/rtest"; chmod 0755 "$d/usr/lib/systemd/system-sleep/rtest"
    printf '%s\n' "$RTEST_UNIT" > "$d/etc/systemd/system/rtest.service"
    ln -sf ../rtest.service "$d/etc/systemd/system/multi-user.target.wants/rtest.service"
    mkext4 "$img" 640 "$d" -L sysroot -U "$SYSROOT_UUID"
}

# sys_boot LOG INITRD DISK… -- PARAMS: one boot of the Debian root.
sys_boot() {
    local log=$1 initrd=$2; shift 2
    with_initrd "$initrd" boot_disks "$log" "$@"
}

# sys_expect_boot LOG: what every boot of the root must show.
sys_expect_boot() {
    expect_no_panic "$1"
    expect "$1" "RTEST boot: state=running failed-units=0" "a boot reaching running with no failed unit"
    expect_not "$1" "RTEST failed unit" "a failed unit"
}

# sys_expect_resumed LOG TOKEN HOOK_ACTION: the session back, the hooks run.
sys_expect_resumed() {
    expect_no_panic "$1"
    expect "$1" "resume-init: hibernation image found on " "the image found"
    expect "$1" "RTEST back token=$2 proc=sh -c while :; do sleep 1; done holder-$2  hooks=pre hibernate $3,post hibernate $3," "the session back (token in tmpfs, the process) with the pre and post hooks run"
    expect_not "$1" "RTEST boot:" "a fresh boot instead of the resume"
}

case_begin "Debian 12 with systemd: built by debootstrap (cached), resume-init installed by scripts/install.sh"
debian_root "$S/root" || check_fail "no Debian root: debootstrap failed ($T/debootstrap.log)"
[ -x "$S/root/lib/systemd/systemd" ] || check_fail "no systemd in the Debian root"
case_end
if [ ! -x "$S/root/lib/systemd/systemd" ]; then return 0 2>/dev/null || exit 1; fi
new_swap "$S/swap.img"
sys_image "$S/root" "$S/root.img" "UUID=$SWAP_UUID none swap sw 0 0" || check_fail "the root image could not be made"
SYS_ARGS="root=LABEL=sysroot ro resume=UUID=$SWAP_UUID noresume"

case_begin "systemd: a normal boot reaches running, no failed unit, swap from fstab; check says a hibernation would come back; systemctl hibernate through the drop-in, resumed"
cp --sparse=always "$S/root.img" "$S/a.img"
sys_boot "$S/a1.log" "$INITRD" "$S/a.img" "$S/swap.img" -- $SYS_ARGS rtest=drop-in token=tokSA
sys_expect_boot "$S/a1.log"
expect "$S/a1.log" "RTEST swaps: /dev/vdb" "the swap area from fstab active"
expect "$S/a1.log" "RTEST check-rc=0" "check's exit status 0"
expect "$S/a1.log" "RTEST check: ok +the image would go to /dev/vdb \(/dev/vdb, [0-9]+:[0-9]+, header at page 0\)" "check naming the swap area"
expect "$S/a1.log" "RTEST hibernating token=tokSA mode=drop-in" "systemctl hibernate"
expect "$S/a1.log" "resume-init: image committed on /dev/vdb" "resume-init hibernate run by the drop-in, committing the image"
expect_not "$S/a1.log" "PM: hibernation: Wrote" "systemd's own writer at work"
sys_boot "$S/a2.log" "$INITRD" "$S/a.img" "$S/swap.img" -- $SYS_ARGS
sys_expect_resumed "$S/a2.log" tokSA hibernate
expect "$S/a2.log" "RTEST hibernate-service: success" "systemd-hibernate.service succeeded"
case_end

case_begin "systemd: systemctl hibernate with systemd's own writer (the kernel's), resumed by resume-init, hooks run"
cp --sparse=always "$S/root.img" "$S/b.img"
new_swap "$S/swap.img"
sys_boot "$S/b1.log" "$INITRD" "$S/b.img" "$S/swap.img" -- $SYS_ARGS rtest=kernel token=tokSB
sys_expect_boot "$S/b1.log"
expect "$S/b1.log" "PM: hibernation: Wrote [0-9]+ kbytes" "the kernel writing the image for systemd-sleep"
sys_boot "$S/b2.log" "$INITRD" "$S/b.img" "$S/swap.img" -- $SYS_ARGS
sys_expect_resumed "$S/b2.log" tokSB hibernate
case_end

case_begin "systemd: a hibernation failing for want of swap (the drop-in) still runs the post hooks; check said so first"
cp --sparse=always "$S/root.img" "$S/c.img"
rm -f "$S/small.img"; truncate -s 40M "$S/small.img"; mkswap -q -U "$SWAP_UUID" "$S/small.img"
sys_boot "$S/c1.log" "$INITRD" "$S/c.img" "$S/small.img" -- $SYS_ARGS rtest=fail token=tokSC fill=150
sys_expect_boot "$S/c1.log"
expect "$S/c1.log" "RTEST check-rc=1" "check's exit status 1"
expect "$S/c1.log" "RTEST check: PROBLEM +room: " "check naming the room"
expect "$S/c1.log" "RTEST back token=tokSC .* hooks=pre hibernate hibernate,post hibernate hibernate," "the session going on, the post hook run after the failure"
expect "$S/c1.log" "RTEST hibernate-service: exit-code" "systemd-hibernate.service failed"
expect_not "$S/c1.log" "image committed" "an image committed"
case_end

case_begin "systemd: a LUKS2 swap in crypttab, unlocked by resume-init (keyfile), hibernated into and resumed; systemd-cryptsetup takes the open mapping"
printf 'swap key for the tests\n' > "$S/swap.key"
SL_INITRD=$S/initramfs-luks-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -f "$S/swap.key:/etc/keys/swap.key" -o "$SL_INITRD" >/dev/null
# The swap made first, then encrypted in place (its size what the
# container leaves: 96 MiB less the 16 MiB header).
rm -f "$S/cswap.img"; truncate -s 96M "$S/cswap.img"
mkswap -q -U "$SWAP_UUID" "$S/cswap.img" 81920 >/dev/null
cryptsetup reencrypt -q --encrypt --type luks2 --reduce-device-size 16M --uuid "$LUKS_UUID" "${TEST_KDF[@]}" \
    --key-file "$S/swap.key" "$S/cswap.img" >/dev/null 2>&1 || check_fail "cryptsetup reencrypt --encrypt failed"
rm -rf "$S/lroot"; cp -a "$S/root" "$S/lroot"
sys_image "$S/lroot" "$S/d.img" "/dev/mapper/cswap none swap sw 0 0" "cswap UUID=$LUKS_UUID none luks" || check_fail "the root image could not be made"
SL_ARGS="root=LABEL=sysroot ro rd.luks.name=$LUKS_UUID=cswap rd.luks.key=/etc/keys/swap.key resume=/dev/mapper/cswap noresume"
sys_boot "$S/d1.log" "$SL_INITRD" "$S/d.img" "$S/cswap.img" -- $SL_ARGS rtest=drop-in token=tokSD
sys_expect_boot "$S/d1.log"
expect "$S/d1.log" "resume-init: unlocked /dev/vdb \(LUKS2 UUID=$LUKS_UUID\) with keyslot 0 \(keyfile\) as /dev/mapper/cswap" "the unlock"
expect "$S/d1.log" "RTEST swaps: /dev/dm-0" "the swap inside active"
expect "$S/d1.log" "RTEST check-rc=0" "check's exit status 0"
expect "$S/d1.log" "resume-init: image committed on /dev/dm-0" "the image written into the container"
expect "$S/d1.log" "Finished .*Cryptography Setup for cswap" "systemd-cryptsetup taking the open mapping"
expect_not "$S/d1.log" "Please enter passphrase" "systemd-cryptsetup asking for the passphrase"
sys_boot "$S/d2.log" "$SL_INITRD" "$S/d.img" "$S/cswap.img" -- $SL_ARGS
sys_expect_resumed "$S/d2.log" tokSD hibernate
case_end

case_begin "systemd: the kernel hook (postinst.d, mkinitramfs.sh --host) in the guest builds an initramfs that boots it, stores its resume device, and resumes it"
rm -rf "$S/kroot"; cp -a "$S/root" "$S/kroot"
"$top/scripts/install.sh" --destdir "$S/kroot" -b "$BIN" --whole-initramfs > "$S/install-whole.log" 2>&1 || check_fail "install.sh --whole-initramfs failed"
# The running kernel's image, and of its modules those resume-init's
# initramfs carries (the list in the test initramfs), with the indexes.
install -D -m 0644 "$KERNEL" "$S/kroot/boot/vmlinuz-$KVER"
mkdir -p "$S/kroot/lib/modules/$KVER"
cp /lib/modules/"$KVER"/modules.* "$S/kroot/lib/modules/$KVER/"
tail -c +"$(gzip_at "$INITRD")" "$INITRD" | zcat | (cd "$S" && rm -rf initrd.x && mkdir initrd.x && cd initrd.x && cpio -idm --quiet etc/resume-init/modules)
while read -r m; do
    case $m in "#"*|"@"*|"") continue ;; esac
    src=$(ls /lib/modules/"$KVER"/"${m#/lib/modules/"$KVER"/}"* 2>/dev/null | head -n 1)
    [ -n "$src" ] && install -D -m 0644 "$src" "$S/kroot${src}"
done < "$S/initrd.x/etc/resume-init/modules"
new_swap "$S/swap.img"
sys_image "$S/kroot" "$S/e.img" "UUID=$SWAP_UUID none swap sw 0 0" || check_fail "the root image could not be made"
sys_boot "$S/e1.log" "$INITRD" "$S/e.img" "$S/swap.img" -- $SYS_ARGS rtest=postinst
sys_expect_boot "$S/e1.log"
expect "$S/e1.log" "RTEST postinst-rc=0" "the kernel hook's exit status"
expect "$S/e1.log" "RTEST postinst: mkinitramfs: wrote /boot/initrd.img-$KVER" "the initramfs written"
expect "$S/e1.log" "RTEST postinst: mkinitramfs: resume device: UUID=$SWAP_UUID \\(stored in the initramfs\\)" "the resume device found and stored"
debugfs -R "dump /boot/initrd.img-$KVER $S/guest-initrd.img" "$S/e.img" > /dev/null 2>&1
[ -s "$S/guest-initrd.img" ] || check_fail "no /boot/initrd.img-$KVER in the guest's root"
# No resume= now: the device the initramfs stored is where it looks.
sys_boot "$S/e2.log" "$S/guest-initrd.img" "$S/e.img" "$S/swap.img" -- root=LABEL=sysroot ro noresume rtest=drop-in token=tokSE
sys_expect_boot "$S/e2.log"
expect "$S/e2.log" "resume-init: resume=UUID=$SWAP_UUID from /conf/conf.d/resume" "the stored resume device used"
expect "$S/e2.log" "RTEST check-rc=0" "check's exit status 0"
expect "$S/e2.log" "RTEST check: ok +/boot/initrd.img-$KVER, the running kernel's initramfs, carries resume-init \\(as /init, built by mkinitramfs.sh for $KVER\\)" "check reading the initramfs the hook built"
expect "$S/e2.log" "resume-init: image committed on /dev/vdb" "the image written"
sys_boot "$S/e3.log" "$S/guest-initrd.img" "$S/e.img" "$S/swap.img" -- root=LABEL=sysroot ro noresume
sys_expect_resumed "$S/e3.log" tokSE hibernate
case_end
