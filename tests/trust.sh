#!/bin/bash
# QEMU tests of the trust boundaries: which device is which (an identity
# two devices carry is refused, naming both, unless a container opened in
# this boot settles it; md RAID members are never taken for what their
# first page holds), how keys travel (a keyring key named in the
# dm-crypt table, never the key; a 4096-byte keyfile taken whole; the
# initramfs only root can read), and the writer refusing to put keys on
# an unencrypted swap area.
#
#   tests/trust.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

X=$T/trust
mkdir -p "$X"

# A root with the test init plus mdadm and dmsetup (and their libraries):
# table=NAME prints `dmsetup table --showkeys NAME`; mdsetup=1 makes a
# RAID1 array (metadata 1.0: the superblock at the end) of vdb and vdc
# holding swap labelled mdswap, then powers off.
TRUST_SCRIPT="#!/bin/sh
$(cat <<'EOF'
[ -n "$table" ] && echo "TABLE $(dmsetup table --showkeys "$table" 2>&1)"
if [ -n "$mdsetup" ]; then
  mdadm --create /dev/md0 --run --quiet --level=1 --metadata=1.0 --raid-devices=2 /dev/vdb /dev/vdc \
    && mkswap -L mdswap /dev/md0 && mdadm --stop /dev/md0 && echo "MD-MADE"
  sync; poweroff -f
fi
EOF
)
${RESUME_INIT_SCRIPT#*$'\n'}"
make_rootdir "$X/rootdir" "$TRUST_SCRIPT"
cp "$BIN" "$X/rootdir/sbin/resume-init"
add_binary "$X/rootdir" /sbin/mdadm
add_binary "$X/rootdir" /sbin/dmsetup
mkext4 "$X/root.img" 96 "$X/rootdir" -L trustroot
TRUST_UUID=$(blkid -o value -s UUID "$X/root.img")

# The keyfile: 4096 bytes of every value, newlines and NULs included (a
# reader that stops at one of them, or at 512 bytes, opens nothing).
head -c 4096 /dev/urandom > "$X/big.key"
KEY_UUID=4c554b53-7472-7573-742d-6b6579303031
KEY_INITRD=$T/initramfs-trust-$KVER.cpio.gz
rm -f "$KEY_INITRD"
(umask 022; "$top/scripts/mkinitramfs.sh" -k "$KVER" -m raid1 -f "$X/big.key:/etc/keys/big.key" -o "$KEY_INITRD" >/dev/null)
trust_boot() { with_initrd "$KEY_INITRD" boot_disks "$@"; }

case_begin "the initramfs holding a keyfile is mode 0600 whatever the umask"
expect_eq "$(stat -c %a "$KEY_INITRD")" 600 "mode of an initramfs built with -f under umask 022"
case_end

case_begin "a 4096-byte keyfile opens its container whole; the dm-crypt table names a keyring key, not the key"
rm -f "$X/swap.img"
truncate -s 64M "$X/swap.img"
cryptsetup luksFormat -q --type luks2 --uuid "$KEY_UUID" "${TEST_KDF[@]}" \
    --key-file "$X/big.key" "$X/swap.img" || check_fail "luksFormat with the 4096-byte keyfile failed"
trust_boot "$X/k1.log" "$X/root.img" "$X/swap.img" -- root=/dev/vda rd.luks.name=$KEY_UUID=cswap rd.luks.key=/etc/keys/big.key table=cswap
expect_no_panic "$X/k1.log"
expect "$X/k1.log" "resume-init: unlocked /dev/vdb \(LUKS2 UUID=$KEY_UUID\) with keyslot 0 \(keyfile\) as /dev/mapper/cswap" "the unlock by the whole keyfile"
expect "$X/k1.log" "TABLE 0 [0-9]+ crypt aes-xts-plain64 :64:logon:cryptsetup:$KEY_UUID-d0 0 [0-9]+:[0-9]+ " "the table naming the keyring key"
expect_not "$X/k1.log" "the kernel keyring refused" "the fallback to a key in the table"
expect "$X/k1.log" "FRESH-BOOT" "the boot going on"
case_end

case_begin "the writer refuses an unencrypted swap area while a dm-crypt mapping is open; the session goes on"
new_swap "$X/plain.img"
trust_boot "$X/w1.log" "$X/root.img" "$X/swap.img" "$X/plain.img" -- root=/dev/vda rd.luks.name=$KEY_UUID=cswap \
    rd.luks.key=/etc/keys/big.key resume=/dev/vdc noresume hib=tokP swap=/dev/vdc writer=lzo
expect_no_panic "$X/w1.log"
expect "$X/w1.log" "resume-init: not hibernating to /dev/vdc \(/dev/vdc\): it is not encrypted, and dm-crypt mappings are open \(/dev/mapper/cswap\)" "the refusal with its reason"
expect "$X/w1.log" "HIBERNATE-FAILED rc=1" "the writer's failure status"
expect "$X/w1.log" "STILL-RUNNING token=tokP" "the session going on"
expect_not "$X/w1.log" "resume-init: image committed" "an image written"
[ "$(inspect_status "$X/plain.img")" = 1 ] || check_fail "the plain swap area was written to: $(cat "$R/inspect.out")"
case_end

case_begin "two disks carrying the root's UUID, after a LUKS unlock: refused, both named"
cp "$X/root.img" "$X/copy.img"
trust_boot "$X/d1.log" "$X/root.img" "$X/swap.img" "$X/copy.img" -- root=UUID=$TRUST_UUID rd.luks.name=$KEY_UUID=cswap rd.luks.key=/etc/keys/big.key
expect_no_panic "$X/d1.log"
expect "$X/d1.log" "resume-init: unlocked /dev/vdb" "the unlock before"
expect "$X/d1.log" "resume-init: root=UUID=$TRUST_UUID matches several devices \((/dev/vda, /dev/vdc|/dev/vdc, /dev/vda)\); not guessing which is the root" "the refusal naming both"
expect_not "$X/d1.log" "FRESH-BOOT|resume-init: mounted" "a root mounted"
case_end

case_begin "resume=UUID= carried by two swap areas, one holding an image: the boot holds, nothing restored or discarded"
new_swap "$X/s1.img"
cp "$X/s1.img" "$X/s2.img"
hibernate "$X/r1.log" tokR "$R/root.img" "$X/s1.img" -- root=/dev/vda resume=/dev/vdb noresume swap=/dev/vdb
trust_boot "$X/r2.log" "$R/root.img" "$X/s1.img" "$X/s2.img" -- root=/dev/vda resume=UUID=$SWAP_UUID noresume
expect_no_panic "$X/r2.log"
expect "$X/r2.log" "resume=UUID=$SWAP_UUID matches several devices \((/dev/vdb, /dev/vdc|/dev/vdc, /dev/vdb)\) and /dev/vdb holds a hibernation image: not guessing" "the refusal"
expect_not "$X/r2.log" "FRESH-BOOT|RESUMED|invalidated" "a boot going on, a restore, or the image discarded"
[ "$(inspect_status "$X/s1.img")" = 0 ] || check_fail "the image was touched: $(cat "$R/inspect.out")"
case_end

case_begin "the root inside a LUKS container and a plain copy of it on another disk: the container's is taken"
rm -f "$X/luksroot.img"
truncate -s 112M "$X/luksroot.img"
dd if="$X/root.img" of="$X/luksroot.img" conv=notrunc status=none
cryptsetup reencrypt -q --encrypt --type luks2 --reduce-device-size 16M --uuid 4c554b53-7472-7573-742d-726f6f743031 \
    "${TEST_KDF[@]}" --key-file "$X/big.key" "$X/luksroot.img" >/dev/null 2>&1 \
    || check_fail "cryptsetup reencrypt --encrypt failed"
trust_boot "$X/l1.log" "$X/luksroot.img" "$X/copy.img" -- root=UUID=$TRUST_UUID rd.luks.name=4c554b53-7472-7573-742d-726f6f743031=root \
    rd.luks.key=/etc/keys/big.key
expect_no_panic "$X/l1.log"
expect "$X/l1.log" "resume-init: /dev/vdb carries the same identity as the mapping dm-0; the mapping opened in this boot is taken" "the copy named"
expect "$X/l1.log" "resume-init: mounted /dev/dm-0 " "the container's root mounted"
expect "$X/l1.log" "FRESH-BOOT" "the boot going on"
case_end

case_begin "md RAID1 legs (metadata 1.0) holding swap: neither taken for swap nor mounted as the root"
rm -f "$X/leg1.img" "$X/leg2.img"
truncate -s 48M "$X/leg1.img"
truncate -s 48M "$X/leg2.img"
trust_boot "$X/m1.log" "$X/root.img" "$X/leg1.img" "$X/leg2.img" -- root=/dev/vda mdsetup=1
expect "$X/m1.log" "MD-MADE" "mdadm making the array in the guest"
[ "$(blkid -o value -s TYPE "$X/leg1.img")" = linux_raid_member ] || check_fail "blkid does not call the leg an md member: $(blkid "$X/leg1.img")"
trust_boot "$X/m2.log" "$X/root.img" "$X/leg1.img" "$X/leg2.img" -- root=/dev/vdc resume=/dev/vdb noresume
expect_no_panic "$X/m2.log"
expect "$X/m2.log" "resume-init: /dev/vdb \(resume=/dev/vdb\) is a member of an md RAID array \(metadata 1.0\)" "the resume leg refused"
expect "$X/m2.log" "cannot mount root=/dev/vdc \(/dev/vdc\): it is a member of an md RAID array \(metadata 1.0\)" "the root leg refused"
expect_not "$X/m2.log" "no hibernation image on /dev/vdb|resume-init: mounted" "a leg taken"
case_end
