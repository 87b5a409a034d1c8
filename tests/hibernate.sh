#!/bin/bash
# QEMU tests of the writer, `resume-init hibernate`: images it writes are
# restored by the kernel's own loader and by resume-init, and every
# failure before the commit leaves the system running with the swap
# header untouched. The root's init runs the binary from the root disk.
#
#   tests/hibernate.sh   (sourced by scripts/test.sh, or run alone as root)
#   WRITER_LONG=1 adds the cases that do not depend on the kernel version
#   (--after shutdown, uncompressed, swap file, ten cycles, failures),
#   which scripts/test.sh runs on one kernel only.
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

# written_pages LOG: the page count of the writer's summary line.
written_pages() { grep -Eo 'resume-init: wrote [0-9]+ pages' "$1" | grep -Eo '[0-9]+' | tail -n 1; }
# inspect_pages: the stream page count inspect printed last.
inspect_pages() { grep -Eo '^stream: +[0-9]+ pages' "$R/inspect.out" | grep -Eo '[0-9]+'; }

case_begin "resume-init hibernate, LZO (platform mode) → the kernel's own loader; inspect agrees"
new_swap "$R/swap.img"
write_image "$R/w-lzo1.log" tokW1 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lzo
expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
expect "$R/inspect.out" "flags: +0x5 \(platform, CRC32\)" "LZO with CRC, platform mode"
expect "$R/inspect.out" "computed crc32: +[0-9a-f]{8} \(matches\)" "the CRC"
expect_eq "$(inspect_pages)" "$(written_pages "$R/w-lzo1.log")" "inspect's stream pages against the writer's"
boot_disks "$R/w-lzo2.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume resume_init=kernel
expect_no_panic "$R/w-lzo2.log"
expect "$R/w-lzo2.log" "PM: (hibernation: )?Loading and decompressing image data|PM: Image loading progress" "the kernel's loader at work"
expect "$R/w-lzo2.log" "RESUMED token=tokW1 proc=sh -c while :; do sleep 1; done holder-tokW1  rc=0" "the session back"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
case_end

if kernel_at_least 6 9; then
    case_begin "resume-init hibernate, LZ4 → the kernel's loader (6.9+) and resume-init's"
    new_swap "$R/swap.img"
    write_image "$R/w-lz4-1.log" tokW5 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lz4
    expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
    expect "$R/inspect.out" "compression: +LZ4" "an LZ4 image"
    boot_disks "$R/w-lz4-2.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume resume_init=kernel
    expect "$R/w-lz4-2.log" "RESUMED token=tokW5 " "the kernel restoring an LZ4 image"
    write_image "$R/w-lz4-3.log" tokW6 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lz4
    resume "$R/w-lz4-4.log" tokW6 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
    case_end
fi

[ "${WRITER_LONG:-0}" = 1 ] || return 0 2>/dev/null || exit 0

case_begin "resume-init hibernate, LZO, --after shutdown → resume-init's loader"
new_swap "$R/swap.img"
write_image "$R/w-lzo3.log" tokW2 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lzo after=shutdown
expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
expect "$R/inspect.out" "flags: +0x4 \(CRC32\)" "no platform flag"
resume "$R/w-lzo4.log" tokW2 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
expect "$R/w-lzo4.log" "resume-init: image CRC32 [0-9a-f]{8} verified" "the CRC verified"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
case_end

case_begin "resume-init hibernate, uncompressed → the kernel's loader, then resume-init's"
new_swap "$R/swap.img"
write_image "$R/w-raw1.log" tokW3 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=none
expect_eq "$(inspect_status "$R/swap.img")" 0 "inspect of the written image"
expect "$R/inspect.out" "compression: +none" "an uncompressed image"
boot_disks "$R/w-raw2.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume resume_init=kernel
expect "$R/w-raw2.log" "RESUMED token=tokW3 " "the kernel restoring it"
write_image "$R/w-raw3.log" tokW4 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=none
resume "$R/w-raw4.log" tokW4 "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume
expect_eq "$(inspect_status "$R/swap.img")" 1 "the signature cleared"
case_end


case_begin "resume-init hibernate to a swap file (resume_offset=) → resume-init"
offset=$(swapfile_root "$R/wfileroot" wfileroot 192 320)
write_image "$R/w-file1.log" tokW7 "$R/wfileroot.img" -- root=/dev/vda rw resume=UUID=$FILEROOT_UUID resume_offset=$offset noresume swap=/swapfile writer=lzo
expect "$R/w-file1.log" "hibernating to /swapfile \(/dev/vda, [0-9]+:[0-9]+, header at page $offset\)" "the swap file chosen, at its first page"
expect_eq "$(inspect_status "$R/wfileroot.img" "$offset")" 0 "inspect --offset $offset of the root disk"
resume "$R/w-file2.log" tokW7 "$R/wfileroot.img" -- root=/dev/vda rw resume=UUID=$FILEROOT_UUID resume_offset=$offset noresume
expect_eq "$(inspect_status "$R/wfileroot.img" "$offset")" 1 "inspect after the resume"
case_end

case_begin "ten write→restore cycles in a row, alternating the two loaders"
new_swap "$R/swap.img"
boot_disks "$R/w-cyc0.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lzo cycles=10 hib=tokCY
expect "$R/w-cyc0.log" "resume-init: image committed on " "the first image"
for i in $(seq 1 10); do
    loader=userspace; [ $((i % 2)) = 0 ] && loader=kernel
    boot_disks "$R/w-cyc$i.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume resume_init=$loader
    expect_no_panic "$R/w-cyc$i.log"
    expect "$R/w-cyc$i.log" "RESUMED token=tokCY .* n=$i([^0-9]|$)" "cycle $i restored ($loader loader)"
    [ "$i" -lt 10 ] && expect "$R/w-cyc$i.log" "resume-init: image committed on " "image $((i + 1)) written"
done
expect_eq "$(inspect_status "$R/swap.img")" 1 "no image left after the last cycle"
expect "$R/inspect.out" "signature: +SWAPSPACE2" "the swap signature"
case_end

case_begin "hybrid sleep (--after suspend): an RTC wake-up from suspend to RAM discards the image"
new_swap "$R/swap.img"
boot_disks "$R/w-hybrid.log" "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lzo after=suspend wake=8 hib=tokH
expect_no_panic "$R/w-hybrid.log"
expect_not "$R/w-hybrid.log" "NO-RTC-ALARM" "the RTC alarm refused"
expect "$R/w-hybrid.log" "resume-init: image committed on /dev/vdb: .*powering off \(suspend\)" "the image written first"
expect "$R/w-hybrid.log" "PM: suspend entry \(deep\)|ACPI: PM: Preparing to enter system sleep state S3" "suspend to RAM"
expect "$R/w-hybrid.log" "resume-init: woke up from suspend to RAM; the image on /dev/vdb was discarded" "the wake-up"
expect "$R/w-hybrid.log" "RESUMED token=tokH " "the session going on"
expect_eq "$(inspect_status "$R/swap.img")" 1 "the swap signature back"
case_end

# fails LOG WHY_REGEX DISK… -- PARAMS: a write that must fail and leave the
# session running with the swap header untouched.
fails() {
    local log=$1 why=$2; shift 2
    boot_disks "$log" "$@" hib=tokF
    expect_no_panic "$log"
    expect "$log" "$why" "the reason"
    expect "$log" "HIBERNATE-FAILED rc=1" "the command's failure status"
    expect "$log" "STILL-RUNNING token=tokF" "the session still running"
    expect_not "$log" "image committed" "a commit"
}

case_begin "writer failure: swap too small for an uncompressed image"
rm -f "$R/tiny.img"; truncate -s 16M "$R/tiny.img"; mkswap -q "$R/tiny.img"
fails "$R/w-tiny.log" "not enough room in /dev/vdb: the image needs [0-9]+ pages, [0-9]+ are free; nothing was written" \
    "$R/root.img" "$R/tiny.img" -- root=/dev/vda resume=/dev/vdb noresume writer=none
expect_eq "$(inspect_status "$R/tiny.img")" 1 "the swap header untouched"
case_end

case_begin "writer failure: out of swap slots in the middle of an LZO image"
rm -f "$R/small.img"; truncate -s 16M "$R/small.img"; mkswap -q "$R/small.img"
fails "$R/w-small.log" "cannot write the image to /dev/vdb: no swap slot for page [0-9]+: ENOSPC" \
    "$R/root.img" "$R/small.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lzo
expect "$R/w-small.log" "writing image: 25%" "the failure came mid-image"
expect_eq "$(inspect_status "$R/small.img")" 1 "the swap header untouched"
case_end

case_begin "writer failure: nohibernate"
new_swap "$R/swap.img"
fails "$R/w-nohib.log" "the kernel refuses /dev/snapshot \(EPERM\): hibernation is unavailable" \
    "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lzo nohibernate
expect_eq "$(inspect_status "$R/swap.img")" 1 "the swap header untouched"
case_end

case_begin "writer failure: --device that is not a swap area"
fails "$R/w-notswap.log" "--device /dev/vda \(device [0-9]+:[0-9]+, header at page 0\) is not an active swap area" \
    "$R/root.img" "$R/swap.img" -- root=/dev/vda resume=/dev/vdb noresume writer=lzo wdev=/dev/vda
case_end

case_begin "writer failure: nothing set to look for the image (no resume=, no EFI): refused with what to set; --force writes"
new_swap "$R/swap.img"
fails "$R/w-nowhere.log" "nothing will look for an image on /dev/vdb at the next boot \(/sys/power/resume names no device, and there is no EFI variable to name it\): boot with resume= naming it, or give --force" \
    "$R/root.img" "$R/swap.img" -- root=/dev/vda noresume swap=/dev/vdb writer=lzo
expect_eq "$(inspect_status "$R/swap.img")" 1 "the swap header untouched"
write_image "$R/w-force.log" tokFO "$R/root.img" "$R/swap.img" -- root=/dev/vda noresume swap=/dev/vdb writer=lzo wforce=1
expect_eq "$(inspect_status "$R/swap.img")" 0 "the image written with --force"
case_end
