# Helpers of the hibernate→resume tests: a root whose init hibernates on
# request, swap disks, the two boots of a cycle, and inspect on the host.
# Sourced after tests/lib.sh; defines them once per run.
[ -z "${HIBERNATE_LIB_LOADED:-}" ] || return 0
HIBERNATE_LIB_LOADED=1

R=$T/resume
mkdir -p "$R"
INSPECT=$BIN
SWAP_UUID=8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d
FILEROOT_UUID=1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9
MEM=${MEM:-512}

# The test root's init (what it does on which parameter: its header).
RESUME_INIT_SCRIPT=$(cat "$top/tests/guest-init.sh")

build_initramfs
make_rootdir "$R/rootdir" "$RESUME_INIT_SCRIPT"
cp "$BIN" "$R/rootdir/sbin/resume-init"
mkext4 "$R/root.img" 64 "$R/rootdir" -L resroot
new_swap() { rm -f "$1"; truncate -s 256M "$1"; mkswap -q -L testswap -U "$SWAP_UUID" "$1"; }

# swapfile_root DIR LABEL SWAP_MiB DISK_MiB: DIR.img, an ext4 root
# (the test root, resume-init ($GUEST_BIN, else $BIN) in /sbin for the writer, UUID
# $FILEROOT_UUID) holding /swapfile; prints the page of its header.
swapfile_root() {
    local d=$1 label=$2 swap_mib=$3 disk_mib=$4
    make_rootdir "$d" "$RESUME_INIT_SCRIPT"
    cp "${GUEST_BIN:-$BIN}" "$d/sbin/resume-init"
    # A swap file must have no holes: fill it, then mkswap keeps the data.
    head -c "${swap_mib}M" /dev/urandom > "$d/swapfile"
    chmod 600 "$d/swapfile"
    mkswap -q "$d/swapfile"
    mkext4 "$d.img" "$disk_mib" "$d" -b 4096 -L "$label" -U "$FILEROOT_UUID"
    debugfs -R "bmap /swapfile 0" "$d.img" 2>/dev/null | tail -n 1
}

# --- byte surgery on disk images (od and dd only) ------------------------
# Offsets in the header page (`struct swsusp_header`, src/core/swsusp.rs).
HDR_IMAGE=4064
HDR_FLAGS=4072
u64_at() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }
put_u64() {
    local f=$1 off=$2 v=$3 i bytes=""
    for i in 0 1 2 3 4 5 6 7; do bytes+=$(printf '\\%03o' $(( (v >> (8 * i)) & 255 ))); done
    printf "$bytes" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
flip() { # flip FILE OFFSET MASK
    local v; v=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $(( v ^ $3 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# map_page IMAGE [HEADER_PAGE]: the device page of the first swap-map page.
map_page() { u64_at "$1" $(( ${2:-0} * 4096 + HDR_IMAGE )); }
# entry IMAGE K [HEADER_PAGE]: device page of entry K (< 511) of that map page.
entry() { u64_at "$1" $(( $(map_page "$1" "${3:-0}") * 4096 + $2 * 8 )); }

# inspect_status IMAGE [OFFSET]: resume-init inspect's exit status.
inspect_status() {
    local s=0
    "$INSPECT" inspect --offset "${2:-0}" "$1" > "$R/inspect.out" 2>&1 || s=$?
    echo $s
}

# boot_disks LOG DISK… -- PARAMS: one boot with those disks (vda, vdb, …)
# and kernel parameters, at the tests' memory size.
boot_disks() {
    local log=$1; shift
    local disks=()
    while [ "$1" != "--" ]; do disks+=(-d "$1"); shift; done
    shift
    boot "$log" -m "$MEM" "${disks[@]}" -a "$*"
}

# hibernate LOG TOKEN DISK… -- PARAMS: boot 1, expecting an image written.
hibernate() {
    local log=$1 token=$2; shift 2
    boot_disks "$log" "$@" "hib=$token"
    expect_no_panic "$log"
    expect "$log" "HIBERNATING token=$token" "boot 1 reaching hibernation"
    expect "$log" "PM: hibernation: Wrote [0-9]+ kbytes" "the kernel writing its image"
    expect_not "$log" "SWAPON-FAILED" "swapon failing"
    expect_not "$log" "COMPRESSOR-FAILED" "the compressor refused"
}

# write_image LOG TOKEN DISK… -- PARAMS: boot 1 with writer=… among the
# PARAMS, expecting resume-init hibernate to write and commit an image.
write_image() {
    local log=$1 token=$2; shift 2
    boot_disks "$log" "$@" "hib=$token"
    expect_no_panic "$log"
    expect "$log" "HIBERNATING token=$token" "boot 1 reaching hibernation"
    expect "$log" "resume-init: wrote [0-9]+ pages \([0-9.]+ MiB\) in [0-9.]+ s \([0-9.]+ MiB/s\)" "the writer's summary line"
    expect "$log" "resume-init: image committed on " "the commit"
    expect_not "$log" "HIBERNATE-FAILED|SWAPON-FAILED" "a failure"
    expect_not "$log" "PM: hibernation: Wrote" "the kernel's own writer at work"
}

# resume LOG TOKEN DISK… -- PARAMS: boot 2, expecting the system back.
resume() {
    local log=$1 token=$2; shift 2
    boot_disks "$log" "$@"
    expect_no_panic "$log"
    expect "$log" "resume-init: hibernation image found on " "the image found"
    expect "$log" "resume-init: loaded [0-9]+ pages \([0-9.]+ MiB\) in [0-9.]+ s \([0-9.]+ MiB/s\)" "the summary line"
    expect "$log" "RESUMED token=$token proc=sh -c while :; do sleep 1; done holder-$token  rc=0" "the token from tmpfs and from the running process"
    expect_not "$log" "FRESH-BOOT" "a fresh boot instead of the resume"
}
