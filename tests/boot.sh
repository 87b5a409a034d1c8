#!/bin/bash
# QEMU boot tests of the boot foundation: finding the root by every
# device form, mounting it, handing over to its init with the kernel's
# arguments, and clear failures for a missing or unformatted root.
#
#   tests/boot.sh        (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

D=$T/boot
mkdir -p "$D"
ROOT_UUID=3e1d5a4c-7b2f-4c1e-9a8d-6f5e4d3c2b1a
GPT_PART_UUID=5c4b3a29-1807-4f6e-8d5c-4b3a29180706
INIT_SCRIPT='#!/bin/sh
echo "ROOT-INIT-OK pid=$$ args=[$*] mode=$(awk '"'"'$2=="/"{split($4,o,",");print o[1]}'"'"' /proc/mounts) foo=[$foo] initramfs-left=$(ls /init 2>/dev/null)"
poweroff -f'

build_initramfs
make_rootdir "$D/rootdir" "$INIT_SCRIPT"
printf '#!/bin/sh\necho "OTHER-INIT-OK args=[$*]"\npoweroff -f\n' > "$D/rootdir/sbin/other-init"
printf '#!/bin/sh\necho "DMESG-LINES $(dmesg | grep -c resume-init:)"\npoweroff -f\n' > "$D/rootdir/sbin/count-init"
chmod 0755 "$D/rootdir/sbin/other-init" "$D/rootdir/sbin/count-init"
mkext4 "$D/plain.img" 64 "$D/rootdir" -L "test root" -U "$ROOT_UUID"

# A GPT disk: partition 1 a small unused one, partition 2 the root.
mkext4 "$D/part.fs" 48 "$D/rootdir" -L gptroot
rm -f "$D/gpt.img"; truncate -s 64M "$D/gpt.img"
sgdisk -n 1:2048:+8M -c 1:spare -n 2:0:0 -c 2:"root part" -u 2:$GPT_PART_UUID "$D/gpt.img" >/dev/null
start=$(sgdisk -i 2 "$D/gpt.img" | awk '/First sector/{print $3}')
dd if="$D/part.fs" of="$D/gpt.img" bs=512 seek="$start" conv=notrunc,sparse status=none

# A disk that is not a filesystem at all.
rm -f "$D/zero.img"; truncate -s 16M "$D/zero.img"

# ok_boot NAME LOG: the common checks of a successful hand-over.
ok_boot() {
    expect_no_panic "$2"
    expect "$2" "resume-init: resume-init [0-9.]+ starting" "the init's first line"
    expect "$2" "resume-init: starting /sbin/init \([0-9]+ ms after start\)" "the hand-over line"
    expect "$2" "ROOT-INIT-OK pid=1 " "the real init running as PID 1"
    expect_not "$2" "initramfs-left=/init" "initramfs contents left behind"
}

case_begin "root=/dev/vda (whole-disk ext4, read-only by default)"
boot "$D/dev.log" -d "$D/plain.img" -a "root=/dev/vda"
ok_boot x "$D/dev.log"
expect "$D/dev.log" "mode=ro" "a read-only root"
expect "$D/dev.log" "mounted /dev/vda \([0-9]+:[0-9]+, ext4, ro\) on /root" "the mount line"
expect "$D/dev.log" "loaded [0-9]+ kernel modules \([0-9]+ without hardware, 0 failed\)" "modules loaded"
case_end
majmin=$(grep -Eo 'mounted /dev/vda \([0-9]+:[0-9]+' "$D/dev.log" | grep -Eo '[0-9]+:[0-9]+' || echo 254:0)

case_begin "root=UUID= rw rootflags="
boot "$D/uuid.log" -d "$D/plain.img" -a "root=UUID=$ROOT_UUID rw rootflags=data=journal"
ok_boot x "$D/uuid.log"
expect "$D/uuid.log" "mode=rw" "a read-write root"
expect "$D/uuid.log" "EXT4-fs \(vda\): mounted filesystem with journalled data mode" "rootflags= reaching the filesystem"
case_end

case_begin "root=PARTUUID= of partition 2 on a GPT disk, behind a plain disk"
boot "$D/partuuid.log" -d "$D/zero.img" -d "$D/gpt.img" -a "root=PARTUUID=${GPT_PART_UUID^^}"
ok_boot x "$D/partuuid.log"
expect "$D/partuuid.log" "mounted /dev/vdb2 " "partition 2 of the second disk"
case_end

case_begin "root=PARTLABEL= with a space, quoted"
boot "$D/partlabel.log" -d "$D/gpt.img" -a 'root=PARTLABEL="root part"'
ok_boot x "$D/partlabel.log"
expect "$D/partlabel.log" "mounted /dev/vda2 " "the labelled partition"
case_end

case_begin "root=MAJ:MIN ($majmin) and init= with kernel arguments and environment"
boot "$D/majmin.log" -d "$D/plain.img" -a "root=$majmin init=/sbin/other-init -- single extra"
expect_no_panic "$D/majmin.log"
expect "$D/majmin.log" "OTHER-INIT-OK args=\[single extra\]" "init= run with the arguments after --"
case_end

case_begin "a missing init= falls back to /sbin/init"
boot "$D/noinit.log" -d "$D/plain.img" -a "root=/dev/vda init=/sbin/nonexistent foo=bar"
ok_boot x "$D/noinit.log"
expect "$D/noinit.log" "cannot run /sbin/nonexistent: ENOENT" "the reason init= failed"
expect "$D/noinit.log" "foo=\[bar\]" "unknown a=b parameters in init's environment"
case_end

case_begin "quotes and junk on the command line, LABEL= with a space"
boot "$D/junk.log" -d "$D/plain.img" \
    -a 'root=LABEL="test root" "quoted junk" = == x="a b" rootdelay=soon resume_init=fast resume_offset=99999999999999999999999 rootwait=2'
ok_boot x "$D/junk.log"
expect "$D/junk.log" 'ignoring rootdelay="soon": is not a decimal number' "the bad rootdelay named"
expect "$D/junk.log" 'ignoring resume_init="fast": is not userspace, kernel or skip' "the bad resume_init named"
expect "$D/junk.log" 'ignoring resume_offset="99999999999999999999999"' "the huge resume_offset named"
case_end

case_begin "a root device that never appears: bounded wait, clear message, no panic"
t0=$SECONDS
boot "$D/missing.log" -d "$D/plain.img" -a "root=UUID=00000000-0000-4000-8000-000000000000 rootwait=3" \
    -u "cannot continue"
expect_no_panic "$D/missing.log"
expect "$D/missing.log" "root device root=UUID=00000000-0000-4000-8000-000000000000 did not appear within 3 s" "the reason"
expect "$D/missing.log" "waiting for root device" "the wait announced"
expect "$D/missing.log" "cannot continue" "the hold message"
[ $((SECONDS - t0)) -lt 120 ] || check_fail "took $((SECONDS - t0)) s"
case_end

case_begin "a root that is not a filesystem: clear message, no panic"
boot "$D/nofs.log" -d "$D/zero.img" -a "root=/dev/vda" -u "cannot continue"
expect_no_panic "$D/nofs.log"
expect "$D/nofs.log" "cannot mount root=/dev/vda \(/dev/vda\): no filesystem recognised it" "the reason"
case_end

case_begin "no root= at all"
boot "$D/noroot.log" -d "$D/plain.img" -a "" -u "cannot continue"
expect_no_panic "$D/noroot.log"
expect "$D/noroot.log" "no root= on the kernel command line" "the reason"
case_end

case_begin "quiet: info lines stay off the console but are in the kernel log"
boot "$D/quiet.log" -d "$D/plain.img" -a "root=/dev/vda quiet init=/sbin/count-init"
expect_no_panic "$D/quiet.log"
expect_not "$D/quiet.log" "resume-init: mounted" "info lines on a quiet console"
expect "$D/quiet.log" "^DMESG-LINES [0-9]+" "the dmesg count of resume-init lines"
n=$(grep -Eo '^DMESG-LINES [0-9]+' "$D/quiet.log" | grep -Eo '[0-9]+$' | tail -n 1)
[ "${n:-0}" -ge 4 ] || check_fail "dmesg has ${n:-0} resume-init lines, want >= 4"
case_end
