# A genuine Debian 12 root with systemd, built by debootstrap from the
# Debian archive this machine's apt uses, for the tests that boot a real
# distribution (tests/systemd.sh). Built once and kept as a tarball under
# $RESUME_INIT_CACHE (default /var/cache/resume-init), keyed by the
# package list, so later runs only unpack it (about 5 s instead of 40).
# Sourced after tests/lib.sh.
# shellcheck shell=bash

DEBIAN_SUITE=bookworm
# cpio: mkinitramfs.sh --host in the guest.
DEBIAN_PACKAGES=systemd-sysv,udev,dbus,kmod,e2fsprogs,cryptsetup-bin,util-linux,procps,cpio
RESUME_INIT_CACHE=${RESUME_INIT_CACHE:-/var/cache/resume-init}

# debian_mirror: the first Debian archive in apt's sources (deb822 or
# one-line format), else deb.debian.org.
debian_mirror() {
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')
    [ -n "$m" ] || m=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
    echo "${m:-http://deb.debian.org/debian}"
}

# debian_root DIR: DIR holds a fresh copy of the cached root (made first
# if needed). Returns non-zero, saying why, if debootstrap fails.
debian_root() {
    local dir=$1 key tarball
    key=$(printf '%s %s' "$DEBIAN_SUITE" "$DEBIAN_PACKAGES" | sha256sum | cut -c1-12)
    tarball=$RESUME_INIT_CACHE/debian-$DEBIAN_SUITE-systemd-$key.tar.zst
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        local tmp
        tmp=$(mktemp -d "$T/debootstrap.XXXXXX")
        if ! debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" "$DEBIAN_SUITE" "$tmp" "$(debian_mirror)" > "$T/debootstrap.log" 2>&1; then
            echo "debian_root: debootstrap failed: $(tail -n 3 "$T/debootstrap.log")" >&2
            rm -rf "$tmp"
            return 1
        fi
        # What a booted test never reads: downloaded packages, docs,
        # translations, manual pages.
        rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/usr/share/doc/* "$tmp"/usr/share/locale/* "$tmp"/usr/share/man/*
        mkdir -p "$RESUME_INIT_CACHE"
        tar -C "$tmp" --numeric-owner -cf - . | zstd -q -T0 -o "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
        rm -rf "$tmp"
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    zstd -qdc "$tarball" | tar -C "$dir" --numeric-owner -xf -
}
