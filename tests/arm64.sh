#!/bin/bash
# QEMU tests on arm64 (qemu-system-aarch64 -M virt -cpu max, TCG) with
# Debian 12's arm64 kernel, unpacked from its package by scripts/arm64.sh
# (cached), and the aarch64 build of resume-init as /init: a fresh boot
# to a busybox root with the binary's own memcpy/memmove/memset and
# worker threads checked in place (`selftest`); a kernel-written image
# restored; images written by `resume-init hibernate` restored by the
# kernel's own loader and by resume-init; a swap file; a LUKS2 swap
# unlocked by keyfile; and an image of another kernel build refused,
# naming both builds, before anything on disk is changed. The x86-64
# `inspect` reads the arm64 images.
#
#   tests/arm64.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

# What the other tests boot, restored at the end (this file is sourced).
saved_arm64=("$KVER" "$KERNEL" "$INITRD" "$MEM")
A6=$T/arm64
mkdir -p "$A6"

case_begin "arm64: Debian's arm64 kernel unpacked, resume-init built for aarch64 (static, no libc, under 256 KiB)"
AROOT=$("$top/scripts/arm64.sh" 2> "$A6/fetch.log") || check_fail "scripts/arm64.sh failed: $(tail -n 3 "$A6/fetch.log")"
AKVER=$(ls "$AROOT/lib/modules" 2>/dev/null | head -n 1)
[ -f "$AROOT/boot/vmlinuz-$AKVER" ] || check_fail "no arm64 kernel in ${AROOT:-the cache}"
cargo build --release --quiet --target aarch64-unknown-linux-musl 2> "$A6/build.log" || check_fail "the aarch64 build failed: $(tail -n 3 "$A6/build.log")"
CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --quiet --features selftest --target aarch64-unknown-linux-musl --target-dir "$top/target/unstripped" 2>> "$A6/build.log" \
    || check_fail "the aarch64 selftest build failed"
ABIN=$top/target/$BIN_ARM64_REL
asize=$(stat -c %s "$ABIN" 2>/dev/null || echo 0)
file "$ABIN" | grep -q "ARM aarch64.*statically linked" || check_fail "not a static aarch64 executable: $(file -b "$ABIN")"
[ "$asize" -gt 0 ] && [ "$asize" -lt 262144 ] || check_fail "size $asize bytes is not under 256 KiB"
case_end
echo "        binary (aarch64): $asize bytes"
if [ ! -f "$AROOT/boot/vmlinuz-$AKVER" ] || [ ! -x "$ABIN" ]; then return 0 2>/dev/null || exit 1; fi

KVER=$AKVER KERNEL=$AROOT/boot/vmlinuz-$AKVER MEM=1024 QEMU_ARCH=arm64
INITRD=$A6/initramfs-$AKVER.cpio.gz
"$top/scripts/mkinitramfs.sh" --arch arm64 --kernel-root "$AROOT" -k "$AKVER" -b "$ABIN" -o "$INITRD" > "$A6/mkinitramfs.log" 2>&1
GUEST_BIN=$ABIN BUSYBOX=$AROOT/bin/busybox make_rootdir "$A6/rootdir" "$RESUME_INIT_SCRIPT"
cp "$ABIN" "$A6/rootdir/sbin/resume-init"
cp "$top/target/unstripped/$BIN_ARM64_REL" "$A6/rootdir/sbin/resume-init-selftest"
printf '#!/bin/sh\n/sbin/resume-init-selftest selftest\n' > "$A6/rootdir/sbin/selftest"
chmod 0755 "$A6/rootdir/sbin/selftest"
# The test root's init runs /sbin/selftest when asked (selftest=1).
sed -i 's|^mount -t tmpfs tmpfs /tmp$|mount -t tmpfs tmpfs /tmp\n[ -n "$selftest" ] \&\& /sbin/selftest|' "$A6/rootdir/sbin/init"
mkext4 "$A6/root.img" 64 "$A6/rootdir" -L a64root
ARGS="root=/dev/vda resume=/dev/vdb noresume"

case_begin "arm64: a fresh boot to a busybox root; the binary's memcpy/memmove/memset and worker threads pass their self-test there"
new_swap "$A6/swap.img"
boot_disks "$A6/fresh.log" "$A6/root.img" "$A6/swap.img" -- $ARGS selftest=1
expect_no_panic "$A6/fresh.log"
expect "$A6/fresh.log" "resume-init: resume-init [0-9.]+ starting" "resume-init as /init"
expect "$A6/fresh.log" "resume-init: no hibernation image on /dev/vdb" "the swap area looked at"
expect "$A6/fresh.log" "selftest: memcpy/memmove/memset ok" "mem* self-test"
expect "$A6/fresh.log" "selftest: worker threads ok" "worker threads self-test"
expect "$A6/fresh.log" "FRESH-BOOT" "the busybox root's init"
case_end

case_begin "arm64: an LZO image written by the kernel, restored by resume-init as /init; read by the x86-64 inspect"
new_swap "$A6/swap.img"
hibernate "$A6/k1.log" tokA1 "$A6/root.img" "$A6/swap.img" -- $ARGS
expect_eq "$(inspect_status "$A6/swap.img")" 0 "x86-64 inspect of the arm64 image"
expect "$R/inspect.out" "written by: +an arm64 kernel, build #[0-9]+ SMP" "inspect naming the architecture and the build"
resume "$A6/k2.log" tokA1 "$A6/root.img" "$A6/swap.img" -- $ARGS
case_end

case_begin "arm64: resume-init hibernate (no platform mode, shutdown), restored by the kernel's own loader, then again by resume-init"
new_swap "$A6/swap.img"
boot_disks "$A6/w0.log" "$A6/root.img" "$A6/swap.img" -- $ARGS hib=tokA2 writer=lzo cycles=2
expect "$A6/w0.log" "resume-init: hibernating to /dev/vdb .*then shutdown" "the writer choosing shutdown (arm64 has no platform mode)"
expect "$A6/w0.log" "resume-init: image committed on /dev/vdb" "the commit"
expect_not "$A6/w0.log" "PM: hibernation: Wrote" "the kernel's own writer at work"
boot_disks "$A6/w1.log" "$A6/root.img" "$A6/swap.img" -- $ARGS resume_init=kernel
expect_no_panic "$A6/w1.log"
expect "$A6/w1.log" "PM: hibernation: Read [0-9]+ kbytes" "the kernel's loader reading our image"
expect "$A6/w1.log" "RESUMED token=tokA2 .* n=1" "the session back through the kernel's loader"
expect "$A6/w1.log" "resume-init: image committed on /dev/vdb" "the second image"
resume "$A6/w2.log" tokA2 "$A6/root.img" "$A6/swap.img" -- $ARGS
expect "$A6/w2.log" "n=2" "the second cycle"
case_end

case_begin "arm64: a swap file on the ext4 root (resume_offset=), the kernel's image restored by resume-init"
aoff=$(GUEST_BIN=$ABIN BUSYBOX=$AROOT/bin/busybox swapfile_root "$A6/sfroot" a64sfroot 96 160)
hibernate "$A6/f1.log" tokA3 "$A6/sfroot.img" -- root=/dev/vda rw resume=/dev/vda resume_offset="$aoff" noresume swap=/swapfile
resume "$A6/f2.log" tokA3 "$A6/sfroot.img" -- root=/dev/vda rw resume=/dev/vda resume_offset="$aoff" noresume
case_end

case_begin "arm64: a LUKS2 swap unlocked by keyfile, hibernated into by the kernel, resumed"
printf 'swap key for the tests\n' > "$A6/swap.key"
AL_INITRD=$A6/initramfs-luks-$AKVER.cpio.gz
"$top/scripts/mkinitramfs.sh" --arch arm64 --kernel-root "$AROOT" -k "$AKVER" -b "$ABIN" -f "$A6/swap.key:/etc/keys/swap.key" -o "$AL_INITRD" > /dev/null 2>&1
AL_UUID=4c554b53-2d73-7761-702d-746573740064
rm -f "$A6/luks.img"; truncate -s 96M "$A6/luks.img"
cryptsetup luksFormat -q --type luks2 --uuid "$AL_UUID" "${TEST_KDF[@]}" --key-file "$A6/swap.key" "$A6/luks.img" \
    || check_fail "cryptsetup luksFormat failed"
AL_ARGS="root=/dev/vda rd.luks.name=$AL_UUID=cswap rd.luks.key=/etc/keys/swap.key resume=/dev/mapper/cswap noresume"
with_initrd "$AL_INITRD" hibernate "$A6/l1.log" tokA4 "$A6/root.img" "$A6/luks.img" -- $AL_ARGS swap=/dev/mapper/cswap mkswap=1
expect "$A6/l1.log" "resume-init: unlocked /dev/vdb \(LUKS2 UUID=$AL_UUID\) with keyslot 0 \(keyfile\) as /dev/mapper/cswap" "the unlock"
with_initrd "$AL_INITRD" resume "$A6/l2.log" tokA4 "$A6/root.img" "$A6/luks.img" -- $AL_ARGS
expect "$A6/l2.log" "resume-init: hibernation image found on /dev/dm-0" "the image inside the container"
case_end

case_begin "arm64: an image of another kernel build refused, naming both builds, before the signature is cleared; the boot goes on fresh"
new_swap "$A6/swap.img"
hibernate "$A6/b1.log" tokA5 "$A6/root.img" "$A6/swap.img" -- $ARGS
# The build number in the image's uts_version (stream page 0, never
# compressed): '#1 SMP …' becomes '#9 SMP …'.
info_at=$(entry "$A6/swap.img" 0)
printf '9' | dd of="$A6/swap.img" bs=1 seek=$(( info_at * 4096 + 1 )) conv=notrunc status=none
boot_disks "$A6/b2.log" "$A6/root.img" "$A6/swap.img" -- $ARGS
expect_no_panic "$A6/b2.log"
expect "$A6/b2.log" "resume-init: image on /dev/vdb was written by kernel build \"#9 SMP [^\"]*\", not by this one \(\"#1 SMP [^\"]*\"\): an arm64 kernel restores only images of its own build" "the refusal naming both builds"
first=$(grep -n "was written by kernel build" "$A6/b2.log" | head -n 1 | cut -d: -f1)
inval=$(grep -n "resume-init: hibernation image on /dev/vdb invalidated (this kernel cannot restore it)" "$A6/b2.log" | head -n 1 | cut -d: -f1)
[ -n "$first" ] && [ -n "$inval" ] && [ "$first" -lt "$inval" ] || check_fail "the refusal not said before the signature was cleared (lines ${first:-none}, ${inval:-none})"
expect_not "$A6/b2.log" "Image mismatch|loaded [0-9]+ pages" "the image handed to the kernel"
expect "$A6/b2.log" "FRESH-BOOT" "a fresh boot"
expect_eq "$(inspect_status "$A6/swap.img")" 1 "no image left behind"
case_end

KVER=${saved_arm64[0]} KERNEL=${saved_arm64[1]} INITRD=${saved_arm64[2]} MEM=${saved_arm64[3]}
unset QEMU_ARCH GUEST_BIN
