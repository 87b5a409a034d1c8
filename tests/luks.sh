#!/bin/bash
# QEMU tests of LUKS2: a swap partition encrypted with cryptsetup's own
# luksFormat (argon2id with a small memory cost, so the suite stays
# fast) is unlocked by resume-init with a keyfile from the initramfs,
# then the kernel hibernates into it and resume-init brings the session
# back through the same unlock; the faults say why and boot fresh.
#
#   tests/luks.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

L=$T/luks
mkdir -p "$L"
LUKS_UUID=4c554b53-2d73-7761-702d-746573740001
printf 'swap key for the tests\n' > "$L/swap.key"
LUKS_INITRD=$T/initramfs-luks-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -f "$L/swap.key:/etc/keys/swap.key" -o "$LUKS_INITRD" >/dev/null

# new_luks IMAGE [luksFormat options…]: a 96 MiB LUKS2 container.
new_luks() {
    local img=$1; shift
    rm -f "$img"
    truncate -s 96M "$img"
    cryptsetup luksFormat -q --type luks2 --uuid "$LUKS_UUID" "${TEST_KDF[@]}" --key-file "$L/swap.key" "$@" "$img"
}

# luks_boot LOG DISK… -- PARAMS: a boot with the keyfile initramfs.
luks_boot() { with_initrd "$LUKS_INITRD" boot_disks "$@"; }

LUKS_ARGS="root=/dev/vda rd.luks.name=$LUKS_UUID=cswap rd.luks.key=/etc/keys/swap.key resume=/dev/mapper/cswap noresume"

case_begin "LUKS2 swap (argon2id, keyfile): unlocked, hibernated into by the kernel, resumed through the same unlock"
new_luks "$L/swap.img"
luks_boot "$L/h1.log" "$R/root.img" "$L/swap.img" -- $LUKS_ARGS hib=tokL1 swap=/dev/mapper/cswap mkswap=1
expect_no_panic "$L/h1.log"
expect "$L/h1.log" "resume-init: unlocked /dev/vdb \(LUKS2 UUID=$LUKS_UUID\) with keyslot 0 \(keyfile\) as /dev/mapper/cswap \(/dev/dm-0\)" "the unlock"
expect "$L/h1.log" "HIBERNATING token=tokL1" "boot 1 reaching hibernation"
expect "$L/h1.log" "PM: hibernation: Wrote [0-9]+ kbytes" "the kernel writing into the mapping"
expect_not "$L/h1.log" "MKSWAP-FAILED|SWAPON-FAILED" "swap failing on the mapping"
luks_boot "$L/h2.log" "$R/root.img" "$L/swap.img" -- $LUKS_ARGS
expect_no_panic "$L/h2.log"
expect "$L/h2.log" "resume-init: unlocked /dev/vdb .* as /dev/mapper/cswap" "the unlock before the resume"
expect "$L/h2.log" "resume-init: hibernation image found on /dev/dm-0" "the image inside"
expect "$L/h2.log" "RESUMED token=tokL1 proc=sh -c while :; do sleep 1; done holder-tokL1  rc=0" "the session back"
case_end

case_begin "LUKS1: a wrong keyfile falls back to the console; a wrong passphrase is asked again; the right one opens"
printf 'not the key\n' > "$L/wrong.key"
printf 'hunter2 horse' > "$L/pass"
rm -f "$L/luks1.img"
truncate -s 64M "$L/luks1.img"
cryptsetup luksFormat -q --type luks1 --hash sha256 --uuid "$LUKS_UUID" --pbkdf-force-iterations 1000 \
    --key-file "$L/swap.key" "$L/luks1.img" || check_fail "cryptsetup luksFormat --type luks1 failed"
cryptsetup luksAddKey -q --key-file "$L/swap.key" --pbkdf-force-iterations 1000 "$L/luks1.img" "$L/pass"
WRONG_INITRD=$T/initramfs-luks-wrong-$KVER.cpio.gz
"$top/scripts/mkinitramfs.sh" -k "$KVER" -f "$L/wrong.key:/etc/keys/swap.key" -o "$WRONG_INITRD" >/dev/null
with_initrd "$WRONG_INITRD" boot "$L/p1.log" -m "$MEM" -d "$R/root.img" -d "$L/luks1.img" -a "$LUKS_ARGS" \
    -p "Passphrase for /dev/vdb \(cswap\)::wrong guess" -p "Passphrase for /dev/vdb \(cswap\)::hunter2 horse"
expect_no_panic "$L/p1.log"
expect "$L/p1.log" "resume-init: keyfile /etc/keys/swap.key does not open /dev/vdb \(UUID=$LUKS_UUID\)" "the wrong keyfile named"
expect "$L/p1.log" "resume-init: wrong passphrase for /dev/vdb; try again" "the wrong passphrase refused"
expect "$L/p1.log" "resume-init: unlocked /dev/vdb \(LUKS1 UUID=$LUKS_UUID\) with keyslot 1 \(passphrase\) as /dev/mapper/cswap" "the passphrase's keyslot"
expect "$L/p1.log" "/dev/dm-0 at page 0 \(resume=/dev/mapper/cswap\) is not a swap area; booting fresh" "the (unformatted) mapping looked into"
expect "$L/p1.log" "FRESH-BOOT" "the boot going on"
expect "$L/p1.log" "UDEV-DB-RECORD dm-0 1" "the udev record in the real root's /run and the /dev/mapper link"
expect_not "$L/p1.log" "hunter2|wrong guess" "the passphrase echoed"
case_end

case_begin "mkinitcpio's cryptdevice=DEV:NAME:allow-discards with cryptkey=rootfs:PATH, and cryptdevice=UUID=… with a LUKS2 passphrase typed"
luks_boot "$L/c1.log" "$R/root.img" "$L/swap.img" -- root=/dev/vda cryptdevice=/dev/vdb:cswap:allow-discards \
    cryptkey=rootfs:/etc/keys/swap.key resume=/dev/mapper/cswap noresume
expect_no_panic "$L/c1.log"
expect "$L/c1.log" "resume-init: unlocked /dev/vdb \(LUKS2 UUID=$LUKS_UUID\) with keyslot 0 \(keyfile\) as /dev/mapper/cswap" "the unlock"
expect "$L/c1.log" "no hibernation image on /dev/dm-0" "the swap inside (its image consumed before)"
expect "$L/c1.log" "FRESH-BOOT" "the boot going on"
expect_not "$L/c1.log" "ignoring crypt" "a parameter refused"
# No key in the initramfs: the passphrase of a second keyslot (PBKDF2),
# typed on the console, opens the LUKS2 container.
cryptsetup luksAddKey -q --key-file "$L/swap.key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$L/swap.img" "$L/pass" \
    || check_fail "cryptsetup luksAddKey failed"
boot "$L/c2.log" -m "$MEM" -d "$R/root.img" -d "$L/swap.img" -a "root=/dev/vda cryptdevice=UUID=$LUKS_UUID:cswap resume=/dev/mapper/cswap noresume" \
    -p "Passphrase for /dev/vdb \(cswap\)::hunter2 horse"
expect_no_panic "$L/c2.log"
expect "$L/c2.log" "resume-init: unlocked /dev/vdb \(LUKS2 UUID=$LUKS_UUID\) with keyslot 1 \(passphrase\) as /dev/mapper/cswap" "the LUKS2 passphrase's keyslot"
expect "$L/c2.log" "no hibernation image on /dev/dm-0" "the swap inside"
case_end

case_begin "LUKS2 faults: a damaged header, resume= at the locked container"
cp "$L/swap.img" "$L/damaged.img"
printf '\x00' | dd of="$L/damaged.img" bs=1 seek=4200 conv=notrunc status=none
printf '\x00' | dd of="$L/damaged.img" bs=1 seek=$((16384 + 4200)) conv=notrunc status=none
cp "$L/damaged.img" "$L/damaged.orig"
luks_boot "$L/f2.log" "$R/root.img" "$L/damaged.img" -- $LUKS_ARGS
expect_no_panic "$L/f2.log"
expect "$L/f2.log" "resume-init: cannot unlock /dev/vdb \(UUID=$LUKS_UUID\): no valid LUKS2 header \(damaged\?\); /dev/mapper/cswap will be missing" "the damaged header named"
expect "$L/f2.log" "FRESH-BOOT" "a fresh boot"
cmp -s "$L/damaged.img" "$L/damaged.orig" || check_fail "the damaged container was written to"
luks_boot "$L/f3.log" "$R/root.img" "$L/swap.img" -- root=/dev/vda resume=UUID=$LUKS_UUID noresume
expect "$L/f3.log" "resume-init: /dev/vdb \(resume=UUID=$LUKS_UUID\) is a locked LUKS container" "resume= at the container"
expect "$L/f3.log" "FRESH-BOOT" "a fresh boot"
case_end

case_begin "LVM2: swap on a logical volume, activated without lvm, hibernated into and resumed; rd.lvm=0 leaves it alone"
rm -f "$L/pv.img"
truncate -s 160M "$L/pv.img"
loop=$(losetup -f --show "$L/pv.img")
# --driverloaded n: no device-mapper on the host side; no autoactivation
# there either (the host's udev must not take the test VG).
lvm_q() { "$@" -q --driverloaded n >/dev/null 2>&1 || check_fail "$1 failed on the host"; }
lvm_q pvcreate --norestorefile -u rinitt-pv00-0000-0000-0000-0000-000001 "$loop"
lvm_q vgcreate --setautoactivation n -s 4M rinit-vg "$loop"
lvm_q lvcreate -an -Zn -L 8M -n first rinit-vg
lvm_q lvcreate -an -Zn -L 96M -n swap rinit-vg
losetup -d "$loop"
LVM_ARGS="root=/dev/vda resume=/dev/rinit-vg/swap noresume"
boot_disks "$L/v1.log" "$R/root.img" "$L/pv.img" -- $LVM_ARGS hib=tokV1 swap=/dev/mapper/rinit--vg-swap mkswap=1
expect_no_panic "$L/v1.log"
expect "$L/v1.log" "resume-init: activated LVM volume rinit-vg/swap as /dev/mapper/rinit--vg-swap \(/dev/dm-1\)" "the swap LV activated (dm name with the dash doubled)"
expect "$L/v1.log" "resume-init: activated LVM volume rinit-vg/first" "the other LV activated"
expect "$L/v1.log" "PM: hibernation: Wrote [0-9]+ kbytes" "the kernel writing into the LV"
boot_disks "$L/v2.log" "$R/root.img" "$L/pv.img" -- $LVM_ARGS
expect_no_panic "$L/v2.log"
expect "$L/v2.log" "resume-init: hibernation image found on /dev/dm-1" "the image in the LV"
expect "$L/v2.log" "RESUMED token=tokV1 proc=sh -c while :; do sleep 1; done holder-tokV1  rc=0" "the session back"
boot_disks "$L/v3.log" "$R/root.img" "$L/pv.img" -- $LVM_ARGS rd.lvm=0
expect_not "$L/v3.log" "activated LVM volume" "an activation under rd.lvm=0"
expect "$L/v3.log" "resume device resume=/dev/rinit-vg/swap did not appear" "the LV missing"
expect "$L/v3.log" "FRESH-BOOT" "a fresh boot"
case_end

case_begin "Debian's encrypted-LVM layout: LUKS2 → LVM with root and swap_1; boot to the real root inside, hibernate, resume"
# The plain PV first (lvm2 on a loop device, the root filesystem copied
# into its root LV), then encrypted in place by cryptsetup (the data moves
# behind the new header; the PV stays 16 MiB short of the end for it).
rm -f "$L/debian.img"
truncate -s 200M "$L/debian.img"
loop=$(losetup -f --show "$L/debian.img")
lvm_q pvcreate --norestorefile --setphysicalvolumesize 180M -u rinitt-pv00-0000-0000-0000-0000-000002 "$loop"
lvm_q vgcreate --setautoactivation n -s 4M deb-vg "$loop"
lvm_q lvcreate -an -Zn -L 64M -n root deb-vg
lvm_q lvcreate -an -Zn -L 96M -n swap_1 deb-vg
pe_start=$(pvs --driverloaded n --noheadings --units b --nosuffix -o pe_start "$loop" 2>/dev/null | tr -d ' ')
losetup -d "$loop"
[ -n "$pe_start" ] || check_fail "no pe_start from pvs"
dd if="$R/root.img" of="$L/debian.img" bs=1M seek=$((pe_start / 1048576)) conv=notrunc status=none
DEB_UUID=4c554b53-2d64-6562-6961-6e2d6c766d31
cryptsetup reencrypt -q --encrypt --type luks2 --reduce-device-size 16M --uuid "$DEB_UUID" "${TEST_KDF[@]}" \
    --key-file "$L/swap.key" "$L/debian.img" >/dev/null 2>&1 \
    || check_fail "cryptsetup reencrypt --encrypt failed"
DEB_ARGS="root=/dev/mapper/deb--vg-root rd.luks.name=$DEB_UUID=vda5_crypt rd.luks.key=/etc/keys/swap.key resume=/dev/deb-vg/swap_1 noresume"
luks_boot "$L/d1.log" "$L/debian.img" -- $DEB_ARGS hib=tokD1 swap=/dev/mapper/deb--vg-swap_1 mkswap=1
expect_no_panic "$L/d1.log"
expect "$L/d1.log" "resume-init: unlocked /dev/vda \(LUKS2 UUID=$DEB_UUID\) with keyslot 0 \(keyfile\) as /dev/mapper/vda5_crypt \(/dev/dm-0\)" "the container unlocked"
expect "$L/d1.log" "resume-init: activated LVM volume deb-vg/root as /dev/mapper/deb--vg-root" "the root LV inside"
expect "$L/d1.log" "resume-init: mounted /dev/dm-1 " "the real root mounted from inside"
expect "$L/d1.log" "PM: hibernation: Wrote [0-9]+ kbytes" "the kernel writing into swap_1"
luks_boot "$L/d2.log" "$L/debian.img" -- $DEB_ARGS
expect_no_panic "$L/d2.log"
expect "$L/d2.log" "resume-init: hibernation image found on /dev/dm-2" "the image in swap_1"
expect "$L/d2.log" "RESUMED token=tokD1 proc=sh -c while :; do sleep 1; done holder-tokD1  rc=0" "the session back"
case_end

case_begin "LUKS2/LVM faults: a cipher the kernel lacks, a missing PV, metadata failing its checksum; nothing written"
# serpent is not in the initramfs: the keyslot's temporary mapping fails.
# (cryptsetup cannot format serpent here without device-mapper: the
# keyslot's cipher is changed in both header copies, checksums redone.)
new_luks "$L/serpent.img"
python3 - "$L/serpent.img" <<'PY' || check_fail "could not rewrite the header"
import hashlib, struct, sys
f = open(sys.argv[1], "r+b")
for at in (0, 16384):
    f.seek(at); h = bytearray(f.read(16384))
    size = struct.unpack(">Q", h[8:16])[0]
    assert size == 16384
    j = h[4096:].split(b"\0")[0].replace(b'"encryption":"aes-xts-plain64","key_size"', b'"encryption":"serpent-xts-plain64","key_size"', 1)
    h[4096:] = j + b"\0" * (16384 - 4096 - len(j))
    h[448:512] = b"\0" * 64
    h[448:480] = hashlib.sha256(bytes(h)).digest()
    f.seek(at); f.write(h)
PY
cp "$L/serpent.img" "$L/serpent.orig"
luks_boot "$L/g1.log" "$R/root.img" "$L/serpent.img" -- $LUKS_ARGS
expect_no_panic "$L/g1.log"
expect "$L/g1.log" "resume-init: keyslot 0 of /dev/vdb: ioctl DM_TABLE_LOAD /dev/mapper/control: .*\(cipher serpent-xts-plain64; is its kernel module in the initramfs\?\)" "the unknown cipher named"
expect "$L/g1.log" "resume-init: cannot unlock /dev/vdb \(UUID=$LUKS_UUID\): none of its keyslots can be used here \(see above\); /dev/mapper/cswap will be missing" "no prompt for a keyslot that cannot be tried"
expect "$L/g1.log" "FRESH-BOOT" "a fresh boot"
cmp -s "$L/serpent.img" "$L/serpent.orig" || check_fail "the container was written to"
# A VG over two PVs with one of them left out.
rm -f "$L/pva.img" "$L/pvb.img"
truncate -s 40M "$L/pva.img" "$L/pvb.img"
la=$(losetup -f --show "$L/pva.img"); lb=$(losetup -f --show "$L/pvb.img")
lvm_q pvcreate --norestorefile -u rinitt-pv00-0000-0000-0000-0000-00000a "$la"
lvm_q pvcreate --norestorefile -u rinitt-pv00-0000-0000-0000-0000-00000b "$lb"
lvm_q vgcreate --setautoactivation n -s 4M two-vg "$la" "$lb"
lvm_q lvcreate -an -Zn -L 16M -n swap two-vg "$la"
losetup -d "$la" "$lb"
boot_disks "$L/g2.log" "$R/root.img" "$L/pva.img" -- root=/dev/vda resume=/dev/two-vg/swap noresume
expect "$L/g2.log" "resume-init: LVM volume group two-vg: physical volume rinittpv00000000000000000000000b is missing; none of its volumes activated" "the missing PV named"
expect "$L/g2.log" "FRESH-BOOT" "a fresh boot"
# One byte of the committed metadata text changed: its checksum fails.
cp "$L/pva.img" "$L/pva.orig"
off=$(grep -abo 'two-vg {' "$L/pva.img" | tail -n 1 | cut -d: -f1)
printf 'X' | dd of="$L/pva.img" bs=1 seek=$((off + 2)) conv=notrunc status=none
cp "$L/pva.img" "$L/pva.damaged"
boot_disks "$L/g3.log" "$R/root.img" "$L/pva.img" "$L/pvb.img" -- root=/dev/vda resume=/dev/two-vg/swap noresume
expect "$L/g3.log" "resume-init: LVM physical volume /dev/vdb: its metadata fails its checksum; skipped" "the damaged text named"
cmp -s "$L/pva.img" "$L/pva.damaged" || check_fail "the PV was written to"
case_end
