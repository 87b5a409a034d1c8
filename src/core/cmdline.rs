//! The kernel command line, split the way the kernel splits it
//! (`lib/cmdline.c` `next_arg`), and the parameters resume-init acts on.
//!
//! Unknown parameters are ignored, as the kernel ignores the ones it does
//! not know; a known parameter with a bad value is recorded as a
//! [`Problem`] so that the init can say so in one line and go on with the
//! default.

use crate::text::{parse_i32, parse_u32, parse_u64};

/// One `name[=value]` word of the command line, quotes removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

/// Iterator over the parameters of a command line, as the kernel's
/// `next_arg` splits it: words separated by white space, double quotes
/// group white space, `=` splits name from value at its first occurrence,
/// and a bare `--` ends the kernel's part of the line.
pub struct Params<'a> {
    rest: &'a str,
}

/// The kernel's `isspace` for ASCII: space and `\t \n \v \f \r`
/// (Rust's `is_ascii_whitespace` leaves out `\v`).
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// Splits `line` into parameters (see [`Params`]).
pub fn params(line: &str) -> Params<'_> {
    Params { rest: line }
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let s = self.rest.trim_start_matches(|c: char| c.is_ascii() && (is_space(c as u8) || c == '\0'));
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut in_quote = false;
        let mut equals = None;
        while i < bytes.len() {
            let b = bytes[i];
            if is_space(b) && !in_quote {
                break;
            }
            if equals.is_none() && b == b'=' {
                equals = Some(i);
            }
            if b == b'"' {
                in_quote = !in_quote;
            }
            i += 1;
        }
        // i is at an ASCII space or the end: always a char boundary.
        let (word, rest) = s.split_at_checked(i).unwrap_or((s, ""));
        self.rest = rest;
        if word == "--" {
            self.rest = "";
            return None;
        }
        Some(split_word(word))
    }
}

/// Splits one word into name and value with the kernel's quote rules: a
/// leading quote on the word or on the value is dropped, and so is the
/// word's final quote when one of those was there. Quotes anywhere else
/// stay (`root=LABEL="my root"` keeps them for the device parser).
fn split_word(word: &str) -> Param<'_> {
    let body = word.strip_prefix('"');
    let quoted = body.is_some();
    let body = body.unwrap_or(word);
    let (name, value) = match body.split_once('=') {
        None => (body, None),
        Some((n, v)) => (n, Some(v)),
    };
    let value_quoted = value.is_some_and(|v| v.starts_with('"'));
    let value = value.map(|v| v.strip_prefix('"').unwrap_or(v));
    let strip_end = quoted || value_quoted;
    fn trim(s: &str, strip_end: bool) -> &str {
        if strip_end { s.strip_suffix('"').unwrap_or(s) } else { s }
    }
    match value {
        None => Param { name: trim(name, strip_end), value: None },
        Some(v) => Param { name, value: Some(trim(v, strip_end)) },
    }
}

/// What `resume_init=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Load the image ourselves through `/dev/snapshot` (the default).
    Userspace,
    /// Hand the device to the kernel's own loader via `/sys/power/resume`.
    Kernel,
    /// Boot fresh; any image found is invalidated.
    Skip,
}

/// How long to wait for a device to appear: the one deadline type of the
/// root (`rootwait`, `rootwait=N` as in Linux 6.5+), the resume device
/// and the LUKS devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Until the device appears.
    Forever,
    /// At most this many milliseconds.
    Ms(u64),
}

impl Deadline {
    /// The limit in whole seconds, for messages (0 for none).
    pub fn secs(self) -> u64 {
        match self {
            Deadline::Forever => 0,
            Deadline::Ms(ms) => ms / 1000,
        }
    }
}

/// A known parameter whose value could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem<'a> {
    pub param: &'a str,
    pub value: &'a str,
    pub why: &'static str,
}

/// A LUKS device to unlock before looking for the resume and root devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuksDevice<'a> {
    /// The LUKS UUID (`rd.luks.uuid=`, `rd.luks.name=UUID=…`), or for
    /// mkinitcpio's `cryptdevice=DEV:NAME` any device spec.
    pub uuid: &'a str,
    /// The mapping's name; `luks-UUID` when not given (systemd's rule).
    pub name: Option<&'a str>,
}

/// A keyfile inside the initramfs (`rd.luks.key=[UUID=]PATH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuksKey<'a> {
    /// The device it is for; `None`: every device.
    pub uuid: Option<&'a str>,
    pub path: &'a str,
}

/// Most LUKS devices and keyfiles taken from the command line.
pub const MAX_LUKS: usize = 8;

/// Most problems recorded; more are counted in [`Config::problems_dropped`].
pub const MAX_PROBLEMS: usize = 8;

/// The parameters resume-init understands, borrowed from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<'a> {
    pub root: Option<&'a str>,
    pub rootfstype: Option<&'a str>,
    pub rootflags: Option<&'a str>,
    /// `ro` (the default) or `rw`: the last one given wins, as in the kernel.
    pub read_only: bool,
    /// `rootwait` (for ever) or `rootwait=N`; `None`: not given.
    pub rootwait: Option<Deadline>,
    /// `rootdelay=` in seconds.
    pub rootdelay: Option<u32>,
    pub init: Option<&'a str>,
    pub resume: Option<&'a str>,
    /// `resume_offset=` in pages (swap files).
    pub resume_offset: Option<u64>,
    /// `resumewait`: wait until the resume device appears.
    pub resumewait: bool,
    /// `resumedelay=` in seconds, slept before looking for the device.
    pub resumedelay: Option<u32>,
    /// `noresume`: keeps the kernel's loader away; not a reason for us to skip.
    pub noresume: bool,
    /// `nohibernate` or `hibernate=no…`: the kernel refuses `/dev/snapshot`.
    pub nohibernate: bool,
    pub resume_mode: ResumeMode,
    pub debug: bool,
    /// `panic=N`: after a fatal error, reboot after N seconds (N > 0), at
    /// once (N < 0), or never (0, the default), as the kernel does on panic.
    pub panic: i32,
    /// `rd.luks.uuid=`, `rd.luks.name=`: devices to unlock, in order.
    pub luks: heapless::Vec<LuksDevice<'a>, MAX_LUKS>,
    pub luks_keys: heapless::Vec<LuksKey<'a>, MAX_LUKS>,
    /// `rd.luks.options=discard`: the mappings pass discards down.
    pub luks_discard: bool,
    /// `rd.luks=0`: unlock nothing.
    pub luks_off: bool,
    /// `rd.lvm.lv=VG/LV`, `rd.lvm.vg=VG`: only these are activated (all
    /// logical volumes found when neither is given).
    pub lvm_lvs: heapless::Vec<&'a str, MAX_LUKS>,
    pub lvm_vgs: heapless::Vec<&'a str, MAX_LUKS>,
    /// `rd.lvm=0`: activate nothing.
    pub lvm_off: bool,
    pub problems: heapless::Vec<Problem<'a>, MAX_PROBLEMS>,
    pub problems_dropped: usize,
}

impl Default for Config<'_> {
    fn default() -> Self {
        Config {
            root: None,
            rootfstype: None,
            rootflags: None,
            read_only: true,
            rootwait: None,
            rootdelay: None,
            init: None,
            resume: None,
            resume_offset: None,
            resumewait: false,
            resumedelay: None,
            noresume: false,
            nohibernate: false,
            resume_mode: ResumeMode::Userspace,
            debug: false,
            panic: 0,
            luks: heapless::Vec::new(),
            luks_keys: heapless::Vec::new(),
            luks_discard: false,
            luks_off: false,
            lvm_lvs: heapless::Vec::new(),
            lvm_vgs: heapless::Vec::new(),
            lvm_off: false,
            problems: heapless::Vec::new(),
            problems_dropped: 0,
        }
    }
}

impl<'a> Config<'a> {
    /// Parses a whole command line (the contents of `/proc/cmdline`).
    pub fn parse(line: &'a str) -> Config<'a> {
        let mut c = Config::default();
        for p in params(line) {
            c.apply(p);
        }
        c
    }

    /// The resume device, unless none was asked for (`resume=none` is the
    /// initramfs-tools way to say so).
    pub fn resume_device(&self) -> Option<&'a str> {
        self.resume.filter(|r| *r != "none")
    }

    fn problem(&mut self, param: &'a str, value: &'a str, why: &'static str) {
        if self.problems.push(Problem { param, value, why }).is_err() {
            self.problems_dropped += 1;
        }
    }

    fn add_luks(&mut self, p: Param<'a>, d: LuksDevice<'a>) {
        if let Some(old) = self.luks.iter_mut().find(|o| o.uuid.eq_ignore_ascii_case(d.uuid)) {
            old.name = d.name.or(old.name); // rd.luks.name after rd.luks.uuid names it
        } else if self.luks.push(d).is_err() {
            self.problem(p.name, p.value.unwrap_or(""), "one LUKS device too many");
        }
    }

    fn add_key(&mut self, p: Param<'a>, uuid: Option<&'a str>, path: &'a str) {
        if self.luks_keys.push(LuksKey { uuid, path }).is_err() {
            self.problem(p.name, path, "one keyfile too many");
        }
    }

    /// A non-empty value, or a problem recorded and `None`.
    fn text(&mut self, p: Param<'a>) -> Option<&'a str> {
        match p.value {
            Some(v) if !v.is_empty() => Some(v),
            _ => {
                self.problem(p.name, p.value.unwrap_or(""), "needs a value");
                None
            }
        }
    }

    fn number<T>(&mut self, p: Param<'a>, parse: fn(&str) -> Option<T>) -> Option<T> {
        let v = self.text(p)?;
        let n = parse(v);
        if n.is_none() {
            self.problem(p.name, v, "is not a decimal number in range");
        }
        n
    }

    /// One parameter, by family (the first family that knows it).
    fn apply(&mut self, p: Param<'a>) {
        let _ = self.apply_root(p) || self.apply_resume(p) || self.apply_luks(p) || self.apply_lvm(p) || self.apply_misc(p);
    }

    /// The root and the init: `root=`, `rootfstype=`, `rootwait`, `init=`, …; false if `p` is not one of them.
    fn apply_root(&mut self, p: Param<'a>) -> bool {
        match (p.name, p.value) {
            ("root", _) => self.root = self.text(p),
            ("rootfstype", _) => self.rootfstype = self.text(p),
            ("rootflags", _) => self.rootflags = self.text(p),
            ("ro", None) => self.read_only = true,
            ("rw", None) => self.read_only = false,
            ("rootwait", None) => self.rootwait = Some(Deadline::Forever),
            ("rootwait", Some(_)) => {
                if let Some(n) = self.number(p, parse_u32) {
                    self.rootwait = Some(Deadline::Ms(u64::from(n) * 1000));
                }
            }
            ("rootdelay", _) => self.rootdelay = self.number(p, parse_u32),
            ("init", _) => self.init = self.text(p),
            _ => return false,
        }
        true
    }

    /// The resume device and hibernation: `resume=`, `noresume`, `hibernate=`, `resume_init=`, …; false if `p` is not one of them.
    fn apply_resume(&mut self, p: Param<'a>) -> bool {
        match (p.name, p.value) {
            ("resumewait", None) => self.resumewait = true,
            ("resumedelay", _) => self.resumedelay = self.number(p, parse_u32),
            ("resume", _) => self.resume = self.text(p),
            ("resume_offset", _) => self.resume_offset = self.number(p, parse_u64),
            ("noresume", None) => self.noresume = true,
            ("nohibernate", None) => self.nohibernate = true,
            ("hibernate", Some(v)) => {
                // kernel/power/hibernate.c hibernate_setup(): prefix matches.
                if v.starts_with("noresume") {
                    self.noresume = true;
                } else if v.starts_with("nocompress") || v.starts_with("protect_image") {
                } else if v.starts_with("no") {
                    self.noresume = true;
                    self.nohibernate = true;
                }
            }
            ("resume_init", _) => {
                if let Some(v) = self.text(p) {
                    self.resume_mode = match v {
                        "userspace" => ResumeMode::Userspace,
                        "kernel" => ResumeMode::Kernel,
                        "skip" => ResumeMode::Skip,
                        _ => {
                            self.problem(p.name, v, "is not userspace, kernel or skip");
                            ResumeMode::Userspace
                        }
                    };
                }
            }
            _ => return false,
        }
        true
    }

    /// LUKS, as systemd, dracut and mkinitcpio spell it; false if `p` is not one of them.
    fn apply_luks(&mut self, p: Param<'a>) -> bool {
        match (p.name, p.value) {
            ("rd.luks.uuid" | "luks.uuid", _) => {
                if let Some(v) = self.text(p) {
                    // dracut writes rd.luks.uuid=luks-UUID too.
                    self.add_luks(p, LuksDevice { uuid: v.strip_prefix("luks-").unwrap_or(v), name: None });
                }
            }
            ("rd.luks.name" | "luks.name", _) => match self.text(p).map(|v| v.split_once('=')) {
                Some(Some((uuid, name))) if !uuid.is_empty() && !name.is_empty() && !name.contains('/') => {
                    self.add_luks(p, LuksDevice { uuid, name: Some(name) })
                }
                Some(_) => self.problem(p.name, p.value.unwrap_or(""), "is not UUID=NAME"),
                None => {}
            },
            ("rd.luks.key" | "luks.key", _) => {
                if let Some(v) = self.text(p) {
                    let (uuid, path) = match v.split_once('=') {
                        Some((u, path)) if !u.contains('/') => (Some(u), path),
                        _ => (None, v),
                    };
                    if path.contains(':') {
                        self.problem(p.name, v, "names a key device; put the keyfile into the initramfs instead (mkinitramfs.sh -f)");
                    } else if !path.starts_with('/') {
                        self.problem(p.name, v, "is not an absolute path inside the initramfs");
                    } else {
                        self.add_key(p, uuid, path);
                    }
                }
            }
            // mkinitcpio's encrypt hook: cryptdevice=DEV:NAME[:allow-discards],
            // cryptkey=rootfs:PATH (a keyfile in the initramfs).
            ("cryptdevice", _) => {
                if let Some((v, discard)) = self.text(p).map(|v| v.strip_suffix(":allow-discards").map_or((v, false), |v| (v, true))) {
                    match v.rsplit_once(':') {
                        Some((dev, name)) if !dev.is_empty() && !name.is_empty() && !name.contains('/') => {
                            self.luks_discard |= discard;
                            self.add_luks(p, LuksDevice { uuid: dev, name: Some(name) })
                        }
                        _ => self.problem(p.name, v, "is not DEVICE:NAME"),
                    }
                }
            }
            ("cryptkey", _) => match self.text(p).map(|v| (v, v.strip_prefix("rootfs:"))) {
                Some((_, Some(path))) if path.starts_with('/') => self.add_key(p, None, path),
                Some((v, _)) => self.problem(p.name, v, "is not rootfs:/PATH; put the keyfile into the initramfs (mkinitramfs.sh -f)"),
                None => {}
            },
            ("rd.luks.options" | "luks.options", _) => {
                if let Some(v) = self.text(p) {
                    let opts = v.split_once('=').map_or(v, |(_, o)| o);
                    self.luks_discard |= opts.split(',').any(|o| o == "discard" || o == "allow-discards");
                }
            }
            ("rd.luks" | "luks", Some(v)) => self.luks_off = matches!(v, "0" | "no" | "false"),
            _ => return false,
        }
        true
    }

    /// LVM: `rd.lvm.lv=`, `rd.lvm.vg=`, `rd.lvm=`; false if `p` is not one of them.
    fn apply_lvm(&mut self, p: Param<'a>) -> bool {
        match (p.name, p.value) {
            // (Not collapsed into the guard, as clippy suggests: a valid
            // VG/LV would then fall through to "is not VG/LV".)
            #[allow(clippy::collapsible_match)]
            ("rd.lvm.lv", _) => match self.text(p) {
                Some(v) if v.split_once('/').is_some_and(|(g, l)| !g.is_empty() && !l.is_empty() && !l.contains('/')) => {
                    if self.lvm_lvs.push(v).is_err() {
                        self.problem(p.name, v, "one logical volume too many");
                    }
                }
                Some(v) => self.problem(p.name, v, "is not VG/LV"),
                None => {}
            },
            ("rd.lvm.vg", _) => {
                if let Some(v) = self.text(p)
                    && self.lvm_vgs.push(v).is_err()
                {
                    self.problem(p.name, v, "one volume group too many");
                }
            }
            ("rd.lvm", Some(v)) => self.lvm_off = matches!(v, "0" | "no" | "false"),
            _ => return false,
        }
        true
    }

    /// `debug`, `panic=`; false if `p` is not one of them.
    fn apply_misc(&mut self, p: Param<'a>) -> bool {
        match (p.name, p.value) {
            ("debug", None) => self.debug = true,
            ("panic", _) => {
                if let Some(n) = self.number(p, parse_i32) {
                    self.panic = n;
                }
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parameter as the tests write it: name and value.
    type Pair<'a> = (&'a str, Option<&'a str>);

    fn split(line: &str) -> Vec<Pair<'_>> {
        params(line).map(|p| (p.name, p.value)).collect()
    }

    #[test]
    fn splits_like_the_kernel() {
        let cases: &[(&str, &[Pair])] = &[
            ("", &[]),
            ("   \n", &[]),
            ("ro", &[("ro", None)]),
            ("a=b c=d", &[("a", Some("b")), ("c", Some("d"))]),
            ("  a=b\t\tc  ", &[("a", Some("b")), ("c", None)]),
            ("a=b=c", &[("a", Some("b=c"))]),
            ("a=", &[("a", Some(""))]),
            ("a=\"b c\" d", &[("a", Some("b c")), ("d", None)]),
            ("\"a=b c\" d", &[("a", Some("b c")), ("d", None)]),
            ("\"quoted word\"", &[("quoted word", None)]),
            ("a=\"unterminated quote rest", &[("a", Some("unterminated quote rest"))]),
            ("a -- b=c d", &[("a", None)]),
            ("a=-- b", &[("a", Some("--")), ("b", None)]),
            ("a\x0bb\x0cc", &[("a", None), ("b", None), ("c", None)]),
            ("x=\"\"", &[("x", Some(""))]),
            ("root=LABEL=\"my root\" rw", &[("root", Some("LABEL=\"my root\"")), ("rw", None)]),
            ("\"", &[("", None)]),
        ];
        for (line, want) in cases {
            assert_eq!(split(line), *want, "line {line:?}");
        }
    }

    #[test]
    fn realistic_debian_line() {
        let line = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0a1b2c3d-0000-4000-8000-00000000abcd ro \
                    quiet splash resume=UUID=1111aaaa-2222-4333-8444-555566667777 resume_offset=34816 \
                    noresume console=ttyS0,115200n8 init=/lib/systemd/systemd rootflags=data=ordered,noatime \
                    rootfstype=ext4 rootdelay=3 rootwait resume_init=kernel loglevel=7 -- single";
        let c = Config::parse(line);
        assert_eq!(c.root, Some("UUID=0a1b2c3d-0000-4000-8000-00000000abcd"));
        assert!(c.read_only);
        assert_eq!(c.resume_device(), Some("UUID=1111aaaa-2222-4333-8444-555566667777"));
        assert_eq!(c.resume_offset, Some(34816));
        assert!(c.noresume);
        assert!(!c.nohibernate);
        assert_eq!(c.init, Some("/lib/systemd/systemd"));
        assert_eq!(c.rootflags, Some("data=ordered,noatime"));
        assert_eq!(c.rootfstype, Some("ext4"));
        assert_eq!(c.rootdelay, Some(3));
        assert_eq!(c.rootwait, Some(Deadline::Forever));
        assert_eq!(c.resume_mode, ResumeMode::Kernel);
        assert_eq!(c.panic, 0);
        assert!(c.problems.is_empty());
    }

    #[test]
    fn last_of_ro_rw_wins_and_defaults() {
        assert!(!Config::parse("ro rw").read_only);
        assert!(Config::parse("rw ro").read_only);
        let c = Config::parse("");
        assert!(c.read_only);
        assert_eq!(c.resume_mode, ResumeMode::Userspace);
        assert_eq!(c.root, None);
        assert_eq!(c.resume_device(), None);
        assert_eq!(c.rootwait, None);
        assert!(!c.resumewait);
    }

    #[test]
    fn waits() {
        assert_eq!(Config::parse("rootwait=5").rootwait, Some(Deadline::Ms(5000)));
        assert_eq!(Config::parse("rootwait=5 rootwait").rootwait, Some(Deadline::Forever));
        let c = Config::parse("resumewait resumedelay=2");
        assert!(c.resumewait);
        assert_eq!(c.resumedelay, Some(2));
    }

    #[test]
    fn panic_timeout() {
        assert_eq!(Config::parse("panic=10").panic, 10);
        assert_eq!(Config::parse("panic=-1").panic, -1);
        assert_eq!(Config::parse("panic=-1 panic=5").panic, 5, "the last one wins");
        assert_eq!(Config::parse("panic=99999999999").panic, 0);
    }

    #[test]
    fn flags_with_values_are_not_flags() {
        // `ro=1` is not `ro`; the kernel would not take it either.
        let c = Config::parse("rw ro=1 noresume=0");
        assert!(!c.read_only);
        assert!(!c.noresume);
    }

    #[test]
    fn resume_none_and_hibernate_options() {
        assert_eq!(Config::parse("resume=none").resume_device(), None);
        let c = Config::parse("hibernate=noresume");
        assert!(c.noresume && !c.nohibernate);
        let c = Config::parse("hibernate=nocompress");
        assert!(!c.noresume && !c.nohibernate);
        let c = Config::parse("hibernate=no");
        assert!(c.noresume && c.nohibernate);
        assert!(Config::parse("nohibernate").nohibernate);
    }

    #[test]
    fn bad_values_become_problems_and_keep_defaults() {
        let c = Config::parse(
            "resume= resume_offset=99999999999999999999999 rootdelay=soon resume_init=fast root panic=soon",
        );
        assert_eq!(c.resume, None);
        assert_eq!(c.resume_offset, None);
        assert_eq!(c.rootdelay, None);
        assert_eq!(c.resume_mode, ResumeMode::Userspace);
        assert_eq!(c.root, None);
        let why: Vec<_> = c.problems.iter().map(|p| (p.param, p.value, p.why)).collect();
        assert_eq!(
            why,
            vec![
                ("resume", "", "needs a value"),
                ("resume_offset", "99999999999999999999999", "is not a decimal number in range"),
                ("rootdelay", "soon", "is not a decimal number in range"),
                ("resume_init", "fast", "is not userspace, kernel or skip"),
                ("root", "", "needs a value"),
                ("panic", "soon", "is not a decimal number in range"),
            ]
        );
    }

    #[test]
    fn too_many_problems_are_counted() {
        let line = "rootdelay=x ".repeat(MAX_PROBLEMS + 3);
        let c = Config::parse(&line);
        assert_eq!(c.problems.len(), MAX_PROBLEMS);
        assert_eq!(c.problems_dropped, 3);
    }

    #[test]
    fn junk_does_not_disturb() {
        let c = Config::parse("\"\" = == === \"=\" \0 \u{e9}t\u{e9}=\u{fc} root=/dev/vda1 x=\"y");
        assert_eq!(c.root, Some("/dev/vda1"));
    }
}

#[cfg(test)]
mod luks_tests {
    use super::*;

    #[test]
    fn luks_parameters_as_systemd_dracut_and_booster_spell_them() {
        let c = Config::parse(
            "root=/dev/mapper/root rd.luks.uuid=1111-aa rd.luks.uuid=luks-2222-bb rd.luks.name=3333-cc=cryptswap \
             rd.luks.name=1111-AA=cryptroot rd.luks.key=/etc/keys/swap.key rd.luks.key=3333-cc=/k2 rd.luks.options=discard \
             resume=/dev/mapper/cryptswap",
        );
        assert_eq!(
            c.luks.as_slice(),
            [
                LuksDevice { uuid: "1111-aa", name: Some("cryptroot") },
                LuksDevice { uuid: "2222-bb", name: None },
                LuksDevice { uuid: "3333-cc", name: Some("cryptswap") },
            ]
        );
        assert_eq!(c.luks_keys.as_slice(), [LuksKey { uuid: None, path: "/etc/keys/swap.key" }, LuksKey { uuid: Some("3333-cc"), path: "/k2" }]);
        assert!(c.luks_discard && !c.luks_off);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert!(Config::parse("rd.luks=0").luks_off);
        let c = Config::parse("rd.lvm.lv=debian-vg/swap_1 rd.lvm.vg=rhel rd.lvm.lv=nolv rd.lvm=0");
        assert_eq!((c.lvm_lvs.as_slice(), c.lvm_vgs.as_slice(), c.lvm_off), (&["debian-vg/swap_1"][..], &["rhel"][..], true));
        assert_eq!(c.problems.iter().map(|p| p.why).collect::<Vec<_>>(), ["is not VG/LV"]);
        let bad = Config::parse("rd.luks.name=nouuid rd.luks.key=/k:/dev/sdb1 rd.luks.key=rel/k rd.luks.uuid=");
        let why: Vec<_> = bad.problems.iter().map(|p| (p.param, p.why)).collect();
        assert_eq!(
            why,
            [
                ("rd.luks.name", "is not UUID=NAME"),
                ("rd.luks.key", "names a key device; put the keyfile into the initramfs instead (mkinitramfs.sh -f)"),
                ("rd.luks.key", "is not an absolute path inside the initramfs"),
                ("rd.luks.uuid", "needs a value"),
            ]
        );
    }

    #[test]
    fn mkinitcpio_cryptdevice_and_cryptkey() {
        let c = Config::parse("cryptdevice=UUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789:cryptlvm cryptkey=rootfs:/crypto_keyfile.bin");
        assert_eq!(c.luks.as_slice(), [LuksDevice { uuid: "UUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789", name: Some("cryptlvm") }]);
        assert_eq!(c.luks_keys.as_slice(), [LuksKey { uuid: None, path: "/crypto_keyfile.bin" }]);
        assert!(!c.luks_discard && c.problems.is_empty());
        let c = Config::parse("cryptdevice=/dev/nvme0n1p2:root:allow-discards");
        assert_eq!(c.luks.as_slice(), [LuksDevice { uuid: "/dev/nvme0n1p2", name: Some("root") }]);
        assert!(c.luks_discard);
        let bad = Config::parse("cryptdevice=/dev/sda2 cryptdevice=/dev/sda2: cryptkey=/dev/sdb1:ext4:/key cryptkey=rootfs:rel");
        let why: Vec<_> = bad.problems.iter().map(|p| (p.param, p.why)).collect();
        assert_eq!(
            why,
            [
                ("cryptdevice", "is not DEVICE:NAME"),
                ("cryptdevice", "is not DEVICE:NAME"),
                ("cryptkey", "is not rootfs:/PATH; put the keyfile into the initramfs (mkinitramfs.sh -f)"),
                ("cryptkey", "is not rootfs:/PATH; put the keyfile into the initramfs (mkinitramfs.sh -f)"),
            ]
        );
        assert!(bad.luks.is_empty());
    }

}
