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
GPT4K_PART_UUID=6d5c4b3a-2918-4706-9f5e-4d3c2b1a0908
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

# A disk with 4 KiB logical sectors (4Kn NVMe and SAS drives), GPT:
# partition 1 a small unused one, partition 2 the root (ext4 with 4 KiB
# blocks, as a 4Kn disk needs).
mkext4 "$D/part4k.fs" 48 "$D/rootdir" -b 4096 -L root4k
mkgpt "$D/gpt4k.img" 64 4096 "label: gpt\nstart=256, size=1024, name=spare\nname=root4k, uuid=$GPT4K_PART_UUID\n" \
    && put_part "$D/gpt4k.img" 4096 2 "$D/part4k.fs" || echo "boot.sh: could not build the 4 KiB-sector disk" >&2

# A disk that is not a filesystem at all.
rm -f "$D/zero.img"; truncate -s 16M "$D/zero.img"

# ok_boot LOG: the common checks of a successful hand-over.
ok_boot() {
    expect_no_panic "$1"
    expect "$1" "resume-init: resume-init [0-9.]+ starting" "the init's first line"
    expect "$1" "resume-init: starting /sbin/init \([0-9]+ ms after start\)" "the hand-over line"
    expect "$1" "ROOT-INIT-OK pid=1 " "the real init running as PID 1"
    expect_not "$1" "initramfs-left=/init" "initramfs contents left behind"
}

case_begin "root=/dev/vda (whole-disk ext4, read-only by default)"
boot "$D/dev.log" -d "$D/plain.img" -a "root=/dev/vda"
ok_boot "$D/dev.log"
expect "$D/dev.log" "mode=ro" "a read-only root"
expect "$D/dev.log" "mounted /dev/vda \([0-9]+:[0-9]+, ext4, ro\) on /root" "the mount line"
expect "$D/dev.log" "loaded [0-9]+ kernel modules \([1-9][0-9]* left out for hardware not seen, [0-9]+ without hardware, 0 failed\)" "the resume stage's modules loaded, the absent disks' drivers left out"
expect "$D/dev.log" "loaded [0-9]+ kernel modules for the root \(0 left out for hardware not seen, [0-9]+ without hardware, 0 failed\)" "the root stage's modules (ext4) loaded after the resume step"
expect_not "$D/dev.log" "not there yet" "drivers loaded after all"
first=$(grep -n "resume-init: loaded [0-9]* kernel modules (" "$D/dev.log" | head -n 1 | cut -d: -f1)
root=$(grep -n "resume-init: loaded [0-9]* kernel modules for the root" "$D/dev.log" | head -n 1 | cut -d: -f1)
[ -n "$first" ] && [ -n "$root" ] && [ "$first" -lt "$root" ] || check_fail "the two module stages not in order (lines ${first:-none}, ${root:-none})"
case_end
majmin=$(grep -Eo 'mounted /dev/vda \([0-9]+:[0-9]+' "$D/dev.log" | grep -Eo '[0-9]+:[0-9]+' || echo 254:0)

# The disks real machines have: the drivers matched to them by their
# PCI and virtio aliases, the others left out.
case_begin "root on an NVMe drive, resume= on a SATA disk: their drivers found by the hardware"
boot "$D/nvme.log" -d "$D/plain.img@nvme" -d "$D/zero.img@sata" -a "root=/dev/nvme0n1 resume=/dev/sda noresume"
ok_boot "$D/nvme.log"
expect "$D/nvme.log" "mounted /dev/nvme0n1 \([0-9]+:[0-9]+, ext4, ro\)" "the NVMe root mounted"
expect "$D/nvme.log" "/dev/sda at page 0 \(resume=/dev/sda\) is not a swap area" "the SATA disk looked at"
expect "$D/nvme.log" "loaded [0-9]+ kernel modules \([1-9][0-9]* left out for hardware not seen" "virtio-blk's and virtio-scsi's drivers left out"
expect_not "$D/nvme.log" "not there yet" "drivers loaded after all"
case_end

# A device no pattern matched (here: virtio-blk's pattern spoilt in the
# list) is not lost: when the wait for it passes a second, the drivers
# left out are loaded after all.
case_begin "a driver left out wrongly is loaded when its device does not appear"
mkdir -p "$D/spoilt"
rm -rf "$D/spoilt"/*
tail -c +"$(gzip_at "$INITRD")" "$INITRD" | zcat | (cd "$D/spoilt" && cpio -idm --quiet)
sed -i 's/^@virtio:d00000002v\*$/@virtio:d0000ffffv*/' "$D/spoilt/etc/resume-init/modules"
(cd "$D/spoilt" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1n) > "$D/spoilt.cpio.gz"
with_initrd "$D/spoilt.cpio.gz" boot "$D/spoilt.log" -d "$D/plain.img" -a "root=/dev/vda"
ok_boot "$D/spoilt.log"
expect "$D/spoilt.log" "root device not there yet: loading the drivers left out for hardware not seen" "the drivers loaded after all"
expect "$D/spoilt.log" "mounted /dev/vda " "the root found then"
case_end

case_begin "root=UUID= rw rootflags="
boot "$D/uuid.log" -d "$D/plain.img" -a "root=UUID=$ROOT_UUID rw rootflags=data=journal"
ok_boot "$D/uuid.log"
expect "$D/uuid.log" "mode=rw" "a read-write root"
expect "$D/uuid.log" "EXT4-fs \(vda\): mounted filesystem (.* )?with journalled data mode" "rootflags= reaching the filesystem"
case_end

# Partitions by PARTUUID= and PARTLABEL=, on 512-byte and 4 KiB-sector
# GPT disks: what case, its log, the disks in order, root=, and the
# partition that must be mounted.
while IFS='|' read -r name log disks root part; do
    case_begin "$name"
    disk_args=()
    for d in $disks; do disk_args+=(-d "$D/$d"); done
    boot "$D/$log.log" "${disk_args[@]}" -a "$root" < /dev/null
    ok_boot "$D/$log.log"
    expect "$D/$log.log" "mounted $part " "$part mounted"
    case_end
done <<EOF
root=PARTUUID= of partition 2 on a GPT disk, behind a plain disk|partuuid|zero.img gpt.img|root=PARTUUID=${GPT_PART_UUID^^}|/dev/vdb2
root=PARTLABEL= with a space, quoted|partlabel|gpt.img|root=PARTLABEL="root part"|/dev/vda2
root=PARTUUID= on a 4 KiB-sector GPT disk, behind a 512-byte-sector GPT disk|4k-partuuid|gpt.img gpt4k.img@4096|root=PARTUUID=$GPT4K_PART_UUID|/dev/vdb2
root=PARTLABEL= on a 4 KiB-sector GPT disk|4k-partlabel|gpt4k.img@4096|root=PARTLABEL=root4k|/dev/vda2
root=PARTLABEL= of a 512-byte-sector disk while a 4 KiB-sector GPT disk is present|4k-other|gpt4k.img@4096 gpt.img|root=PARTLABEL="root part"|/dev/vdb2
EOF

case_begin "root=MAJ:MIN ($majmin) and init= with kernel arguments and environment"
boot "$D/majmin.log" -d "$D/plain.img" -a "root=$majmin init=/sbin/other-init -- single extra"
expect_no_panic "$D/majmin.log"
expect "$D/majmin.log" "OTHER-INIT-OK args=\[single extra\]" "init= run with the arguments after --"
case_end

case_begin "a missing init= falls back to /sbin/init"
boot "$D/noinit.log" -d "$D/plain.img" -a "root=/dev/vda init=/sbin/nonexistent foo=bar"
ok_boot "$D/noinit.log"
expect "$D/noinit.log" "cannot run /sbin/nonexistent: ENOENT" "the reason init= failed"
expect "$D/noinit.log" "foo=\[bar\]" "unknown a=b parameters in init's environment"
case_end

case_begin "quotes and junk on the command line, LABEL= with a space"
boot "$D/junk.log" -d "$D/plain.img" \
    -a 'root=LABEL="test root" "quoted junk" = == x="a b" rootdelay=soon resume_init=fast resume_offset=99999999999999999999999 rootwait=2'
ok_boot "$D/junk.log"
expect "$D/junk.log" 'ignoring rootdelay="soon": is not a decimal number' "the bad rootdelay named"
expect "$D/junk.log" 'ignoring resume_init="fast": is not userspace, kernel or skip' "the bad resume_init named"
expect "$D/junk.log" 'ignoring resume_offset="99999999999999999999999"' "the huge resume_offset named"
case_end

case_begin "a root device that never appears: bounded wait, clear message, panic=2 reboots"
t0=$SECONDS
rc=0
boot "$D/missing.log" -d "$D/plain.img" -a "root=UUID=00000000-0000-4000-8000-000000000000 rootwait=3 panic=2" || rc=$?
expect_eq "$rc" 0 "run.sh status (0: the guest rebooted by itself, 124: it sat there)"
expect_no_panic "$D/missing.log"
expect "$D/missing.log" "root device root=UUID=00000000-0000-4000-8000-000000000000 did not appear within 3 s" "the reason"
expect "$D/missing.log" "waiting for root device" "the wait announced"
expect "$D/missing.log" "cannot continue; rebooting in 2 s \(panic=2\)" "the reboot announced"
expect_eq "$(grep -c "did not appear" "$D/missing.log")" 1 "the reason said once"
[ $((SECONDS - t0)) -lt 120 ] || check_fail "took $((SECONDS - t0)) s"
case_end

case_begin "a root that is not a filesystem: clear message; panic=0 holds"
boot "$D/nofs.log" -d "$D/zero.img" -a "root=/dev/vda panic=0" -u "cannot continue"
expect_no_panic "$D/nofs.log"
expect "$D/nofs.log" "cannot mount root=/dev/vda \(/dev/vda\): no filesystem recognised it" "the reason"
expect "$D/nofs.log" "cannot continue; the system stays here" "the hold"
case_end

case_begin "no root= at all; panic=-1 reboots at once"
rc=0
boot "$D/noroot.log" -d "$D/plain.img" -a "panic=-1" || rc=$?
expect_eq "$rc" 0 "run.sh status (0: the guest rebooted by itself)"
expect_no_panic "$D/noroot.log"
expect "$D/noroot.log" "no root= on the kernel command line" "the reason"
expect "$D/noroot.log" "cannot continue; rebooting now \(panic=-1\)" "the reboot"
case_end

case_begin "quiet: info lines stay off the console but are in the kernel log"
boot "$D/quiet.log" -d "$D/plain.img" -a "root=/dev/vda quiet init=/sbin/count-init"
expect_no_panic "$D/quiet.log"
expect_not "$D/quiet.log" "resume-init: mounted" "info lines on a quiet console"
expect "$D/quiet.log" "^DMESG-LINES [0-9]+" "the dmesg count of resume-init lines"
n=$(grep -Eo '^DMESG-LINES [0-9]+' "$D/quiet.log" | grep -Eo '[0-9]+$' | tail -n 1)
[ "${n:-0}" -ge 4 ] || check_fail "dmesg has ${n:-0} resume-init lines, want >= 4"
case_end
