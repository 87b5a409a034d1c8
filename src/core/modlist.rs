//! The initramfs's module list (`/etc/resume-init/modules`, written by
//! `scripts/mkinitramfs.sh`) and matching its modules to the hardware
//! present, as udev does with `modules.alias`.
//!
//! One entry per line, in load order (dependencies first):
//! - `# kernel VERSION`: the kernel the modules were taken from;
//! - `/lib/modules/…/NAME.ko`: a module to load;
//! - `@PATTERN`: consecutive lines of these make the condition of the
//!   group of module lines that follows: it is loaded only when a device's
//!   `modalias` matches one of the patterns (the driver's aliases, shell
//!   glob patterns as in `modules.alias`); module lines before the first
//!   condition are loaded whatever the hardware;
//! - `# root`: the line between the two stages (what the resume needs,
//!   then the root's filesystems); the second stage has no conditions.
//!
//! Other lines starting with `#` are comments.

/// The stage line.
pub const ROOT_STAGE: &str = "# root";

/// What [`walk`] found on one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// `# kernel VERSION`.
    Kernel(&'a str),
    /// A module to load.
    Load(&'a str),
    /// A module of a group whose condition no device matched.
    LeftOut(&'a str),
}

/// Walks the lines of one stage (`root`: the second) and hands `each`
/// what to do with every module. `present(pattern)` says whether a device
/// matches an alias pattern; it is asked only while a group's condition is
/// undecided, in list order, so a caller can look at the devices again
/// after `each` has loaded something. `all` takes every group as matched.
pub fn walk<'a>(list: &'a str, root: bool, all: bool, mut present: impl FnMut(&str) -> bool, mut each: impl FnMut(Item<'a>)) {
    let mut lines = list.lines().map(str::trim_ascii);
    if root && lines.by_ref().all(|l| l != ROOT_STAGE) {
        return;
    }
    // `wanted` holds for the group being read; `in_condition` while
    // reading its `@` lines.
    let (mut wanted, mut in_condition) = (true, false);
    for line in lines.take_while(|l| *l != ROOT_STAGE) {
        if let Some(pattern) = line.strip_prefix('@') {
            if !in_condition {
                in_condition = true;
                wanted = all;
            }
            wanted = wanted || present(pattern);
            continue;
        }
        in_condition = false;
        if let Some(v) = line.strip_prefix("# kernel ") {
            each(Item::Kernel(v));
        } else if !line.is_empty() && !line.starts_with('#') {
            each(if wanted { Item::Load(line) } else { Item::LeftOut(line) });
        }
    }
}

/// Whether `s` matches the shell glob `pattern` (`*`, `?`, `[a-z]`,
/// `[!…]`), as fnmatch(3) without flags: what kmod uses for
/// `modules.alias`.
pub fn glob(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where the last `*` was, and how much of `s` it covers so far.
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, i));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(&c) => match class(&pattern[p..], s[i]) {
                Some((hit, len)) => hit.then_some(len),
                None => (c == s[i]).then_some(1),
            },
            None => None,
        };
        match (step, star) {
            (Some(n), _) => {
                p += n;
                i += 1;
            }
            // Let the last `*` take one more byte, and try again after it.
            (None, Some((after, from))) => {
                star = Some((after, from + 1));
                p = after;
                i = from + 1;
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// At a `[` of a pattern: whether `c` is in the bracket expression, and
/// its length; `None` for anything else, and for a `[` without its `]`
/// (a plain character then).
fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
    if p.first() != Some(&b'[') {
        return None;
    }
    let negated = matches!(p.get(1), Some(b'!' | b'^'));
    let mut j = 1 + usize::from(negated);
    let mut hit = false;
    // A `]` right after the opening is a member, not the end.
    let mut first = true;
    loop {
        let lo = *p.get(j)?;
        if lo == b']' && !first {
            break;
        }
        first = false;
        let (hi, len) = match (p.get(j + 1), p.get(j + 2)) {
            (Some(b'-'), Some(&hi)) if hi != b']' => (hi, 3),
            _ => (lo, 1),
        };
        hit |= (lo..=hi).contains(&c);
        j += len;
    }
    Some((hit != negated, j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, s: &str) -> bool {
        glob(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn globs_as_modules_alias_writes_them() {
        let virtio_pci_blk = "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00";
        assert!(g("pci:v00001AF4d00001001sv*sd*bc*sc*i*", virtio_pci_blk));
        assert!(!g("pci:v00001AF4d00001042sv*sd*bc*sc*i*", virtio_pci_blk));
        // ahci's class alias against an AHCI controller and a SCSI one.
        assert!(g("pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"));
        assert!(!g("pci:v*d*sv*sd*bc01sc06i01*", "pci:v00001AF4d00001004sv00001AF4sd00000008bc01sc00i00"));
        assert!(g("virtio:d00000002v*", "virtio:d00000002v00001AF4"));
        assert!(!g("virtio:d00000002v*", "virtio:d00000008v00001AF4"));
        assert!(g("of:N*T*Cvirtio,mmio", "of:NvirtioT(null)Cvirtio,mmio"));
        assert!(g("of:N*T*Cvirtio,mmioC*", "of:NvirtioT(null)Cvirtio,mmioCfoo"));
        assert!(g("acpi*:LNRO0005:*", "acpi:LNRO0005:"));
    }

    #[test]
    fn globs_with_classes_and_question_marks() {
        // usb-storage's bcdDevice ranges.
        assert!(g("usb:v0421p0019d0[5-5]*dc*", "usb:v0421p0019d0592dc00"));
        assert!(!g("usb:v0421p0019d0[5-5]*dc*", "usb:v0421p0019d0492dc00"));
        assert!(g("a[!b]c", "axc") && !g("a[!b]c", "abc") && g("a[^b]c", "acc"));
        assert!(g("a[]x]c", "a]c") && g("a[]x]c", "axc") && !g("a[]x]c", "ayc"));
        assert!(g("a[-x]c", "a-c") && g("a[x-]c", "a-c"));
        assert!(g("a[bc", "a[bc"), "a [ without ] is itself");
        assert!(g("a?c", "abc") && !g("a?c", "ac"));
        assert!(g("*", "") && g("**", "x") && g("", "") && !g("", "x"));
        assert!(g("*b*b*", "abxbx") && !g("*b*b*c", "abxbx"));
        assert!(g("a*", "a") && !g("a*b", "a"));
    }

    #[test]
    fn walks_groups_by_their_conditions() {
        let list = "# kernel 6.12.1\n\
                    /m/dm_mod.ko\n\
                    /m/xts.ko\n\
                    @virtio:d00000002v*\n\
                    /m/virtio_blk.ko\n\
                    @pci:v*d*sv*sd*bc01sc06i01*\n\
                    @pci:v00008086d00002922sv*sd*bc*sc*i*\n\
                    /m/libata.ko\n\
                    /m/ahci.ko\n\
                    @virtio:d00000008v*\n\
                    /m/scsi_mod.ko\n\
                    /m/virtio_scsi.ko\n\
                    # root\n\
                    /m/ext4.ko\n";
        let devices = ["virtio:d00000002v00001AF4", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"];
        let mut asked = 0;
        let mut got = [""; 16];
        let mut n = 0;
        walk(
            list,
            false,
            false,
            |p| {
                asked += 1;
                devices.iter().any(|d| glob(p.as_bytes(), d.as_bytes()))
            },
            |it| {
                got[n] = match it {
                    Item::Kernel(v) => v,
                    Item::Load(m) => m,
                    Item::LeftOut(m) => if m.contains("scsi") { "out" } else { "wrong" },
                };
                n += 1;
            },
        );
        assert_eq!(&got[..n], ["6.12.1", "/m/dm_mod.ko", "/m/xts.ko", "/m/virtio_blk.ko", "/m/libata.ko", "/m/ahci.ko", "out", "out"]);
        // The ahci group is decided at its first pattern.
        assert_eq!(asked, 3);

        let mut loads = 0;
        walk(list, false, true, |_| false, |it| loads += usize::from(matches!(it, Item::Load(_))));
        assert_eq!(loads, 7, "all: every group");
        let mut root = [""; 2];
        let mut k = 0;
        walk(list, true, false, |_| unreachable!(), |it| {
            if let Item::Load(m) = it {
                root[k] = m;
                k += 1;
            }
        });
        assert_eq!(&root[..k], ["/m/ext4.ko"]);
        let mut none = 0;
        walk("/m/a.ko\n", true, false, |_| true, |_| none += 1);
        assert_eq!(none, 0, "a list without stages has no second");
    }
}
