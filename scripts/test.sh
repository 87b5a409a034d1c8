#!/bin/bash
# The whole test suite, as root on Debian: installs what it needs, runs
# the host unit tests, checks the binary's build properties, then boots
# the real Debian kernel under QEMU for every user-visible case.
#
#   scripts/test.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t_start=$SECONDS

# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
prepare || { echo "test: setup failed"; exit 1; }

echo "== host unit tests"
mkdir -p "$top/build"
if cargo test --workspace --lib --target x86_64-unknown-linux-gnu --quiet > "$top/build/unit.log" 2>&1; then
    grep -E "^test result" "$top/build/unit.log"
else
    cat "$top/build/unit.log"
    echo "test: host unit tests failed"
    exit 1
fi

echo "== lints"
if cargo clippy --release --quiet --features selftest -- -D warnings > "$top/build/clippy.log" 2>&1 \
    && cargo clippy --release --quiet --features selftest --target aarch64-unknown-linux-musl -- -D warnings >> "$top/build/clippy.log" 2>&1 \
    && cargo clippy --workspace --lib --tests --examples --target x86_64-unknown-linux-gnu --quiet -- -D warnings >> "$top/build/clippy.log" 2>&1; then
    echo "clippy: no warnings"
else
    cat "$top/build/clippy.log"
    echo "test: cargo clippy found warnings"
    exit 1
fi

echo "== build"
cargo build --release --quiet || { echo "test: build failed"; exit 1; }
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
bin=$BIN

case_begin "binary: static, no libc, no allocator, under 256 KiB"
size=$(stat -c %s "$bin")
file "$bin" | grep -q "statically linked" || check_fail "file(1) does not call it statically linked: $(file -b "$bin")"
readelf -lW "$bin" | grep -q INTERP && check_fail "it has an ELF interpreter"
readelf -dW "$bin" 2>/dev/null | grep -q NEEDED && check_fail "it needs shared libraries"
[ "$size" -lt 262144 ] || check_fail "size $size bytes is not under 256 KiB"
# Symbols live in an unstripped build of the same code, with the
# selftest command that the shipped binary leaves out.
CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --quiet --features selftest --target-dir "$top/target/unstripped" \
    || check_fail "unstripped build failed"
ubin=$top/target/unstripped/$BIN_REL
undef=$(nm -u "$ubin" 2>&1)
[ -z "$undef" ] || check_fail "undefined symbols: $undef"
nm "$ubin" | grep -Eq '__rust_alloc|__rdl_alloc|malloc|__libc_start_main' && check_fail "allocator or libc symbols: $(nm "$ubin" | grep -E '__rust_alloc|__rdl_alloc|malloc|__libc_start_main' | head -3)"
# Captured first: grep -q would close the pipe after the first line.
self=$("$ubin" selftest) || check_fail "resume-init selftest exited with status $?: $self"
grep -q "selftest: memcpy/memmove/memset ok" <<< "$self" || check_fail "the binary's own memcpy/memmove/memset fail their self-test"
grep -q "selftest: worker threads ok" <<< "$self" || check_fail "the worker-thread pool fails its self-test"
case_end
echo "        binary: $size bytes"

# The kernels: Debian 12's 6.1 gets every case; 6.12 (LZ4, zero-page
# elision, xz modules) the hibernate→resume cycles, and arm64 its own
# choice of cases, to keep the suite under 40 minutes on 2 cores.
k61=$(ls /lib/modules | grep -E '^6\.1\.' | sort -V | tail -n 1)
k612=$(ls /lib/modules | grep -E '^6\.12\.' | sort -V | tail -n 1)
mode=$( [ "${RESUME_INIT_KVM:-0}" = 1 ] && echo KVM || echo TCG)

use_kernel "$k61"
echo "== QEMU boot tests (kernel $KVER, $mode)"
. "$top/tests/boot.sh"
echo "== QEMU hibernate→resume tests (kernel $KVER)"
. "$top/tests/resume.sh"
echo "== QEMU fault matrix (kernel $KVER)"
. "$top/tests/faults.sh"
echo "== QEMU tests of the writer, resume-init hibernate (kernel $KVER)"
WRITER_LONG=1 . "$top/tests/hibernate.sh"
echo "== QEMU tests of LUKS2, LUKS1 and LVM2 (kernel $KVER)"
. "$top/tests/luks.sh"
echo "== QEMU tests of the trust boundaries: duplicate identities, md members, keys in the keyring, the writer and plain swap (kernel $KVER)"
. "$top/tests/trust.sh"
echo "== QEMU tests of hibernation into a file: zram-only, ext4, xfs, btrfs, LUKS2, both loaders (kernel $KVER)"
HIBFILE_LONG=1 . "$top/tests/hibfile.sh"
echo "== QEMU tests of btrfs and xfs roots, a btrfs swap file, a stored resume device (kernel $KVER)"
. "$top/tests/fs.sh"
echo "== QEMU tests under UEFI (OVMF): systemd's HibernateLocation variable (kernel $KVER)"
. "$top/tests/efi.sh"
echo "== QEMU tests of a distribution's life: resume-init check, Debian's initramfs with the hook, scripts/install.sh (kernel $KVER)"
. "$top/tests/distro.sh"
echo "== QEMU tests on a Debian 12 with systemd (debootstrap): systemctl hibernate both ways, crypttab, the kernel hook (kernel $KVER)"
. "$top/tests/systemd.sh"
echo "== mkinitramfs.sh --host on prepared machine trees"
. "$top/tests/host.sh"

if [ -n "$k612" ]; then
    use_kernel "$k612"
    echo "== QEMU hibernate→resume tests (kernel $KVER, $mode)"
    . "$top/tests/resume.sh"
    echo "== QEMU tests of the writer (kernel $KVER)"
    WRITER_LONG=0 . "$top/tests/hibernate.sh"
    echo "== QEMU tests of hibernation into a file (kernel $KVER)"
    HIBFILE_LONG=0 . "$top/tests/hibfile.sh"
else
    case_begin "kernel 6.12 installed"; check_fail "no 6.12 kernel under /lib/modules (scripts/setup.sh installs linux-image-6.12-amd64)"; case_end
fi

echo "== QEMU tests on arm64 (Debian 12's arm64 kernel, qemu-system-aarch64, TCG)"
. "$top/tests/arm64.sh"

echo "== fuzzing (${FUZZ_SECONDS:-10} s per target)"
. "$top/tests/fuzz.sh"
echo
echo "suite time: $((SECONDS - t_start)) s"
summary
