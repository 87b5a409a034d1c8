//! Unlocking the LUKS2 devices the command line names (`rd.luks.uuid=`,
//! `rd.luks.name=`), before the resume and root devices are looked for,
//! so `resume=` and `root=` can name what is inside. The way of
//! cryptsetup, without it: the header read and checked by
//! `resume_init::luks`; a key from a keyfile in the initramfs, the
//! passphrase that opened the device before, or the console (no time
//! limit: an image may be waiting behind it); each keyslot's material
//! decrypted by the kernel through a temporary read-only dm-crypt
//! mapping; the data mapping made with the volume key. Nothing is ever
//! written to the LUKS device itself.

use core::fmt::Write;

use resume_init::cmdline::{Config, LuksDevice};
use resume_init::devspec::DevSpec;
use resume_init::json::Token;
use resume_init::luks::{self, BIN_SIZE, KeyArg, KeySource, Keyslot, MAX_HDR, MAX_KEY, Meta};
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::device::{self, Deadline, Device, Miss, Nodes};
use crate::dm::{Control, Target};
use crate::error::E;
use crate::log::{error, info, warning};
use crate::sys::Anon;
use zeroize::Zeroizing;

/// How long to wait for a LUKS device to appear.
const WAIT_MS: u64 = 10_000;
/// The temporary mapping that shows a keyslot's decrypted material.
const KEYSLOT_MAPPING: &str = "resume-init-keyslot";
/// The kernel keyring name of a keyslot's area key, while it is mapped.
const KEYSLOT_KEY: &str = "resume-init:keyslot";
/// The largest keyfile taken, whole, as cryptsetup takes it (its
/// `--keyfile-size` default limit); a larger one is refused.
const MAX_KEYFILE: u64 = 8 << 20;
/// The longest passphrase typed on the console (cryptsetup's limit).
const MAX_PASSPHRASE: usize = 512;
/// How long one keyslot's KDF may run: cryptsetup sizes it for about 2 s
/// on the machine that made it; a crafted header must not hold the boot.
const KDF_TIME_LIMIT_MS: u64 = 300_000;
/// Argon2 may use this share of `MemAvailable`, at most.
const KDF_MEMORY_SHARE: u64 = 3; // one third

type MapName = heapless::String<64>;

/// A passphrase or keyfile's bytes, in a mapping of its own (a keyfile
/// may be megabytes), wiped when dropped (`Anon` wipes its pages).
struct Key {
    mem: Anon,
    len: usize,
}

impl Key {
    fn with_capacity(n: usize) -> Result<Key, Errno> {
        Ok(Key { mem: Anon::new(n)?, len: 0 })
    }

    fn bytes(&mut self) -> &[u8] {
        &self.mem.bytes()[..self.len]
    }

    /// Appends a byte; false when full.
    fn push(&mut self, b: u8) -> bool {
        let Some(slot) = self.mem.bytes().get_mut(self.len) else { return false };
        *slot = b;
        self.len += 1;
        true
    }
}

/// Unlocks every configured device; failures are reported and skipped
/// (whatever needed the device then says it is missing).
pub fn unlock_all(cfg: &Config) {
    if cfg.luks.is_empty() {
        return;
    }
    if cfg.luks_off {
        info!("rd.luks=0: not unlocking the {} LUKS device(s) named", cfg.luks.len());
        return;
    }
    let Some(ctl) = Control::open_to("unlock LUKS devices", "dm_mod and dm_crypt") else { return };
    let mut cached = None;
    for d in &cfg.luks {
        unlock(cfg, &ctl, d, &mut cached);
    }
}

fn unlock(cfg: &Config, ctl: &Control, d: &LuksDevice, cached: &mut Option<Key>) {
    // rd.luks.* name a UUID; cryptdevice= any device (UUID=, /dev/…).
    let (spec, shown) = match resume_init::text::parse_uuid(d.uuid) {
        Some(u) => (DevSpec::Uuid(u), "UUID="),
        None => match resume_init::devspec::parse(d.uuid) {
            Ok(s) => (s, ""),
            Err(why) => return error!("LUKS device {}: {why}; skipped", d.uuid),
        },
    };
    let mut name = MapName::new();
    let _ = match d.name {
        Some(n) => name.push_str(n).map_err(|_| ()),
        None => write!(name, "luks-{}", d.uuid).map_err(|_| ()),
    };
    let dev = match device::wait_for("LUKS", d.uuid, &spec, Deadline::Ms(WAIT_MS)) {
        Ok(dev) => dev,
        Err(Miss::None) => return error!("LUKS device {shown}{} did not appear within {} s; /dev/mapper/{name} will be missing", d.uuid, WAIT_MS / 1000),
        Err(Miss::Several(all)) => {
            // A key must not go to a copy, nor a passphrase to a look-alike.
            return error!("LUKS device {shown}{} is on several devices ({}); not unlocking any: remove the copy or name the device by path; /dev/mapper/{name} will be missing", d.uuid, Nodes(&all));
        }
    };
    let node = dev.node();
    let fail = |why: &dyn core::fmt::Display| error!("cannot unlock {node} ({shown}{}): {why}; /dev/mapper/{name} will be missing", d.uuid);
    let meta = match read_meta(&dev) {
        Ok(m) => m,
        Err(why) => return fail(&why),
    };
    for (n, why) in &meta.refused {
        warning!("keyslot {n} of {node} (LUKS UUID={}) not used: {why}", meta.uuid);
    }
    let Ok(fd) = dev.open(OFlags::RDONLY) else { return fail(&"cannot open it") };
    let dev_bytes = rustix::fs::seek(&fd, rustix::fs::SeekFrom::End(0)).unwrap_or(0);
    drop(fd);

    let mut vk = Zeroizing::new([0u8; MAX_KEY]);
    let (slot, how) = match volume_key(cfg, ctl, &dev, &meta, &name, cached, &mut vk) {
        Ok(opened) => opened,
        Err(NoKey::Unusable) => return fail(&"none of its keyslots can be used here (see above)"),
        Err(NoKey::NoConsole) => return fail(&"no key fits and there is no console to ask on"),
    };
    let key = &vk[..meta.keyslots.iter().find(|k| k.id == slot).map_or(0, |k| k.key_size)];
    let discard = cfg.luks_discard || meta.allow_discards;
    let mut uuid_text = heapless::String::<160>::new();
    let _ = write!(uuid_text, "CRYPT-LUKS{}-", meta.version);
    for c in meta.uuid.chars().filter(|c| *c != '-') {
        let _ = uuid_text.push(c.to_ascii_lowercase());
    }
    let _ = write!(uuid_text, "-{name}");
    // cryptsetup's name for the volume key in the keyring.
    let mut desc = heapless::String::<64>::new();
    let _ = write!(desc, "cryptsetup:{}-d0", meta.uuid);
    let made = map_crypt(ctl, &name, &uuid_text, key, &desc, false, |k| luks::crypt_params(&meta.segment, k, (dev.major, dev.minor), dev_bytes, discard));
    drop(vk);
    match made {
        Ok(m) => {
            crate::dm::udev_record(&m, &name, None);
            info!("unlocked {node} (LUKS{} UUID={}) with keyslot {slot} ({}) as /dev/mapper/{name} ({})", meta.version, meta.uuid, how.words(), m.node());
        }
        Err(MapError::Params) => fail(&"its data segment does not fit the device"),
        Err(MapError::Dm(e)) => error!("cannot map {node} as {name}: {e}; /dev/mapper/{name} will be missing"),
    }
}

/// Why no key opened a container.
enum NoKey {
    /// No keyslot can even be tried here (each said why).
    Unusable,
    /// No key fitted and there is no console to ask on.
    NoConsole,
}

/// Tries keys in `luks::KeyOrder`'s order until one opens a keyslot. The
/// volume key is left in `vk`; a passphrase that worked is kept in
/// `cached` for the next container.
fn volume_key<'c>(cfg: &Config<'c>, ctl: &Control, dev: &Device, meta: &Meta, name: &str, cached: &mut Option<Key>, vk: &mut [u8; MAX_KEY]) -> Result<(u32, KeySource<'c>), NoKey> {
    let node = dev.node();
    let mut order = luks::KeyOrder::new(&cfg.luks_keys, &meta.uuid, cached.is_some());
    loop {
        let source = order.next_source().ok_or(NoKey::Unusable)?;
        let mut key = match source {
            KeySource::Keyfile(path) => match read_keyfile(path) {
                Ok(key) => key,
                Err(why) => {
                    warning!("cannot use keyfile {path}: {why}");
                    continue;
                }
            },
            KeySource::Cached => match cached.take() {
                Some(c) => c,
                None => continue,
            },
            KeySource::Console => {
                let mut prompt = heapless::String::<160>::new();
                let _ = write!(prompt, "Passphrase for {node} ({name}): ");
                ask(&prompt).ok_or(NoKey::NoConsole)?
            }
        };
        match (try_key(ctl, dev, meta, key.bytes(), vk), source) {
            (Ok(slot), KeySource::Keyfile(_)) => return Ok((slot, source)),
            (Ok(slot), _) => {
                *cached = Some(key); // an older one is wiped as it drops
                return Ok((slot, source));
            }
            (Err(_), KeySource::Cached) => *cached = Some(key),
            (Err(tried), KeySource::Keyfile(path)) => {
                order.failed(tried);
                warning!("keyfile {path} does not open {node} (UUID={})", meta.uuid);
            }
            (Err(tried), KeySource::Console) => {
                order.failed(tried);
                if tried {
                    warning!("wrong passphrase for {node}; try again");
                }
            }
        }
    }
}

/// Why [`map_crypt`] made no mapping.
enum MapError {
    /// The table could not be written (the segment does not fit).
    Params,
    Dm(crate::dm::DmError),
}

/// Whether the kernel keyring was found missing once (said once).
static NO_KEYRING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Makes the `crypt` mapping `name` whose table `params` writes, handing
/// `key` to dm-crypt as a `logon` key named `desc` in the kernel keyring
/// (as cryptsetup 2 does: the table, which `dmsetup table --showkeys`
/// shows for the whole uptime, names the key instead of holding it). The
/// keyring key is invalidated as soon as dm-crypt has taken its copy.
/// Where the kernel has no keyring, the key goes into the table in hex,
/// with a warning.
fn map_crypt(
    ctl: &Control,
    name: &str,
    uuid: &str,
    key: &[u8],
    desc: &str,
    read_only: bool,
    params: impl Fn(KeyArg) -> Option<(u64, luks::Params)>,
) -> Result<Device, MapError> {
    let logon = match crate::sys::LogonKey::add(desc, key) {
        Ok(k) => Some(k),
        Err(e) => {
            if !NO_KEYRING.swap(true, core::sync::atomic::Ordering::Relaxed) {
                warning!("the kernel keyring refused a key ({}): dm-crypt gets volume keys in its table, where dmsetup table --showkeys shows them", E(e));
            }
            None
        }
    };
    let arg = if logon.is_some() { KeyArg::Logon { size: key.len(), desc } } else { KeyArg::Hex(key) };
    let (len, p) = params(arg).ok_or(MapError::Params)?;
    let made = ctl.create(name, uuid, &[Target { start: 0, len, kind: "crypt", params: p.as_str() }], read_only);
    drop(logon);
    made.map_err(MapError::Dm)
}

/// Why a header could not be read: a step here, or what the reader said.
enum MetaError {
    Text(&'static str),
    Luks(luks::Error),
}

impl core::fmt::Display for MetaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MetaError::Text(t) => f.write_str(t),
            MetaError::Luks(e) => e.fmt(f),
        }
    }
}

/// Reads and checks both header copies (the valid one with the higher
/// sequence number wins, as in cryptsetup) and parses the metadata.
fn read_meta(dev: &Device) -> Result<Meta, MetaError> {
    let fd = dev.open(OFlags::RDONLY).map_err(|_| MetaError::Text("cannot open it"))?;
    let mut buf = Anon::new(MAX_HDR).map_err(|_| MetaError::Text("no memory for its header"))?;
    let buf = buf.bytes();
    let read_copy = |buf: &mut [u8], at: u64| -> Option<luks::BinHeader> {
        let head = buf.get_mut(..BIN_SIZE)?;
        crate::fsutil::pread_full(&fd, head, at).ok().filter(|&n| n == BIN_SIZE)?;
        let size = usize::try_from(resume_init::bytes::be64(buf, 8)?).ok()?;
        let all = buf.get_mut(..size)?; // larger than MAX_HDR: not read
        crate::fsutil::pread_full(&fd, all, at).ok().filter(|&n| n == size)?;
        luks::check_copy(all, at)
    };
    // The primary copy, then the first secondary one found; the buffer is
    // read again only if the winner is not the copy it holds.
    let primary = read_copy(buf, 0);
    let version = if primary.is_some() { Some(2) } else { luks::version(buf) };
    if version == Some(1) {
        return luks::parse_luks1(buf).map_err(|e| match e {
            luks::Error::NoKeyslot => MetaError::Text("no active LUKS1 keyslot"),
            e => MetaError::Luks(e),
        });
    }
    let mut holds = primary.as_ref().map(|_| 0u64);
    let mut best = primary.map(|h| (0u64, h));
    for &at in luks::SECONDARY_AT.iter() {
        holds = None;
        if let Some(h) = read_copy(buf, at) {
            holds = Some(at);
            if best.as_ref().is_none_or(|(_, b)| h.seqid > b.seqid) {
                best = Some((at, h));
            }
            break;
        }
    }
    let (at, h) = best.ok_or(MetaError::Text(if version.is_none() { "no LUKS header" } else { "no valid LUKS2 header (damaged?)" }))?;
    if holds != Some(at) {
        read_copy(buf, at).ok_or(MetaError::Text("its header changed while being read"))?;
    }
    let text = luks::json_text(buf, &h).map_err(MetaError::Luks)?;
    let mut toks = [Token::EMPTY; luks::MAX_TOKENS];
    let mut meta = luks::parse_meta(text, &mut toks).map_err(MetaError::Luks)?;
    meta.uuid = h.uuid;
    Ok(meta)
}

/// A keyfile, whole, as cryptsetup reads it: never cut; one larger than
/// [`MAX_KEYFILE`] is refused.
fn read_keyfile(path: &str) -> Result<Key, heapless::String<96>> {
    let why = |e: Errno| {
        let mut s = heapless::String::new();
        let _ = write!(s, "{}", E(e));
        s
    };
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, rustix::fs::Mode::empty()).map_err(why)?;
    let size = rustix::fs::fstat(&fd).map_err(why)?.st_size as u64;
    if size > MAX_KEYFILE {
        let mut s = heapless::String::new();
        let _ = write!(s, "{size} bytes, larger than the {} MiB limit (cryptsetup's default)", MAX_KEYFILE >> 20);
        return Err(s);
    }
    let mut k = Key::with_capacity(size as usize).map_err(why)?;
    let n = crate::fsutil::pread_full(&fd, &mut k.mem.bytes()[..size as usize], 0).map_err(why)?;
    if n as u64 != size {
        return Err(why(Errno::IO));
    }
    k.len = n;
    Ok(k)
}

/// Tries `pass` on every keyslot; on success the volume key is in `vk`
/// and the keyslot's number is returned. `Err(false)`: no keyslot could
/// even be tried (each said why), so asking again is pointless.
fn try_key(ctl: &Control, dev: &Device, meta: &Meta, pass: &[u8], vk: &mut [u8; MAX_KEY]) -> Result<u32, bool> {
    let mut tried = false;
    for slot in &meta.keyslots {
        match open_slot(ctl, dev, meta, slot, pass, vk) {
            Some(true) => return Ok(slot.id),
            Some(false) => tried = true,
            None => {}
        }
    }
    Err(tried)
}

/// Whether `pass` opens `slot`; `None` (and why, said) if it cannot be tried.
fn open_slot(ctl: &Control, dev: &Device, meta: &Meta, slot: &Keyslot, pass: &[u8], vk: &mut [u8; MAX_KEY]) -> Option<bool> {
    let node = dev.node();
    let kib = slot.kdf_memory_kib();
    let avail = mem_available_kib();
    if u64::from(kib) > avail / KDF_MEMORY_SHARE {
        warning!("keyslot {} of {node}: Argon2 needs {} MiB, more than a third of the {} MiB available; skipped", slot.id, kib / 1024, avail / 1024);
        return None;
    }
    let mut dk = Zeroizing::new([0u8; MAX_KEY]);
    let t0 = crate::clock::now_ms();
    // In a child process: if the KDF's memory runs out, the OOM killer
    // takes the child, not PID 1.
    let derived = crate::sys::in_child(&mut dk[..], KDF_TIME_LIMIT_MS, |out| {
        let _ = crate::fsutil::write_str("/proc/self/oom_score_adj", "1000");
        Anon::new(kib as usize * 1024).is_ok_and(|mut mem| luks::derive(slot, pass, mem.blocks(), out).is_ok())
    });
    if let Err(end) = derived {
        let why = match end {
            crate::sys::ChildEnd::Killed(9) => "killed, out of memory",
            crate::sys::ChildEnd::NotStarted(_) => "cannot fork for it",
            crate::sys::ChildEnd::TimedOut => "still running after 5 minutes; stopped",
            _ => "parameters out of range, or no memory for them",
        };
        warning!("keyslot {} of {node}: its KDF failed ({why})", slot.id);
        return None;
    }
    crate::log::debug!("keyslot {}: KDF took {} ms", slot.id, crate::clock::now_ms() - t0);
    let material = read_material(ctl, dev, slot, &dk[..slot.area_key_size]);
    drop(dk);
    let mut material = material?;
    let key = &mut vk[..slot.key_size];
    luks::af_merge(&material.bytes()[..slot.material_len()], slot.stripes, key);
    drop(material);
    Some(meta.is_volume_key(key))
}

/// The keyslot's key material, decrypted by dm-crypt through a temporary
/// read-only mapping of its area (cryptsetup's way without a user-space
/// cipher), read with `O_DIRECT` so that no copy stays in the page cache;
/// the mapping is removed before this returns, and a mapping that cannot
/// be removed is a failure (the material would stay readable).
fn read_material(ctl: &Control, dev: &Device, slot: &Keyslot, key: &[u8]) -> Option<Anon> {
    let m = match map_crypt(ctl, KEYSLOT_MAPPING, "", key, KEYSLOT_KEY, true, |k| luks::area_params(slot, k, (dev.major, dev.minor))) {
        Ok(m) => m,
        Err(MapError::Params) => return None,
        Err(MapError::Dm(e)) => {
            warning!("keyslot {} of {}: {e} (cipher {}; is its kernel module in the initramfs?)", slot.id, dev.node(), slot.area_cipher);
            return None;
        }
    };
    let n = slot.material_len();
    let mut out = Anon::new(n).ok();
    // `Anon` is page-aligned and `n` whole 512-byte sectors: enough for
    // O_DIRECT unless the disk's logical sectors are larger (4 KiB), where
    // the read goes through the cache, which the mapping's removal drops.
    let read = out.as_mut().is_some_and(|buf| {
        [OFlags::RDONLY | OFlags::DIRECT, OFlags::RDONLY]
            .into_iter()
            .any(|flags| m.open(flags).ok().and_then(|fd| crate::fsutil::pread_full(&fd, &mut buf.bytes()[..n], 0).ok()) == Some(n))
    });
    if let Err(e) = ctl.remove(KEYSLOT_MAPPING) {
        error!("keyslot {} of {}: cannot remove the temporary mapping {KEYSLOT_MAPPING} that shows its key material: {e}; not used", slot.id, dev.node());
        return None;
    }
    if !read {
        warning!("keyslot {} of {}: cannot read its key material through {}", slot.id, dev.node(), m.node());
    }
    out.filter(|_| read)
}

fn mem_available_kib() -> u64 {
    let mut buf = [0u8; 2048];
    let Ok(text) = crate::fsutil::read_str("/proc/meminfo", &mut buf) else { return 0 };
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        // "MemAvailable:    1234 kB": the first word is the number (a
        // trim_end_matches(" kB") here cost 1.2 KiB of substring search).
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(resume_init::text::parse_u64)
        .unwrap_or(0)
}

/// Asks for a passphrase on the console with echo off; `None` if there
/// is no terminal to ask on. Waits as long as it takes.
fn ask(prompt: &str) -> Option<Key> {
    use linux_raw_sys::general::{ECHO, ECHONL, ICANON};
    let fd = crate::sys::stdin();
    let saved = crate::ioctl::tcgets(fd).ok()?;
    let mut quiet = saved;
    quiet.c_lflag = (quiet.c_lflag & !ECHO) | ECHONL | ICANON;
    let _ = crate::ioctl::tcsets(fd, &quiet);
    let got = loop {
        let _ = rustix::io::write(crate::sys::stderr(), prompt.as_bytes());
        match read_line(fd) {
            Some(Ok(k)) => break Some(k),
            // Never cut: a cut passphrase would be tried as if typed.
            Some(Err(())) => warning!("the passphrase is longer than {MAX_PASSPHRASE} bytes (cryptsetup's limit); not tried, type it again"),
            None => break None,
        }
    };
    let _ = crate::ioctl::tcsets(fd, &saved);
    got
}

/// One line from the console; `Err` when longer than [`MAX_PASSPHRASE`],
/// `None` at its end or on an error.
fn read_line(fd: rustix::fd::BorrowedFd) -> Option<Result<Key, ()>> {
    let mut k = Key::with_capacity(MAX_PASSPHRASE).ok()?;
    let mut byte = Zeroizing::new([0u8; 1]);
    let mut too_long = false;
    loop {
        match rustix::io::read(fd, &mut byte[..]) {
            Ok(1) if byte[0] == b'\n' => return Some(if too_long { Err(()) } else { Ok(k) }),
            Ok(1) => too_long |= !k.push(byte[0]),
            Err(Errno::INTR) => {}
            _ => return None,
        }
    }
}
