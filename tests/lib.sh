# Shared helpers of the QEMU test scripts: disks, boots, assertions.
# Sourced; expects $top (repository root) to be set.

# shellcheck source=scripts/paths.sh
. "$top/scripts/paths.sh"
T=${T:-$top/build/test}
mkdir -p "$T"
KERNEL=${KERNEL:-$(ls -1 /boot/vmlinuz-* | sort -V | tail -n 1)}
KVER=${KVER:-${KERNEL#/boot/vmlinuz-}}
INITRD=${INITRD:-$T/initramfs-$KVER.cpio.gz}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-180}

# Counters survive sourcing by several test scripts in one run.
passed=${passed:-0}
failed=${failed:-0}
[ -n "${failed_names+set}" ] || failed_names=()
case_name=""
case_errors=()
case_log=""

# case_begin NAME: starts a test case; assertions until case_end belong to it.
case_begin() {
    case_name=$1
    case_errors=()
    case_log=""
    case_t0=$SECONDS
}

# A failed check inside the current case.
check_fail() { case_errors+=("$1"); }

# expect LOG REGEX WHAT: the console log has a line matching REGEX.
expect() {
    grep -Eq -- "$2" "$1" || check_fail "missing in console: $3 (/$2/)"
}

# expect_not LOG REGEX WHAT: no line of the log matches REGEX.
expect_not() {
    if grep -Eq -- "$2" "$1"; then check_fail "unexpected in console: $3: $(grep -Em1 -- "$2" "$1")"; fi
}

# expect_eq GOT WANT WHAT
expect_eq() {
    [ "$1" = "$2" ] || check_fail "$3: got '$1', want '$2'"
}

case_end() {
    local dt=$((SECONDS - case_t0))
    if [ ${#case_errors[@]} -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok      $case_name (${dt}s)"
    else
        failed=$((failed + 1))
        failed_names+=("$case_name [$KVER]")
        echo "FAILED  $case_name (${dt}s)"
        local e
        for e in "${case_errors[@]}"; do echo "        $e"; done
        if [ -n "$case_log" ] && [ -f "$case_log" ]; then
            echo "        --- last console lines ($case_log) ---"
            grep -Ev '^\s*$' "$case_log" | tail -n 25 | sed 's/^/        | /'
        fi
    fi
}

# boot LOG [run.sh options…]: one QEMU boot with the test kernel and
# initramfs; the console goes to LOG. Returns run.sh's status.
boot() {
    local log=$1; shift
    case_log=$log
    "$top/qemu/run.sh" ${QEMU_ARCH:+--arch "$QEMU_ARCH"} -q -k "$KERNEL" -i "$INITRD" -t "$BOOT_TIMEOUT" -l "$log" "$@"
}

# Common expectations of every boot: no kernel panic, no Rust panic.
expect_no_panic() {
    expect_not "$1" "Kernel panic|internal error, please report" "a panic"
}

# make_rootdir DIR INIT_SCRIPT: a busybox root whose /sbin/init is the
# given shell script text. $BUSYBOX names another build (arm64's; its
# applets are listed by the host's, the same Debian version).
make_rootdir() {
    local d=$1
    rm -rf "$d"
    mkdir -p "$d"/{bin,sbin,proc,sys,dev,etc,root,tmp,run,mnt}
    cp "${BUSYBOX:-/bin/busybox}" "$d/bin/busybox"
    local a
    for a in $(/bin/busybox --list); do
        [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
    done
    printf '%s\n' "$2" > "$d/sbin/init"
    chmod 0755 "$d/sbin/init"
}

# add_binary DIR PATH: a host program and the shared libraries ldd names
# for it, copied into the test root DIR at the same paths.
add_binary() {
    local d=$1 b=$2 lib
    install -D -m 0755 "$b" "$d$b"
    for lib in $(ldd "$b" | grep -o '/[^ ]*'); do
        install -D -m 0755 "$(readlink -f "$lib")" "$d$lib"
    done
}

# mkext4 IMAGE SIZE_MIB DIR [mkfs.ext4 options…]: an ext4 image filled from DIR.
mkext4() {
    local img=$1 size=$2 dir=$3; shift 3
    rm -f "$img"
    truncate -s "${size}M" "$img"
    mkfs.ext4 -q -F "$@" -d "$dir" "$img"
}

# mkgpt IMAGE SIZE_MIB SECTOR_SIZE SFDISK_SCRIPT: a disk image with a GPT
# written by sfdisk through a loop device of that logical sector size
# (sfdisk takes a file's sectors to be 512 bytes), partitions empty.
mkgpt() {
    local img=$1 size=$2 ss=$3 script=$4 loop
    rm -f "$img"
    truncate -s "${size}M" "$img"
    loop=$(losetup -f --show --sector-size "$ss" "$img") || { echo "mkgpt: losetup failed" >&2; return 1; }
    printf '%b' "$script" | sfdisk -q --no-reread "$loop" >/dev/null 2>&1
    local rc=$?
    sync
    losetup -d "$loop"
    return $rc
}

# put_part IMAGE SECTOR_SIZE N FILE: copies FILE into partition N of a disk
# image made by mkgpt (its start from sfdisk's dump).
put_part() {
    local img=$1 ss=$2 n=$3 file=$4 start loop
    loop=$(losetup -f --show -r --sector-size "$ss" "$img") || return 1
    start=$(sfdisk -d "$loop" 2>/dev/null | awk -v n="$n" '$1 ~ ("[^0-9]" n "$") {for (i = 1; i <= NF; i++) if ($i == "start=") {gsub(",", "", $(i+1)); print $(i+1)}}')
    losetup -d "$loop"
    [ -n "$start" ] || { echo "put_part: no partition $n on $img" >&2; return 1; }
    dd if="$file" of="$img" bs="$ss" seek="$start" conv=notrunc,sparse status=none
}

# gzip_at FILE: the 1-based offset of the first gzip member in FILE (an
# initramfs starts with an uncompressed cpio: tail -c +N FILE | zcat).
gzip_at() {
    echo $(( $(LC_ALL=C grep -obUaP -m1 '\x1f\x8b\x08' "$1" | head -n 1 | cut -d: -f1) + 1 ))
}

# The suite's LUKS2 keyslots: Argon2id with a small cost (8 MiB, 4 passes,
# one lane), so that an unlock under TCG takes a fraction of a second.
TEST_KDF=(--pbkdf argon2id --pbkdf-memory 8192 --pbkdf-force-iterations 4 --pbkdf-parallel 1)

# kernel_at_least MAJOR MINOR: whether $KVER is that version or newer.
kernel_at_least() {
    local ma=${KVER%%.*} mi=${KVER#*.}
    mi=${mi%%[!0-9]*}
    [ "$ma" -gt "$1" ] || { [ "$ma" -eq "$1" ] && [ "$mi" -ge "$2" ]; }
}

# The test initramfs, built once per kernel version. From 6.9 on it
# carries the kernel's LZ4 module: boot 1 needs it to write LZ4 images and
# the kernel's own loader to read them (resume-init decodes LZ4 itself).
build_initramfs() {
    if [ ! -f "$INITRD" ] || [ "$BIN" -nt "$INITRD" ]; then
        local extra=()
        kernel_at_least 6 9 && extra=(-m lz4)
        "$top/scripts/mkinitramfs.sh" -k "$KVER" "${extra[@]}" -o "$INITRD" >/dev/null
    fi
}

# with_initrd FILE COMMAND [ARGS…]: COMMAND (a boot, or a helper that
# boots) with that initramfs instead of $INITRD.
with_initrd() {
    local INITRD=$1
    shift
    "$@"
}

# use_kernel VERSION: the following tests boot that kernel.
use_kernel() {
    KVER=$1
    KERNEL=/boot/vmlinuz-$1
    INITRD=$T/initramfs-$1.cpio.gz
    build_initramfs
}

# summary: the closing line, and the exit status.
summary() {
    echo
    if [ $failed -gt 0 ]; then echo "failed cases: ${failed_names[*]}"; fi
    echo "$passed passed, $failed failed"
    [ $failed -eq 0 ]
}
