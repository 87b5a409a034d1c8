#!/bin/bash
# Fetches what the arm64 tests need, from Debian's own packages, into a
# cache (idempotent: quick once it is there): qemu-system-aarch64, the
# aarch64 Rust target, and Debian 12's arm64 kernel (the 6.1 ABI the
# amd64 6.1 kernel here has, else the current one) and busybox-static,
# unpacked with `dpkg-deb -x` and the modules indexed with `depmod -b`
# (the package leaves that to its postinst). Prints the directory:
#   DIR/boot/vmlinuz-VERSION, DIR/lib/modules/VERSION, DIR/bin/busybox
#
#   scripts/arm64.sh        (as root)
set -euo pipefail
cache=${RESUME_INIT_CACHE:-/var/cache/resume-init}/arm64
export DEBIAN_FRONTEND=noninteractive

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if ! have qemu-system-arm || ! have qemu-efi-aarch64; then
    apt-get install -y -qq --no-install-recommends qemu-system-arm qemu-efi-aarch64 >/dev/null
fi
if command -v rustup >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/rustup" ]; then
    PATH=$HOME/.cargo/bin:$PATH
    rustup target list --installed | grep -qx aarch64-unknown-linux-musl || rustup target add aarch64-unknown-linux-musl >&2
fi

abi=$(ls /lib/modules 2>/dev/null | sed -n 's/^\(6\.1\.0-[0-9]*\)-amd64$/\1/p' | sort -V | tail -n 1)
if [ -z "$(ls -d "$cache"/root-*/lib/modules/* 2>/dev/null)" ]; then
    dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq; }
    pkg=linux-image-$abi-arm64
    if [ -z "$abi" ] || ! apt-cache show "$pkg:arm64" >/dev/null 2>&1; then
        apt-get update -qq
        pkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-6[^:]*\).*/\1/p' | head -n 1)
    fi
    [ -n "$pkg" ] || { echo "arm64.sh: no arm64 kernel package found" >&2; exit 1; }
    work=$(mktemp -d); chmod 755 "$work"
    (cd "$work" && apt-get download -qq "$pkg:arm64" "busybox-static:arm64") >&2
    ver=${pkg#linux-image-}
    root=$cache/root-$ver
    rm -rf "$root"; mkdir -p "$root"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$root"; done
    rm -rf "$work" "$root/usr/share/doc"
    depmod -b "$root" "$ver"
fi
ls -d "$cache"/root-* | sort -V | tail -n 1
