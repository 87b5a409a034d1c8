//! Where the image is looked for: one decision over the three places that
//! can name it, in the order initramfs tools give them precedence.
//!
//! 1. the command line's `resume=` (and `resume_offset=`); `resume=none`
//!    means no resume, but an image the other two places name is still
//!    looked for, to be discarded: a filesystem must never be mounted
//!    under an image that a later boot could restore;
//! 2. the device stored in the initramfs, as initramfs-tools keeps it in
//!    `conf/conf.d/resume` (`RESUME=`, `RESUME_OFFSET=`);
//! 3. systemd's `HibernateLocation` EFI variable, used only when the
//!    kernel that hibernated is the running one.
//!
//! The system side reads the stored text and the variable and acts on the
//! answer; nothing here reads or writes anything.

use core::fmt;

use crate::cmdline::Config;
use crate::devspec::{self, DevSpec, SpecError};
use crate::efi::Location;
use crate::text::parse_u64;

/// Which place named the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    /// `conf/conf.d/resume` in the initramfs.
    Stored,
    /// The `HibernateLocation` EFI variable.
    Efi,
}

/// The device as its place wrote it, for messages (`resume=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text<'a> {
    /// A device specification as given (`UUID=…`, `/dev/vdb`).
    Given(&'a str),
    /// A UUID alone, as the EFI variable holds it.
    Uuid(&'a str),
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Given(s) => f.write_str(s),
            Text::Uuid(u) => write!(f, "UUID={u}"),
        }
    }
}

/// Where to look for the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source<'a> {
    pub text: Text<'a>,
    /// The page of the header on the device (a swap file's first page).
    pub offset: u64,
    pub origin: Origin,
    /// `resume=none`: an image found here is discarded, never restored.
    pub discard_only: bool,
}

impl<'a> Source<'a> {
    /// The device specification, or why it cannot be understood.
    pub fn spec(&self) -> Result<DevSpec<'a>, SpecError> {
        match self.text {
            Text::Given(s) => devspec::parse(s),
            Text::Uuid(u) => devspec::parse_uuid_value(u).map(DevSpec::Uuid),
        }
    }
}

/// What became of the EFI variable (it is removed whatever it said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EfiUse {
    Used,
    /// Written by another kernel (its `kernelVersion`).
    OtherKernel,
    /// The command line or the initramfs named a device already.
    Superseded,
    /// Not the JSON systemd writes.
    Unreadable,
}

impl EfiUse {
    /// The words of the message.
    pub fn words(self) -> &'static str {
        match self {
            EfiUse::Used => "used",
            EfiUse::OtherKernel => "from another kernel, not used",
            EfiUse::Superseded => "resume device given, not used",
            EfiUse::Unreadable => "not the JSON systemd writes",
        }
    }
}

/// `RESUME=` and `RESUME_OFFSET=` of initramfs-tools' `conf.d/resume`
/// text (quotes allowed, as the shell reads it).
pub fn stored(text: &str) -> (Option<&str>, Option<u64>) {
    let (mut dev, mut offset) = (None, None);
    for (k, v) in text.lines().filter_map(|l| l.split_once('=')) {
        let v = v.trim_ascii();
        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
        match k.trim_ascii() {
            "RESUME" if !v.is_empty() => dev = Some(v),
            "RESUME_OFFSET" => offset = parse_u64(v),
            _ => {}
        }
    }
    (dev, offset)
}

/// The one decision. `stored` is the `conf.d/resume` text, if the
/// initramfs has one; `efi` what the variable held (`Some(None)`: a
/// variable that is not systemd's JSON), if there is one; `kernel` the
/// running kernel's release. Returns where to look (`None`: nowhere) and,
/// when there was a variable, what became of it.
pub fn choose<'a>(cfg: &Config<'a>, stored_text: Option<&'a str>, efi: Option<Option<Location<'a>>>, kernel: &[u8]) -> (Option<Source<'a>>, Option<EfiUse>) {
    let none = cfg.resume == Some("none");
    let mut source = cfg.resume.filter(|_| !none).map(|r| Source { text: Text::Given(r), offset: cfg.resume_offset.unwrap_or(0), origin: Origin::CommandLine, discard_only: false });
    if source.is_none()
        && let (Some(dev), offset) = stored_text.map_or((None, None), stored)
    {
        source = Some(Source { text: Text::Given(dev), offset: cfg.resume_offset.or(offset).unwrap_or(0), origin: Origin::Stored, discard_only: none });
    }
    let efi_use = efi.map(|loc| match loc {
        None => EfiUse::Unreadable,
        Some(l) if l.kernel.is_some_and(|k| k.as_bytes() != kernel) => EfiUse::OtherKernel,
        Some(_) if source.is_some() || none => EfiUse::Superseded,
        Some(l) => {
            source = Some(Source { text: Text::Uuid(l.uuid), offset: l.offset, origin: Origin::Efi, discard_only: false });
            EfiUse::Used
        }
    });
    // A stored `RESUME=none`: none at all.
    (source.filter(|s| s.text != Text::Given("none")), efi_use)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "# comment\nRESUME=UUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789\nRESUME_OFFSET=\"34816\"\n";
    const UUID: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

    fn loc(kernel: Option<&str>) -> Option<Option<Location<'_>>> {
        Some(Some(Location { uuid: "11111111-2222-4333-8444-555555555555", offset: 7, kernel }))
    }

    #[test]
    fn initramfs_tools_resume_conf() {
        assert_eq!(stored(CONF), (Some("UUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789"), Some(34816)));
        let cfg = Config::parse("root=/dev/vda");
        let (s, _) = choose(&cfg, Some(CONF), None, b"6.1");
        let s = s.unwrap();
        assert_eq!((s.origin, s.offset, s.spec()), (Origin::Stored, 34816, devspec::parse("UUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789")));
        assert_eq!(s.text.to_string(), format!("UUID={UUID}"));
        // An empty RESUME= names nothing.
        assert_eq!(choose(&cfg, Some("RESUME=\nOTHER=x\n"), None, b"6.1"), (None, None));
    }

    #[test]
    fn the_command_line_wins_and_none_means_none() {
        let cfg = Config::parse("resume=/dev/sda2 resume_offset=9");
        let (s, e) = choose(&cfg, Some(CONF), loc(Some("6.1")), b"6.1");
        assert_eq!(s, Some(Source { text: Text::Given("/dev/sda2"), offset: 9, origin: Origin::CommandLine, discard_only: false }));
        assert_eq!(e, Some(EfiUse::Superseded));
        // resume=none: the stored place is still looked at, to discard
        // an image there; the EFI variable is not used.
        let cfg = Config::parse("resume=none");
        let (s, e) = choose(&cfg, Some(CONF), loc(None), b"6.1");
        assert_eq!((s.map(|s| (s.origin, s.discard_only)), e), (Some((Origin::Stored, true)), Some(EfiUse::Superseded)));
        assert_eq!(choose(&cfg, None, None, b"6.1"), (None, None));
        assert_eq!(choose(&Config::parse(""), Some("RESUME=none\n"), None, b"6.1"), (None, None));
        // The stored device with the command line's offset.
        let cfg = Config::parse("resume_offset=5");
        assert_eq!(choose(&cfg, Some(CONF), None, b"6.1").0.map(|s| s.offset), Some(5));
    }

    #[test]
    fn the_efi_variable_for_this_kernel_only() {
        let cfg = Config::parse("root=/dev/vda");
        let (s, e) = choose(&cfg, None, loc(Some("6.1.0-57-amd64")), b"6.1.0-57-amd64");
        let s = s.unwrap();
        assert_eq!((s.origin, s.offset, e), (Origin::Efi, 7, Some(EfiUse::Used)));
        assert_eq!(s.spec(), Ok(DevSpec::Uuid(crate::text::parse_uuid("11111111-2222-4333-8444-555555555555").unwrap())));
        assert_eq!(s.text.to_string(), "UUID=11111111-2222-4333-8444-555555555555");
        assert_eq!(choose(&cfg, None, loc(Some("6.12.1")), b"6.1.0-57-amd64"), (None, Some(EfiUse::OtherKernel)));
        assert_eq!(choose(&cfg, None, Some(None), b"6.1"), (None, Some(EfiUse::Unreadable)));
        // No kernelVersion: systemd before 255 wrote none; used.
        assert_eq!(choose(&cfg, None, loc(None), b"6.1").1, Some(EfiUse::Used));
        // The stored device wins over the variable.
        assert_eq!(choose(&cfg, Some(CONF), loc(None), b"6.1").1, Some(EfiUse::Superseded));
    }
}
