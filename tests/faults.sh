#!/bin/bash
# The fault matrix: real images written by the kernel in boot 1, damaged
# on the host, then boot 2 must name the reason in one line, boot fresh
# into the real root, and leave the swap header with its original
# signature (checked on the host with `resume-init inspect`, exit 1).
# Also: devices that never appear or are not swap, a kernel that refuses
# /dev/snapshot, a memory size change, a power cut while loading, ten
# cycles in a row, and bad resume parameters.
#
#   tests/faults.sh      (sourced by scripts/test.sh, or run alone as root)
set -uo pipefail
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/hibernate-lib.sh
. "$top/tests/hibernate-lib.sh"

F=$T/faults
mkdir -p "$F"

# --- byte surgery on disk images: tests/hibernate-lib.sh ------------------

# --- the images ---------------------------------------------------------
# pristine SWAPIMAGE KIND: boot 1 writes an image (KIND nocomp or lzo).
pristine() {
    local img=$1 kind=$2 extra=""
    [ "$kind" = nocomp ] && extra=hibernate=nocompress
    new_swap "$img"
    case_begin "fault matrix: a real $kind image written by the kernel"
    hibernate "$F/$kind-write.log" tok$kind "$R/root.img" "$img" -- root=/dev/vda resume=/dev/vdb noresume $extra
    expect_eq "$(inspect_status "$img")" 0 "inspect of the fresh image"
    case_end
}
pristine "$F/nocomp.img" nocomp
pristine "$F/lzo.img" lzo

# fault NAME KIND REGEX [run options…] -- [extra kernel params] : copies the
# pristine image to $F/case.img, lets the caller's `damage` function change
# it, boots, and checks the reason, the fresh boot and the signature.
fault() {
    local name=$1 kind=$2 reason=$3; shift 3
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    case_begin "fault: $name"
    cp --sparse=always "$F/$kind.img" "$F/case.img"
    damage "$F/case.img"
    boot "$F/case.log" -m "$MEM" "${opts[@]}" -d "$R/root.img" -d "$F/case.img" -a "root=/dev/vda resume=/dev/vdb noresume $*"
    expect_no_panic "$F/case.log"
    expect "$F/case.log" "$reason" "the reason"
    expect "$F/case.log" "FRESH-BOOT" "a fresh boot into the real root"
    expect_not "$F/case.log" "RESUMED|restoring the hibernated system" "a restore of a damaged image"
    expect_eq "$(inspect_status "$F/case.img")" 1 "inspect afterwards (original signature back)"
    grep -q "signature: *SWAPSPACE2" "$R/inspect.out" || check_fail "swap header signature: $(grep signature "$R/inspect.out")"
    cp "$F/case.log" "$F/$(echo "$name" | tr -c 'a-z0-9\n' '-' | cut -c1-40).log"
    case_end
}

damage() { flip "$1" $(( $(entry "$1" 1) * 4096 + 40 * 8 )) 1; }
fault "uncompressed: a flipped bit in a page-list page" nocomp \
    "image on /dev/vdb refused: the image's page list is damaged: page frame numbers out of order"

# Entries 400-403 are data chunks, past the page list (the first chunks);
# one byte in each of four pages, so at least one is not a chunk's padding.
damage() { local k; for k in 400 401 402 403; do flip "$1" $(( $(entry "$1" $k) * 4096 + 1000 )) 0x20; done; }
fault "LZO: a flipped byte in data chunks" lzo \
    "image on /dev/vdb refused: (CRC32 mismatch|a LZO chunk does not decompress|a chunk decompressed to)"

damage() { flip "$1" $(( $(map_page "$1") * 4096 + 3 * 8 + 1 )) 0x01; }
# The entry then names another page: whichever check meets the wrong
# bytes first (decoder, chunk length, page list, CRC) refuses the image.
fault "LZO: a flipped byte in a swap-map page" lzo \
    "image on /dev/vdb refused: (CRC32 mismatch|a LZO chunk does not decompress|a chunk decompressed to|a compressed chunk claims|the image's page list is damaged)"

damage() { put_u64 "$1" $(( $(map_page "$1") * 4096 + 7 * 8 )) 1000000000; }
fault "uncompressed: a map entry past the end of the device" nocomp \
    "image on /dev/vdb refused: swap map entry 1000000000 is beyond the end of the device"

damage() { truncate -s 12M "$1"; }
fault "LZO: the image truncated (disk shrunk to 12 MiB)" lzo \
    "image on /dev/vdb refused: (swap map entry [0-9]+ is beyond the end of the device|the image is truncated)"

damage() { put_u64 "$1" $HDR_IMAGE 0; }
fault "the header's image field zeroed" lzo \
    "image on /dev/vdb refused: the header names no swap map"

damage() { flip "$1" $HDR_FLAGS 0x40; }
fault "unknown flag bits" lzo \
    "image on /dev/vdb refused: unknown flag bits 0x40"

damage() { put_u64 "$1" $(( $(entry "$1" 1) * 4096 )) 200000; }
fault "LZO: a chunk length beyond the worst case" lzo \
    "image on /dev/vdb refused: a compressed chunk claims 200000 bytes"

damage() { :; }
fault "boot 2 with a different memory size (640 MiB instead of 512)" lzo \
    "image on /dev/vdb refused by the kernel \(EPERM on its header\)" -m 640 --

fault "the kernel refuses /dev/snapshot (lockdown=integrity)" lzo \
    "the kernel refuses /dev/snapshot \(EPERM\): hibernation is unavailable" -- lockdown=integrity

fault "nohibernate on the command line" lzo \
    "not resuming from /dev/vdb: hibernation is disabled on the command line" -- nohibernate

# --- devices ------------------------------------------------------------
case_begin "fault: resume= names a device that never appears"
boot "$F/nodev.log" -m "$MEM" -d "$R/root.img" -a "root=/dev/vda resume=UUID=99999999-0000-4000-8000-000000000000 noresume"
expect_no_panic "$F/nodev.log"
expect "$F/nodev.log" "resume device resume=UUID=99999999-0000-4000-8000-000000000000 did not appear within 10 s; booting fresh" "the reason"
expect "$F/nodev.log" "FRESH-BOOT" "a fresh boot"
case_end

case_begin "fault: resume= names a disk that is not swap"
boot "$F/notswap.log" -m "$MEM" -d "$R/root.img" -a "root=/dev/vda resume=/dev/vda noresume"
expect_no_panic "$F/notswap.log"
expect "$F/notswap.log" "/dev/vda at page 0 \(resume=/dev/vda\) is not a swap area; booting fresh" "the reason"
expect "$F/notswap.log" "FRESH-BOOT" "a fresh boot"
case_end

# --- a power cut while loading ---------------------------------------------
case_begin "fault: power cut while loading, then the next boot comes up fresh"
cp --sparse=always "$F/lzo.img" "$F/cut.img"
boot "$F/cut1.log" -m "$MEM" -d "$R/root.img" -d "$F/cut.img" -a "root=/dev/vda resume=/dev/vdb noresume" -u "loading image: 20%"
expect "$F/cut1.log" "loading image: 20%" "loading under way when the power went"
expect_not "$F/cut1.log" "restoring the hibernated system|RESUMED" "the load finishing before the cut"
expect_eq "$(inspect_status "$F/cut.img")" 1 "the signature already cleared when power went"
boot "$F/cut2.log" -m "$MEM" -d "$R/root.img" -d "$F/cut.img" -a "root=/dev/vda resume=/dev/vdb noresume"
expect_no_panic "$F/cut2.log"
expect "$F/cut2.log" "no hibernation image on /dev/vdb" "the old image not tried again"
expect "$F/cut2.log" "FRESH-BOOT" "a fresh boot"
case_end

# --- bad resume parameters --------------------------------------------------
# badparam NAME REGEX PARAMS: one boot with a swap disk labelled "test swap".
rm -f "$F/labelled.img"; truncate -s 64M "$F/labelled.img"; mkswap -q -L "test swap" "$F/labelled.img"
badparam() {
    case_begin "bad parameter: $1"
    boot "$F/param.log" -m "$MEM" -d "$R/root.img" -d "$F/labelled.img" -a "root=/dev/vda noresume $3"
    expect_no_panic "$F/param.log"
    expect "$F/param.log" "$2" "the message"
    expect "$F/param.log" "FRESH-BOOT" "a fresh boot"
    case_end
}
badparam "resume= empty" 'ignoring resume="": needs a value' "resume="
badparam "resume= garbage" "cannot understand resume=garbage!!: expected /dev/NAME" "resume=garbage!!"
badparam "resume_offset= huge" 'ignoring resume_offset="99999999999999999999999": is not a decimal number in range' \
    "resume=/dev/vdb resume_offset=99999999999999999999999"
badparam "resume_offset= beyond the device" "resume_offset=999999999 is beyond the end of /dev/vdb \(16384 pages\)" \
    "resume=/dev/vdb resume_offset=999999999"
badparam "LABEL= with a space, in quotes" "no hibernation image on /dev/vdb at page 0 \(resume=LABEL=\"test swap\"\)" \
    'resume=LABEL="test swap"'

# --- four cycles, then a normal boot ---------------------------------------
# (Four: the writer's ten cycles and the hibernation file's six, in one
# session each cover the long run; these are whole boots, 8 s each.)
case_begin "four hibernate→resume cycles on the same disks, swap header valid after each, then a normal boot finds no old image"
new_swap "$F/ten.img"
for i in $(seq 1 4); do
    hibernate "$F/ten-a.log" tokT$i "$R/root.img" "$F/ten.img" -- root=/dev/vda resume=/dev/vdb noresume
    resume "$F/ten-b.log" tokT$i "$R/root.img" "$F/ten.img" -- root=/dev/vda resume=/dev/vdb noresume
    s=$(inspect_status "$F/ten.img")
    [ "$s" = 1 ] || check_fail "cycle $i: inspect after the resume gave $s, want 1"
    [ ${#case_errors[@]} -eq 0 ] || { check_fail "stopped at cycle $i"; break; }
done
boot "$F/ten-fresh.log" -m "$MEM" -d "$R/root.img" -d "$F/ten.img" -a "root=/dev/vda resume=/dev/vdb noresume"
expect_no_panic "$F/ten-fresh.log"
expect "$F/ten-fresh.log" "resume-init: no hibernation image on /dev/vdb" "no old image found again"
expect "$F/ten-fresh.log" "FRESH-BOOT" "a fresh boot"
expect_eq "$(inspect_status "$F/ten.img")" 1 "the swap header after all cycles"
case_end
