#!/bin/bash
# Installs what building and testing need on a Debian machine, as root.
# Idempotent: quick when everything is there already.
set -euo pipefail

pkgs=(qemu-system-x86 linux-image-amd64 linux-image-6.12-amd64 busybox-static cpio e2fsprogs gdisk fdisk
      util-linux xz-utils zstd file binutils kmod bc cryptsetup-bin lvm2 python3
      btrfs-progs xfsprogs ovmf mdadm dmsetup initramfs-tools debootstrap dracut-core)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || {
    echo "setup: no Rust toolchain; install rustup (https://rustup.rs) and run again" >&2
    exit 1
}
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
    rustup target add x86_64-unknown-linux-musl
fi
if ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add clippy
fi
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "setup: no kernel in /boot after installing linux-image-amd64" >&2; exit 1; }
# arm64: qemu-system-aarch64, the aarch64 target, Debian's arm64 kernel
# and busybox unpacked into the cache (scripts/arm64.sh says how).
"$(dirname "$0")/arm64.sh" > /dev/null
