# What `mkinitramfs.sh --host` learns of the machine it runs on; sourced
# by it. Everything is read under $HOST_ROOT (default /), so the tests
# can give it prepared trees of /proc, /sys, /etc and /dev:
#   - the running kernel (/proc/sys/kernel/osrelease);
#   - the root: its device and type from /proc/mounts, its root= from
#     /etc/fstab (else the UUID of the device, from /dev/disk/by-uuid);
#     a root or resume device on a device-mapper device (LUKS, LVM) is
#     named /dev/mapper/NAME, which only the mapping made at boot can
#     carry (a filesystem UUID can be copied onto any stick);
#   - the resume device: initramfs-tools' /etc/initramfs-tools/conf.d/resume,
#     else what the kernel has in /sys/power/resume(_offset), else the one
#     swap partition in /proc/swaps;
#   - the modules: the drivers of every device under the root and the
#     resume device (walking sysfs up from each block device, through
#     device-mapper slaves), and the root's filesystem;
#   - LUKS containers under them (device-mapper uuid CRYPT-LUKS…) for
#     rd.luks.name=; a btrfs root's subvolume (fstab's subvol=) and its
#     devices when it has several (/sys/fs/btrfs/FSID/devices) for
#     rootflags=.
# It sets host_kver, host_modules (array), host_resume, host_offset and
# host_cmdline, or says why not and returns 1.

HR=${HOST_ROOT:-}

# host_name_of DEV: the kernel name of /dev/… (links resolved in $HR/dev).
host_name_of() {
    local d=$1
    case $d in
        /dev/mapper/*|/dev/disk/*) d=$(readlink -f "$HR$d" 2>/dev/null) || return 1; d=${d#"$HR"} ;;
    esac
    case $d in /dev/*) echo "${d#/dev/}" ;; *) return 1 ;; esac
}

# host_mapper_of NAME: /dev/mapper/DMNAME for a device-mapper device.
host_mapper_of() {
    local n
    n=$(cat "$HR/sys/class/block/$1/dm/name" 2>/dev/null) && [ -n "$n" ] && echo "/dev/mapper/$n"
}

# host_uuid_of NAME: the UUID= spec of a kernel device name, if any.
host_uuid_of() {
    local l
    for l in "$HR"/dev/disk/by-uuid/*; do
        [ -L "$l" ] || continue
        if [ "$(basename "$(readlink "$l")")" = "$1" ]; then echo "UUID=$(basename "$l")"; return 0; fi
    done
    return 1
}

# host_drivers NAME: the modules of the drivers of NAME and of what it is
# built on (device-mapper slaves), one per line.
host_drivers() {
    local name=$1 p s
    p=$(readlink -f "$HR/sys/class/block/$name" 2>/dev/null) || return 0
    if [ -d "$p/slaves" ]; then
        for s in "$p"/slaves/*; do [ -e "$s" ] && host_drivers "$(basename "$s")"; done
    fi
    while [ -n "$p" ] && [ "$p" != "$HR/sys" ] && [ "$p" != "/" ]; do
        [ -L "$p/driver/module" ] && basename "$(readlink "$p/driver/module")"
        p=$(dirname "$p")
    done
}

# host_luks NAME: rd.luks.name=UUID=NAME for each LUKS container under NAME.
host_luks() {
    local name=$1 p s u h
    p=$HR/sys/class/block/$name
    if [ -r "$p/dm/uuid" ]; then
        u=$(cat "$p/dm/uuid")
        case $u in
            CRYPT-LUKS[12]-*)
                h=${u#CRYPT-LUKS?-}; h=${h%%-*}
                [ ${#h} -eq 32 ] && echo "rd.luks.name=${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}=$(cat "$p/dm/name")"
                ;;
        esac
    fi
    if [ -d "$p/slaves" ]; then
        for s in "$p"/slaves/*; do [ -e "$s" ] && host_luks "$(basename "$s")"; done
    fi
    return 0
}

host_detect() {
    host_kver=$(cat "$HR/proc/sys/kernel/osrelease" 2>/dev/null) || { echo "mkinitramfs --host: cannot read the running kernel's version" >&2; return 1; }
    local src fstype spec rname
    read -r src fstype < <(awk '$2 == "/" { s = $1; t = $3 } END { print s, t }' "$HR/proc/mounts" 2>/dev/null)
    case $fstype in
        ext2|ext3|ext4|btrfs|xfs) ;;
        "") echo "mkinitramfs --host: no root in $HR/proc/mounts" >&2; return 1 ;;
        *) echo "mkinitramfs --host: the root is $fstype, which resume-init cannot mount yet (ext2/3/4, btrfs, xfs)" >&2; return 1 ;;
    esac
    rname=$(host_name_of "$src") || { echo "mkinitramfs --host: the root $src is not a block device (network or virtual roots are not supported)" >&2; return 1; }
    case $rname in md*) echo "mkinitramfs --host: the root is on md RAID ($src), which resume-init cannot assemble yet" >&2; return 1 ;; esac
    spec=$(host_mapper_of "$rname") || spec=$(awk '$1 !~ /^#/ && $2 == "/" { print $1; exit }' "$HR/etc/fstab" 2>/dev/null)
    [ -n "$spec" ] || spec=$(host_uuid_of "$rname") || spec=$src
    host_modules=()
    [ "$fstype" = ext4 ] || [ "${fstype#ext}" = "$fstype" ] || fstype=ext4
    host_modules+=("$fstype")
    local m
    while read -r m; do [ -n "$m" ] && host_modules+=("$m"); done < <(host_drivers "$rname" | sort -u)

    # The resume device.
    host_resume="" host_offset=""
    local conf=$HR/etc/initramfs-tools/conf.d/resume dev off sname
    if [ -r "$conf" ]; then
        host_resume=$(sed -n 's/^RESUME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$conf" | tail -n 1)
        host_offset=$(sed -n 's/^RESUME_OFFSET="\{0,1\}\([0-9]*\)"\{0,1\}$/\1/p' "$conf" | tail -n 1)
    fi
    [ "$host_resume" = none ] && host_resume=""
    if [ -z "$host_resume" ]; then
        dev=$(cat "$HR/sys/power/resume" 2>/dev/null)
        if [ -n "$dev" ] && [ "$dev" != 0:0 ]; then
            sname=$(basename "$(readlink -f "$HR/sys/dev/block/$dev" 2>/dev/null)")
            host_resume=$(host_uuid_of "$sname") || host_resume=/dev/$sname
            off=$(cat "$HR/sys/power/resume_offset" 2>/dev/null)
            [ "${off:-0}" = 0 ] || host_offset=$off
        else
            local swaps
            mapfile -t swaps < <(awk 'NR > 1 { print $1, $2 }' "$HR/proc/swaps" 2>/dev/null)
            if [ ${#swaps[@]} -gt 1 ]; then
                echo "mkinitramfs --host: several swap areas (${swaps[*]}) and no resume device set: give -r SPEC" >&2; return 1
            elif [ ${#swaps[@]} -eq 1 ]; then
                set -- ${swaps[0]}
                if [ "$2" != partition ]; then
                    echo "mkinitramfs --host: the swap area $1 is a file: give -r with its filesystem's device and -O with its header's page (filefrag -v, or btrfs inspect-internal map-swapfile -r)" >&2; return 1
                fi
                sname=$(host_name_of "$1") || sname=""
                host_resume=$( [ -n "$sname" ] && host_uuid_of "$sname") || host_resume=$1
            fi
        fi
    fi
    local luks
    luks=$(host_luks "$rname")
    if [ -n "$host_resume" ]; then
        sname=""
        case $host_resume in
            UUID=*) [ -L "$HR/dev/disk/by-uuid/${host_resume#UUID=}" ] && sname=$(basename "$(readlink "$HR/dev/disk/by-uuid/${host_resume#UUID=}")") ;;
            /dev/*) sname=$(host_name_of "$host_resume") || sname="" ;;
        esac
        if [ -n "$sname" ]; then
            case $host_resume in UUID=*|/dev/dm-*) host_resume=$(host_mapper_of "$sname") || true ;; esac
            [ -n "$host_resume" ] || host_resume=$(host_uuid_of "$sname") || host_resume=/dev/$sname
            while read -r m; do [ -n "$m" ] && host_modules+=("$m"); done < <(host_drivers "$sname" | sort -u)
            luks=$(printf '%s\n%s\n' "$luks" "$(host_luks "$sname")")
        fi
    fi
    luks=$(printf '%s\n' "$luks" | sed '/^$/d' | sort -u | tr '\n' ' ')
    # btrfs: the root's subvolume from fstab (Fedora mounts subvol=root),
    # and its devices when there are several (the kernel scans them when
    # the mount names them; resume-init runs no `btrfs device scan`).
    local flags="" devs="" d s
    if [ "$fstype" = btrfs ]; then
        flags=$(awk '$1 !~ /^#/ && $2 == "/" { print $4; exit }' "$HR/etc/fstab" 2>/dev/null | tr ',' '\n' | grep -E '^subvol(id)?=' | head -n 1)
        for d in "$HR"/sys/fs/btrfs/*/devices/"$rname"; do
            [ -e "$d" ] || [ -L "$d" ] || continue
            for s in "$(dirname "$d")"/*; do devs+="${devs:+,}device=/dev/$(basename "$s")"; done
        done
        case $devs in *,*) flags+="${flags:+,}$devs" ;; esac
        [ -z "$flags" ] || flags="rootflags=$flags "
    fi
    host_cmdline="root=$spec ${flags}${luks}noresume"
    return 0
}
