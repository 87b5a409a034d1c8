#!/bin/bash
# Builds an initramfs with resume-init as /init.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
Builds an initramfs with resume-init as /init.

  scripts/mkinitramfs.sh [--host] [--arch x86_64|arm64] [--kernel-root DIR] [-k KERNEL_VERSION] [-m MODULE]...
                         [-f SRC:DEST]... [-r SPEC [-O PAGES]] [-o OUTPUT] [-b BINARY]

--arch arm64: the aarch64 build of resume-init (built here unless -b).
--kernel-root DIR: modules from DIR/lib/modules/VERSION instead of
/lib/modules, for a kernel that is not installed here (an unpacked
kernel package, modules indexed by depmod -b DIR VERSION).
--host: for the machine it runs on (scripts/host.sh): its running
kernel, its root's filesystem and its disks' drivers, and its resume
device stored as with -r; prints the kernel command line to use.
The image is a gzip'd newc cpio (after an uncompressed one holding
/etc/resume-init/initramfs, the line resume-init check looks for) holding /init, /dev/console, the
directories the init mounts on, the files under initramfs/, every
-f file (a LUKS keyfile, say, at DEST), with -r the resume device for
a command line without resume= (initramfs-tools' conf/conf.d/resume:
RESUME=SPEC, RESUME_OFFSET=PAGES), and the kernel modules for
disks, ext4 and dm-crypt (plus every -m MODULE) with their
dependencies from modules.dep and pre-softdeps from modules.softdep,
listed in load order in /etc/resume-init/modules: first what finding
and reading the resume device needs, then (after a line "# root") the
root's filesystems, which the init loads only once the resume step is
done. A disk driver whose devices are on PCI, virtio, ACPI or platform
buses comes with its aliases from modules.alias: the init loads it only
where a device matches (and the rest after all if a device it waits
for does not appear). Compressed modules
(.ko.xz, .ko.zst, .ko.gz) are decompressed here, so the init needs no
decompressor. Run as root (mknod of /dev/console). The image is written
mode 0600, whatever the umask: it may hold a keyfile (-f), and with it
the key to the swap, whose image holds every other secret.
EOF
    exit 2
}

top=$(cd "$(dirname "$0")/.." && pwd)
kver=""
out="$top/build/initramfs.cpio.gz"
bin=""
extra=()
# Disk drivers (virtio, SCSI/SATA, NVMe), the ext4 root filesystem, and
# device-mapper with dm-crypt and XTS (LUKS's default cipher mode; the
# kernel cannot load it on demand without a modprobe helper), and
# efivarfs (systemd's HibernateLocation variable on UEFI machines).
default_modules=(virtio_pci virtio_blk virtio_scsi sd_mod ahci nvme ext4 dm_mod dm_crypt xts efivarfs)
files=()

resume="" resume_offset=""
host=0 arch=x86_64 kroot=""
while [ $# -gt 0 ]; do
    case $1 in
        --host) host=1; shift ;;
        --arch)
            case ${2:-} in x86_64|amd64) arch=x86_64 ;; arm64|aarch64) arch=arm64 ;; *) usage ;; esac
            shift 2 ;;
        --kernel-root) kroot=${2:?--kernel-root needs a directory}; shift 2 ;;
        *) break ;;
    esac
done
while getopts "k:m:f:r:O:o:b:h" opt; do
    case $opt in
        r) resume=$OPTARG ;;
        O) resume_offset=$OPTARG ;;
        k) kver=$OPTARG ;;
        m) extra+=("$OPTARG") ;;
        f) files+=("$OPTARG") ;;
        o) out=$OPTARG ;;
        b) bin=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[ -z "$resume_offset" ] || [ -n "$resume" ] || { echo "mkinitramfs: -O needs -r" >&2; exit 1; }
[[ "$resume_offset" =~ ^[0-9]*$ ]] || { echo "mkinitramfs: -O wants a page number, not $resume_offset" >&2; exit 1; }

if [ $host = 1 ]; then
    # shellcheck source=scripts/host.sh
    . "$top/scripts/host.sh"
    host_detect || exit 1
    [ -n "$kver" ] || kver=$host_kver
    default_modules+=("${host_modules[@]}")
    if [ -z "$resume" ] && [ -n "$host_resume" ]; then resume=$host_resume; resume_offset=$host_offset; fi
fi
if [ -z "$kver" ]; then
    kver=$(ls -1 "$kroot/lib/modules" 2>/dev/null | sort -V | tail -n 1)
    [ -n "$kver" ] || { echo "mkinitramfs: no kernel under $kroot/lib/modules; give -k" >&2; exit 1; }
fi
moddir=$kroot/lib/modules/$kver
# virtio over MMIO: arm64's other virtio transport (QEMU's virt board);
# first, as the transports are: a virtio disk's driver is matched to the
# devices a transport has brought.
[ $arch = arm64 ] && default_modules=(virtio_mmio "${default_modules[@]}")
[ -f "$moddir/modules.dep" ] || { echo "mkinitramfs: $moddir/modules.dep not found" >&2; exit 1; }

if [ -z "$bin" ]; then
    # shellcheck source=scripts/paths.sh
    . "$top/scripts/paths.sh"
    if [ $arch = arm64 ]; then
        (cd "$top" && cargo build --release --quiet --target aarch64-unknown-linux-musl)
        bin=$BIN_ARM64
    else
        (cd "$top" && cargo build --release --quiet)
        bin=$BIN
    fi
fi
[ -x "$bin" ] || { echo "mkinitramfs: $bin is not an executable" >&2; exit 1; }

# --- module resolution -------------------------------------------------
# Depth-first over modules.dep, dependencies before dependants (the load
# order); names given as aliases (softdeps say "crypto-crc32c") resolve
# through modules.alias; built-in modules need nothing.
#
# plan "FIRST..." "LATER...": the module list (src/core/modlist.rs), in
# one pass over the indexes. Its first stage: a driver with aliases on the
# buses enumerated before /init runs (PCI, virtio, ACPI, platform and
# device-tree devices) is a group of its own, with its dependencies, under
# those aliases as "@PATTERN" lines: the init loads it only when a device
# matches. sd_mod goes with whatever brings scsi_mod
# (AHCI, virtio-scsi, usb-storage): SCSI disks appear only once their
# host's driver has scanned them, too late to be matched. Everything else
# is loaded whatever the hardware, first. Then a line "# root" and the
# second stage: LATER's modules and what only they need.
plan() {
    awk -v want="$1" -v later="$2" '
        function norm(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n); return n }
        function visit(raw, required,   name, i, n, parts, k) {
            name = norm(raw)
            if (name in seen) return
            seen[name] = 1
            in_first[name] = 1
            if (!(name in path)) {
                if (name in builtin) return
                if (raw in alias) { n = split(alias[raw], parts, " "); for (i = 1; i <= n; i++) visit(parts[i], 0); return }
                if (required) missing = missing " " raw
                return
            }
            n = split(soft[name], parts, " ")
            for (i = 1; i <= n; i++) visit(parts[i], 0)
            n = split(deps[name], parts, " ")
            for (i = 1; i <= n; i++) visit(parts[i], 1)
            out = out path[name] "\n"
        }
        FILENAME ~ /modules\.dep$/ { k = $1; sub(/:$/, "", k); n = norm(k); path[n] = k; $1 = ""; deps[n] = $0; next }
        FILENAME ~ /modules\.builtin$/ { builtin[norm($1)] = 1; next }
        FILENAME ~ /modules\.alias$/ {
            if ($1 != "alias") next
            if ($2 !~ /[*?\[]/) alias[$2] = alias[$2] " " $3
            if ($2 ~ /^(pci|virtio|acpi|platform|of)[:*]/) fw[norm($3)] = fw[norm($3)] "@" $2 "\n"
            next
        }
        FILENAME ~ /modules\.softdep$/ {
            if ($1 == "softdep" && $3 == "pre:") { n = norm($2); for (i = 4; i <= NF && $i != "post:"; i++) soft[n] = soft[n] " " $i }
            next
        }
        END {
            n = split(want, parts, " ")
            for (i = 1; i <= n; i++) {
                w[i] = parts[i]; req[i] = (w[i] ~ /^!/); sub(/^!/, "", w[i])
                cond[i] = (norm(w[i]) in fw) && (norm(w[i]) in path)
                if (norm(w[i]) == "sd_mod") sd = 1
            }
            groups = ""
            for (i = 1; i <= n; i++) {
                if (!cond[i]) continue
                delete seen; out = ""
                visit(w[i], req[i])
                if (sd && ("scsi_mod" in seen)) { visit("sd_mod", 0); taken = 1 }
                groups = groups fw[norm(w[i])] out
            }
            delete seen; out = ""
            for (i = 1; i <= n; i++) if (!cond[i] && !(taken && norm(w[i]) == "sd_mod")) visit(w[i], req[i])
            # A SCSI host loaded whatever the hardware (usb-storage, -m)
            # needs the SCSI disk driver as well.
            if (sd && ("scsi_mod" in seen)) visit("sd_mod", 0)
            printf "%s%s# root\n", out, groups
            # The second stage: what the first does not already load.
            delete seen; for (k in in_first) seen[k] = 1; out = ""
            n = split(later, parts, " ")
            for (i = 1; i <= n; i++) { r = parts[i]; q = (r ~ /^!/); sub(/^!/, "", r); visit(r, q) }
            printf "%s", out
            if (missing != "") { print "mkinitramfs: module(s) not found:" missing > "/dev/stderr"; exit 1 }
        }' "$moddir/modules.dep" \
        $(for f in modules.builtin modules.alias modules.softdep; do [ -f "$moddir/$f" ] && echo "$moddir/$f"; done)
}
# --- staging -------------------------------------------------------------
# From here on nothing is readable by other users: the staged keyfiles,
# the image, and its temporary file.
umask 077
stage=$(mktemp -d)
trap 'rm -rf "$stage" "$stage.mark"' EXIT
# Defaults are best effort (a kernel may build them in); -m modules must exist.
# Two stages: what finding and reading the resume device needs (disk
# drivers, device-mapper and dm-crypt, efivarfs, -m modules) is loaded
# before the image is looked for; the root's filesystems (and what only
# they need) after it, on the way to a fresh boot.
fs_re='^(ext[234]|btrfs|xfs)$'
first=() later=()
for m in "${default_modules[@]}" "${extra[@]/#/!}"; do
    if [[ ${m#!} =~ $fs_re ]]; then later+=("$m"); else first+=("$m"); fi
done
plan "${first[*]}" "${later[*]}" > "$stage/order"
mapfile -t order < "$stage/order"
groups=$(awk '/^@/ && prev !~ /^@/ { g++ } { prev = $0 } END { print g + 0 }' "$stage/order")
rm "$stage/order"
mkdir -p "$stage"/{dev,proc,sys,root,etc/resume-init,lib/modules/"$kver"}
install -m 0755 "$bin" "$stage/init"
mknod -m 0600 "$stage/dev/console" c 5 1
for f in "${files[@]}"; do
    src=${f%%:*}; dest=${f#*:}
    [ "$src" != "$f" ] && [ "${dest#/}" != "$dest" ] || { echo "mkinitramfs: -f wants SRC:/ABSOLUTE/DEST, not $f" >&2; exit 1; }
    [ -f "$src" ] || { echo "mkinitramfs: -f $src: no such file" >&2; exit 1; }
    install -D -m 0400 "$src" "$stage$dest"
done
if [ -n "$resume" ]; then
    mkdir -p "$stage/conf/conf.d"
    { echo "RESUME=$resume"; [ -z "$resume_offset" ] || echo "RESUME_OFFSET=$resume_offset"; } > "$stage/conf/conf.d/resume"
fi
if [ -d "$top/initramfs" ]; then
    cp -a "$top/initramfs/." "$stage/"
    rm -f "$stage/README.md"
fi
list=$stage/etc/resume-init/modules
echo "# kernel $kver" > "$list"
n=0 n_first=0
for rel in "${order[@]}"; do
    # The line between the stages, and the groups' conditions
    # (src/core/modlist.rs).
    if [ "$rel" = "# root" ]; then echo "# root" >> "$list"; n_first=$n; continue; fi
    case $rel in @*) echo "$rel" >> "$list"; continue ;; esac
    echo "/lib/modules/$kver/${rel%.ko*}.ko" >> "$list"
    src=$moddir/$rel
    dst=$stage/lib/modules/$kver/${rel%.ko*}.ko
    # A module two groups need is listed twice, carried once.
    [ -e "$dst" ] && continue
    n=$((n + 1))
    mkdir -p "$(dirname "$dst")"
    case $src in
        *.ko) cp "$src" "$dst" ;;
        *.ko.xz) xz -dc "$src" > "$dst" ;;
        *.ko.zst) zstd -qdc "$src" > "$dst" ;;
        *.ko.gz) gzip -dc "$src" > "$dst" ;;
        *) echo "mkinitramfs: unknown module format $src" >&2; exit 1 ;;
    esac
done

mkdir -p "$(dirname "$out")"
rm -f "$out.tmp"
# First, uncompressed, the line `resume-init check` reads to tell that
# the initramfs is resume-init's (no decompressor needed); the kernel
# unpacks both archives into one root.
mark=$stage.mark
mkdir -p "$mark/etc/resume-init"
echo "as /init, built by mkinitramfs.sh for $kver" > "$mark/etc/resume-init/initramfs"
(cd "$mark" && find etc | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$out.tmp"
rm -rf "$mark"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9n >> "$out.tmp"
chmod 0600 "$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitramfs: wrote $out ($(du -k "$out" | cut -f1) KiB, kernel $kver, $n modules: $n_first before the resume, in it $groups drivers loaded only where their hardware is; $((n - n_first)) for the root)"
if [ $host = 1 ]; then
    if [ -n "$resume" ]; then
        echo "mkinitramfs: resume device: $resume${resume_offset:+ at page $resume_offset} (stored in the initramfs)"
    else
        echo "mkinitramfs: resume device: none found (no swap area; -r names one)"
    fi
    echo "mkinitramfs: kernel command line: $host_cmdline"
fi
