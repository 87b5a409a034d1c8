#!/bin/bash
# QEMU hibernate→resume tests: boot 1 goes through resume-init into an
# ext4 root whose init turns swap on, leaves a token in tmpfs and in a
# running process, and hibernates (the kernel writes the image and powers
# off); boot 2 goes through resume-init, which restores the image, and the
# resumed system prints the token from both places. `inspect` checks the
# image on the host between the boots, and the swap header afterwards.
#
#   tests/resume.sh      (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

case_begin "uncompressed image (hibernate=nocompress), resume=/dev/vdb; inspect between boots"
new_swap "$R/swap.img"
hibernate "$R/nocomp1.log" tokU1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume hibernate=nocompress
expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
expect "$R/inspect.out" "compression: +none" "inspect naming the compression"
resume "$R/nocomp2.log" tokU1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
expect "$R/nocomp2.log" "compression none" "an uncompressed image"
expect_eq "$(inspect_status "$R/swap.img")" 1 "inspect after the resume (signature put back)"
expect "$R/inspect.out" "signature: +SWAPSPACE2" "the original swap signature"
case_end

case_begin "LZO image (the default), resume=UUID= of the swap area; inspect agrees"
new_swap "$R/swap.img"
hibernate "$R/lzo1.log" tokL1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=UUID=$SWAP_UUID noresume
expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
expect "$R/inspect.out" "computed crc32: +[0-9a-f]{8} \(matches\)" "inspect checking the CRC"
resume "$R/lzo2.log" tokL1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=UUID=$SWAP_UUID noresume
expect "$R/lzo2.log" "compression LZO" "an LZO image"
expect "$R/lzo2.log" "resume-init: image CRC32 [0-9a-f]{8} verified" "the CRC verified"
expect_eq "$(inspect_status "$R/swap.img")" 1 "inspect after the resume"
case_end

case_begin "swap file on the ext4 root with resume_offset="
offset=$(swapfile_root "$R/fileroot" fileroot 192 320)
echo "        swap file at page $offset"
hibernate "$R/file1.log" tokF1 "$R/fileroot.img" -- root=/dev/vda rw resume=UUID=$FILEROOT_UUID resume_offset=$offset noresume swap=/swapfile
expect_eq "$(inspect_status "$R/fileroot.img" "$offset")" 0 "inspect --offset $offset of the root disk"
resume "$R/file2.log" tokF1 "$R/fileroot.img" -- root=/dev/vda rw resume=UUID=$FILEROOT_UUID resume_offset=$offset noresume
expect_eq "$(inspect_status "$R/fileroot.img" "$offset")" 1 "inspect after the resume"
case_end

case_begin "swap partition on a 4 KiB-sector GPT disk, resume=PARTUUID="
SWAP4K_PART_UUID=0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
new_swap "$R/swap4k.part"
mkgpt "$R/swap4k.img" 272 4096 "label: gpt\nstart=256, name=swap4k, uuid=$SWAP4K_PART_UUID\n" \
    && put_part "$R/swap4k.img" 4096 1 "$R/swap4k.part" || check_fail "could not build the 4 KiB-sector swap disk"
# The partition starts at sector 256 of 4096 bytes: 1 MiB into the disk.
part_out() { dd if="$R/swap4k.img" of="$R/swap4k.part" bs=1M skip=1 count=256 conv=sparse status=none; }
hibernate "$R/4k1.log" tok4K "$R/root.img" "$R/swap4k.img@4096" -- root=/dev/vda resume=PARTUUID=$SWAP4K_PART_UUID noresume swap=/dev/vdb1
part_out
expect_eq "$(inspect_status "$R/swap4k.part")" 0 "inspect of the image in the partition"
resume "$R/4k2.log" tok4K "$R/root.img" "$R/swap4k.img@4096" -- root=/dev/vda resume=PARTUUID=$SWAP4K_PART_UUID noresume
expect "$R/4k2.log" "hibernation image found on /dev/vdb1" "the image on the 4Kn partition"
part_out
expect_eq "$(inspect_status "$R/swap4k.part")" 1 "inspect after the resume (signature put back)"
case_end

# Cycles in a row on the same disks, then a normal boot that finds no
# old image: tests/faults.sh runs ten of them (one case for both).

case_begin "resume_init=skip discards the image and boots fresh"
new_swap "$R/swap.img"
hibernate "$R/skip1.log" tokS1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
boot_disks "$R/skip2.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume resume_init=skip
expect_no_panic "$R/skip2.log"
expect "$R/skip2.log" "resume_init=skip: not resuming from /dev/vdb" "the skip message"
expect "$R/skip2.log" "FRESH-BOOT" "a fresh boot"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
case_end

case_begin "resume_init=kernel hands the image to the kernel's own loader"
new_swap "$R/swap.img"
hibernate "$R/kern1.log" tokK1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
boot_disks "$R/kern2.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume resume_init=kernel
expect_no_panic "$R/kern2.log"
expect "$R/kern2.log" "resume_init=kernel: handing /dev/vdb" "the hand-over"
expect "$R/kern2.log" "PM: (hibernation: )?Loading and decompressing image data|PM: Image loading progress" "the kernel's loader at work"
expect "$R/kern2.log" "RESUMED token=tokK1 " "the system back"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
case_end

if kernel_at_least 6 9; then
    case_begin "LZ4 image (hibernate.compressor=lz4, kernel 6.9+), userspace and then the kernel's loader"
    new_swap "$R/swap.img"
    hibernate "$R/lz4-1.log" tokZ1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume comp=lz4
    expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
    expect "$R/inspect.out" "compression: +LZ4" "inspect naming LZ4"
    resume "$R/lz4-2.log" tokZ1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
    expect "$R/lz4-2.log" "compression LZ4" "an LZ4 image"
    expect "$R/lz4-2.log" "resume-init: image CRC32 [0-9a-f]{8} verified" "the CRC verified"
    hibernate "$R/lz4-3.log" tokZ2 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume comp=lz4
    boot_disks "$R/lz4-4.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume resume_init=kernel
    expect "$R/lz4-4.log" "RESUMED token=tokZ2 " "the kernel's loader restoring an LZ4 image"
    expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
    case_end
fi
