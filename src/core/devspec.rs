//! Device specifications as `root=` and `resume=` accept them.
//!
//! The kernel's own forms (`init/do_mounts.c` `name_to_dev_t` in 6.1,
//! `block/early-lookup.c` in 6.12): `/dev/NAME`, `PARTUUID=…[/PARTNROFF=n]`,
//! `PARTLABEL=…`, `MAJ:MIN[:x]` and bare hex `MMmm`; plus what initramfs
//! tools resolve themselves: `UUID=`, `LABEL=` and the udev paths
//! `/dev/disk/by-{uuid,label,partuuid,partlabel}/…`.

use crate::text::{parse_hex_u64, parse_u32, parse_uuid};

/// A partition identifier as `PARTUUID=` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartId {
    /// A GPT unique partition GUID, in printed byte order.
    Gpt([u8; 16]),
    /// An MBR disk signature and partition number, `SSSSSSSS-PP`.
    Mbr { disk: u32, part: u32 },
}

/// Where a block device is to be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevSpec<'a> {
    /// A kernel device name, the part after `/dev/` (`vda1`, `nvme0n1p2`).
    Name(&'a str),
    /// A filesystem or swap UUID, in printed byte order.
    Uuid([u8; 16]),
    /// A filesystem or swap label.
    Label(&'a str),
    /// A partition by its table's identifier, optionally offset by a number
    /// of partitions on the same disk (`/PARTNROFF=n`).
    PartUuid { id: PartId, offset: i32 },
    /// A GPT partition name.
    PartLabel(&'a str),
    /// A device number.
    Number { major: u32, minor: u32 },
}

/// Why a specification could not be understood.
pub type SpecError = &'static str;

/// Removes one pair of surrounding double quotes (`LABEL="my root"`).
fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

/// A bare UUID (`0a1b2c3d-…`, quotes allowed), as `UUID=` takes it.
pub fn parse_uuid_value(v: &str) -> Result<[u8; 16], SpecError> {
    uuid(v)
}

fn uuid(v: &str) -> Result<[u8; 16], SpecError> {
    parse_uuid(unquote(v)).ok_or("UUID needs 32 hex digits, e.g. 0a1b2c3d-4e5f-6789-abcd-ef0123456789")
}

fn non_empty(v: &str) -> Result<&str, SpecError> {
    let v = unquote(v);
    if v.is_empty() { Err("the name after = is empty") } else { Ok(v) }
}

/// The kernel's `new_decode_dev`: the 32-bit "new" device number layout.
pub fn decode_dev(dev: u32) -> (u32, u32) {
    ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

fn part_uuid(v: &str) -> Result<DevSpec<'_>, SpecError> {
    let v = unquote(v);
    let (id, offset) = match v.split_once('/') {
        None => (v, 0),
        Some((id, rest)) => {
            let n = rest
                .strip_prefix("PARTNROFF=")
                .ok_or("only /PARTNROFF=n may follow a PARTUUID")?;
            let off = match n.strip_prefix('-') {
                Some(neg) => parse_u32(neg).and_then(|x| i32::try_from(x).ok()).map(|x| -x),
                None => parse_u32(n).and_then(|x| i32::try_from(x).ok()),
            };
            (id, off.ok_or("PARTNROFF= needs a whole number")?)
        }
    };
    let mbr = id.split_once('-').filter(|(d, p)| d.len() == 8 && p.len() == 2);
    let id = if let Some((disk, part)) = mbr {
        let bad = "an MBR PARTUUID is SSSSSSSS-PP in hex";
        let disk = parse_hex_u64(disk).ok_or(bad)?;
        let part = parse_hex_u64(part).ok_or(bad)?;
        PartId::Mbr { disk: disk as u32, part: part as u32 }
    } else {
        PartId::Gpt(uuid(id)?)
    };
    Ok(DevSpec::PartUuid { id, offset })
}

/// Parses a device specification.
pub fn parse(spec: &str) -> Result<DevSpec<'_>, SpecError> {
    if spec.is_empty() {
        return Err("the device is empty");
    }
    if let Some(v) = spec.strip_prefix("UUID=") {
        return Ok(DevSpec::Uuid(uuid(v)?));
    }
    if let Some(v) = spec.strip_prefix("LABEL=") {
        return Ok(DevSpec::Label(non_empty(v)?));
    }
    if let Some(v) = spec.strip_prefix("PARTUUID=") {
        return part_uuid(v);
    }
    if let Some(v) = spec.strip_prefix("PARTLABEL=") {
        return Ok(DevSpec::PartLabel(non_empty(v)?));
    }
    if let Some(v) = spec.strip_prefix("/dev/disk/by-uuid/") {
        return Ok(DevSpec::Uuid(uuid(v)?));
    }
    if let Some(v) = spec.strip_prefix("/dev/disk/by-label/") {
        return Ok(DevSpec::Label(non_empty(v)?));
    }
    if let Some(v) = spec.strip_prefix("/dev/disk/by-partuuid/") {
        return part_uuid(v);
    }
    if let Some(v) = spec.strip_prefix("/dev/disk/by-partlabel/") {
        return Ok(DevSpec::PartLabel(non_empty(v)?));
    }
    if let Some(name) = spec.strip_prefix("/dev/") {
        // (Not `contains("..")`: substring search costs 1 KiB.)
        if name.is_empty() || name.as_bytes().windows(2).any(|w| w == b"..") {
            return Err("not a device name under /dev/");
        }
        return Ok(DevSpec::Name(name));
    }
    if let Some((maj, rest)) = spec.split_once(':') {
        // A third `:n` field is accepted and ignored, as by the kernel.
        let min = rest.split_once(':').map_or(rest, |(m, _)| m);
        return match (parse_u32(maj), parse_u32(min)) {
            (Some(major), Some(minor)) => Ok(DevSpec::Number { major, minor }),
            _ => Err("MAJ:MIN needs two decimal numbers"),
        };
    }
    match parse_hex_u64(spec).and_then(|v| u32::try_from(v).ok()) {
        Some(dev) if dev != 0 => {
            let (major, minor) = decode_dev(dev);
            Ok(DevSpec::Number { major, minor })
        }
        _ => Err("expected /dev/NAME, UUID=, LABEL=, PARTUUID=, PARTLABEL=, MAJ:MIN or hex MMmm"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: [u8; 16] = [
        0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
    ];

    #[test]
    fn forms() {
        let ok: &[(&str, DevSpec)] = &[
            ("/dev/vda1", DevSpec::Name("vda1")),
            ("/dev/nvme0n1p2", DevSpec::Name("nvme0n1p2")),
            ("UUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789", DevSpec::Uuid(U)),
            ("UUID=0A1B2C3D-4E5F-6789-ABCD-EF0123456789", DevSpec::Uuid(U)),
            ("UUID=\"0a1b2c3d-4e5f-6789-abcd-ef0123456789\"", DevSpec::Uuid(U)),
            ("/dev/disk/by-uuid/0a1b2c3d-4e5f-6789-abcd-ef0123456789", DevSpec::Uuid(U)),
            ("LABEL=root", DevSpec::Label("root")),
            ("LABEL=\"my root\"", DevSpec::Label("my root")),
            ("/dev/disk/by-label/swap", DevSpec::Label("swap")),
            ("PARTLABEL=EFI system", DevSpec::PartLabel("EFI system")),
            (
                "PARTUUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789",
                DevSpec::PartUuid { id: PartId::Gpt(U), offset: 0 },
            ),
            (
                "PARTUUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789/PARTNROFF=1",
                DevSpec::PartUuid { id: PartId::Gpt(U), offset: 1 },
            ),
            (
                "PARTUUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789/PARTNROFF=-2",
                DevSpec::PartUuid { id: PartId::Gpt(U), offset: -2 },
            ),
            (
                "PARTUUID=cafe1234-02",
                DevSpec::PartUuid { id: PartId::Mbr { disk: 0xcafe1234, part: 2 }, offset: 0 },
            ),
            ("8:3", DevSpec::Number { major: 8, minor: 3 }),
            ("259:0:7", DevSpec::Number { major: 259, minor: 0 }),
            ("803", DevSpec::Number { major: 8, minor: 3 }),
            ("fd00", DevSpec::Number { major: 0xfd, minor: 0 }),
            // new_decode_dev: minor bits above 255 live above the major.
            ("1000f00", DevSpec::Number { major: 0xf, minor: 0x1000 }),
        ];
        for (s, want) in ok {
            assert_eq!(parse(s), Ok(*want), "{s}");
        }
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "sda1",
            "/dev/",
            "/dev/../etc/passwd",
            "UUID=",
            "UUID=xyz",
            "UUID=0a1b2c3d-4e5f-6789-abcd-ef01234567",
            "LABEL=",
            "LABEL=\"\"",
            "PARTLABEL=",
            "PARTUUID=cafe1234-zz",
            "PARTUUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789/PARTNROFF=x",
            "PARTUUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789/junk",
            "8:",
            ":3",
            "8:3x",
            "99999999999:1",
            "0",
            "123456789abcdef01",
            "garbage with spaces",
        ] {
            assert!(parse(s).is_err(), "{s:?} should be refused");
        }
    }
}
