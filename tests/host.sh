#!/bin/bash
# Tests of mkinitramfs.sh --host on prepared trees of /proc, /sys, /etc
# and /dev (HOST_ROOT): a laptop with an NVMe disk, Debian's encrypted
# LVM layout, a btrfs root with a swap file, and the layouts it must
# refuse. No QEMU: what is checked is the initramfs it writes (modules,
# the stored resume device) and the command line it prints.
#
#   tests/host.sh   (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

H=$T/host
KV=${KVER:-$(ls -1 /lib/modules | sort -V | head -n 1)}

# tree DIR: an empty machine running kernel $KV.
tree() {
    rm -rf "$1"
    mkdir -p "$1"/{proc/sys/kernel,sys/class/block,sys/dev/block,sys/power,sys/module,etc,dev/disk/by-uuid,dev/mapper}
    echo "$KV" > "$1/proc/sys/kernel/osrelease"
    printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' > "$1/proc/swaps"
    echo "0:0" > "$1/sys/power/resume"
}
# driver DIR DEVPATH BUS DRIVER MODULE: DEVPATH (under sys/devices) bound
# to a driver of that module.
driver() {
    local r=$1 d=$1/sys/devices/$2
    mkdir -p "$d" "$r/sys/bus/$3/drivers/$4" "$r/sys/module/$5"
    ln -sfn "$(realpath --relative-to="$d" "$r/sys/bus/$3/drivers/$4")" "$d/driver"
    ln -sfn "$(realpath --relative-to="$r/sys/bus/$3/drivers/$4" "$r/sys/module/$5")" "$r/sys/bus/$3/drivers/$4/module"
}
# blockdev DIR NAME DEVPATH MAJ:MIN [UUID]: a block device at DEVPATH/NAME.
blockdev() {
    local r=$1 d=$1/sys/devices/$3/$2
    mkdir -p "$d"
    echo "$4" > "$d/dev"
    ln -sfn "$(realpath --relative-to="$r/sys/class/block" "$d")" "$r/sys/class/block/$2"
    ln -sfn "$(realpath --relative-to="$r/sys/dev/block" "$d")" "$r/sys/dev/block/$4"
    [ -z "${5:-}" ] || ln -sfn "../../$2" "$r/dev/disk/by-uuid/$5"
}
# dm DIR dm-N NAME UUID SLAVE…: a device-mapper device on SLAVEs.
dm() {
    local r=$1 n=$2 name=$3 uuid=$4 s; shift 4
    local d=$r/sys/devices/virtual/block/$n
    mkdir -p "$d/dm" "$d/slaves"
    echo "$name" > "$d/dm/name"; echo "$uuid" > "$d/dm/uuid"
    ln -sfn "../../devices/virtual/block/$n" "$r/sys/class/block/$n"
    ln -sfn "../$n" "$r/dev/mapper/$name"
    for s in "$@"; do ln -sfn "$(realpath --relative-to="$d/slaves" "$(readlink -f "$r/sys/class/block/$s")")" "$d/slaves/$s"; done
}
# host_build DIR LOG: mkinitramfs.sh --host on the tree; the initramfs
# unpacked into DIR.out.
host_build() {
    rm -rf "$1.out"; mkdir -p "$1.out"
    HOST_ROOT=$1 "$top/scripts/mkinitramfs.sh" --host -b "$BIN" -o "$1.cpio.gz" > "$2" 2>&1
    local rc=$?
    [ $rc != 0 ] || (cd "$1.out" && tail -c +"$(gzip_at "$1.cpio.gz")" "$1.cpio.gz" | zcat | cpio -idm --quiet 2>/dev/null)
    return $rc
}

NVME_PCI=pci0000:00/0000:00:1d.0
case_begin "--host: NVMe laptop, ext4 root by fstab UUID, one swap partition"
L=$H/laptop; tree "$L"
driver "$L" "$NVME_PCI" pci nvme nvme
blockdev "$L" nvme0n1 "$NVME_PCI/nvme/nvme0" 259:0
blockdev "$L" nvme0n1p2 "$NVME_PCI/nvme/nvme0/nvme0n1" 259:2 11111111-2222-4333-8444-000000000002
blockdev "$L" nvme0n1p3 "$NVME_PCI/nvme/nvme0/nvme0n1" 259:3 11111111-2222-4333-8444-000000000003
echo "/dev/nvme0n1p2 / ext4 rw,relatime 0 0" > "$L/proc/mounts"
echo "/dev/nvme0n1p3 partition 8388604 0 -2" >> "$L/proc/swaps"
printf '# /etc/fstab\nUUID=11111111-2222-4333-8444-000000000002 / ext4 errors=remount-ro 0 1\n' > "$L/etc/fstab"
host_build "$L" "$H/laptop.log" || check_fail "mkinitramfs --host failed: $(cat "$H/laptop.log")"
expect "$H/laptop.log" "kernel command line: root=UUID=11111111-2222-4333-8444-000000000002 noresume$" "the command line"
expect "$H/laptop.log" "resume device: UUID=11111111-2222-4333-8444-000000000003 \(stored in the initramfs\)" "the swap partition as resume device"
expect "$L.out/conf/conf.d/resume" "^RESUME=UUID=11111111-2222-4333-8444-000000000003$" "the stored resume device"
expect "$L.out/etc/resume-init/modules" "/nvme\.ko$" "the NVMe driver"
expect "$L.out/etc/resume-init/modules" "/ext4\.ko$" "the root's filesystem"
case_end

case_begin "--host: Debian's encrypted LVM (LUKS2 on NVMe, root and swap_1 LVs), RESUME= from initramfs-tools"
L=$H/crypt; tree "$L"
driver "$L" "$NVME_PCI" pci nvme nvme
blockdev "$L" nvme0n1 "$NVME_PCI/nvme/nvme0" 259:0
blockdev "$L" nvme0n1p3 "$NVME_PCI/nvme/nvme0/nvme0n1" 259:3
dm "$L" dm-0 nvme0n1p3_crypt CRYPT-LUKS2-4c554b532d6465622d6c766d2d746573-nvme0n1p3_crypt nvme0n1p3
dm "$L" dm-1 deb--vg-root LVM-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb dm-0
dm "$L" dm-2 deb--vg-swap_1 LVM-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaacccccccccccccccccccccccccccccccc dm-0
echo "/dev/mapper/deb--vg-root / ext4 rw 0 0" > "$L/proc/mounts"
echo "/dev/dm-2 partition 999420 0 -2" >> "$L/proc/swaps"
echo "/dev/mapper/deb--vg-root / ext4 errors=remount-ro 0 1" > "$L/etc/fstab"
mkdir -p "$L/etc/initramfs-tools/conf.d"
echo "RESUME=/dev/mapper/deb--vg-swap_1" > "$L/etc/initramfs-tools/conf.d/resume"
host_build "$L" "$H/crypt.log" || check_fail "mkinitramfs --host failed: $(cat "$H/crypt.log")"
expect "$H/crypt.log" "kernel command line: root=/dev/mapper/deb--vg-root rd.luks.name=4c554b53-2d64-6562-2d6c-766d2d746573=nvme0n1p3_crypt noresume$" "the command line with the LUKS container"
expect "$L.out/conf/conf.d/resume" "^RESUME=/dev/mapper/deb--vg-swap_1$" "initramfs-tools' resume device"
expect "$L.out/etc/resume-init/modules" "/nvme\.ko$" "the NVMe driver under the mappings"
expect "$L.out/etc/resume-init/modules" "/dm-crypt\.ko$" "dm-crypt"
# fstab and initramfs-tools naming them by UUID: still /dev/mapper/NAME,
# which no copied filesystem UUID on another disk can take over.
ln -sfn ../../dm-1 "$L/dev/disk/by-uuid/0e0e0e0e-0000-4000-8000-000000000001"
ln -sfn ../../dm-2 "$L/dev/disk/by-uuid/0e0e0e0e-0000-4000-8000-000000000002"
echo "UUID=0e0e0e0e-0000-4000-8000-000000000001 / ext4 errors=remount-ro 0 1" > "$L/etc/fstab"
echo "RESUME=UUID=0e0e0e0e-0000-4000-8000-000000000002" > "$L/etc/initramfs-tools/conf.d/resume"
host_build "$L" "$H/crypt2.log" || check_fail "mkinitramfs --host failed: $(cat "$H/crypt2.log")"
expect "$H/crypt2.log" "kernel command line: root=/dev/mapper/deb--vg-root rd.luks.name=" "root= by its mapping, not fstab's UUID"
expect "$L.out/conf/conf.d/resume" "^RESUME=/dev/mapper/deb--vg-swap_1$" "the resume device by its mapping"
case_end

case_begin "--host: btrfs root on virtio with a swap file the kernel was told of (/sys/power/resume, resume_offset)"
L=$H/btrfs; tree "$L"
VIRTIO=pci0000:00/0000:00:04.0
driver "$L" "$VIRTIO" pci virtio-pci virtio_pci
driver "$L" "$VIRTIO/virtio1" virtio virtio_blk virtio_blk
blockdev "$L" vda "$VIRTIO/virtio1/block" 252:0
blockdev "$L" vda3 "$VIRTIO/virtio1/block/vda" 252:3 b7f5c0de-0000-4000-8000-0000000b7f50
echo "/dev/vda3 / btrfs rw,subvol=/root 0 0" > "$L/proc/mounts"
echo "/swap/swapfile file 4194300 0 -2" >> "$L/proc/swaps"
echo "UUID=b7f5c0de-0000-4000-8000-0000000b7f50 / btrfs subvol=root,compress=zstd:1 0 0" > "$L/etc/fstab"
echo "252:3" > "$L/sys/power/resume"; echo 533760 > "$L/sys/power/resume_offset"
host_build "$L" "$H/btrfs.log" || check_fail "mkinitramfs --host failed: $(cat "$H/btrfs.log")"
expect "$H/btrfs.log" "kernel command line: root=UUID=b7f5c0de-0000-4000-8000-0000000b7f50 rootflags=subvol=root noresume$" "the command line with fstab's subvolume"
expect "$L.out/conf/conf.d/resume" "^RESUME_OFFSET=533760$" "the swap file's offset"
expect "$L.out/conf/conf.d/resume" "^RESUME=UUID=b7f5c0de-0000-4000-8000-0000000b7f50$" "the btrfs filesystem as resume device"
# (virtio_pci, found as the PCI function's driver, is built into Debian's kernel: no file, no failure.)
for m in btrfs virtio_blk; do expect "$L.out/etc/resume-init/modules" "/$m\.ko$" "module $m"; done
case_end

case_begin "--host: btrfs root on two NVMe partitions: rootflags=device= for both"
L=$H/multi; tree "$L"
driver "$L" "$NVME_PCI" pci nvme nvme
blockdev "$L" nvme0n1p2 "$NVME_PCI/nvme/nvme0/nvme0n1" 259:2 b7f5c0de-0000-4000-8000-0000000d0d0d
blockdev "$L" nvme0n1p3 "$NVME_PCI/nvme/nvme0/nvme0n1" 259:3
mkdir -p "$L/sys/fs/btrfs/b7f5c0de-0000-4000-8000-0000000d0d0d/devices"
for p in nvme0n1p2 nvme0n1p3; do ln -sfn "../../../../devices/$NVME_PCI/nvme/nvme0/nvme0n1/$p" "$L/sys/fs/btrfs/b7f5c0de-0000-4000-8000-0000000d0d0d/devices/$p"; done
echo "/dev/nvme0n1p2 / btrfs rw 0 0" > "$L/proc/mounts"
host_build "$L" "$H/multi.log" || check_fail "mkinitramfs --host failed: $(cat "$H/multi.log")"
expect "$H/multi.log" "kernel command line: root=UUID=b7f5c0de-0000-4000-8000-0000000d0d0d rootflags=device=/dev/nvme0n1p2,device=/dev/nvme0n1p3 noresume$" "both devices named"
case_end

case_begin "--host refuses what it cannot do yet, saying why"
L=$H/nfs; tree "$L"
echo "server:/export / nfs4 rw 0 0" > "$L/proc/mounts"
host_build "$L" "$H/nfs.log" && check_fail "an NFS root accepted"
expect "$H/nfs.log" "the root is nfs4, which resume-init cannot mount yet" "the NFS refusal"
L=$H/twoswap; tree "$L"
driver "$L" "$NVME_PCI" pci nvme nvme
blockdev "$L" nvme0n1p2 "$NVME_PCI/nvme/nvme0/nvme0n1" 259:2
echo "/dev/nvme0n1p2 / ext4 rw 0 0" > "$L/proc/mounts"
printf '/dev/sda2 partition 1 0 -2\n/dev/sdb2 partition 1 0 -3\n' >> "$L/proc/swaps"
host_build "$L" "$H/twoswap.log" && check_fail "two swap areas and no resume device accepted"
expect "$H/twoswap.log" "several swap areas .* and no resume device set: give -r SPEC" "the two-swap refusal"
L=$H/swapfile; tree "$L"
driver "$L" "$NVME_PCI" pci nvme nvme
blockdev "$L" nvme0n1p2 "$NVME_PCI/nvme/nvme0/nvme0n1" 259:2
echo "/dev/nvme0n1p2 / ext4 rw 0 0" > "$L/proc/mounts"
echo "/swapfile file 1048572 0 -2" >> "$L/proc/swaps"
host_build "$L" "$H/swapfile.log" && check_fail "an unlocated swap file accepted"
expect "$H/swapfile.log" "the swap area /swapfile is a file: give -r" "the swap-file refusal"
case_end
