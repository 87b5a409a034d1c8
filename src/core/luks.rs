//! LUKS2 and LUKS1, read-only: LUKS2's binary header and its SHA-256
//! checksum (both copies, the higher sequence number wins) and JSON
//! metadata, LUKS1's one binary header ([`parse_luks1`]), and the
//! unlock steps of cryptsetup's `luks2_keyslot_get_key`: the keyslot's KDF
//! (Argon2id, Argon2i or PBKDF2-SHA256, from RustCrypto's `argon2`,
//! `pbkdf2` and `sha2`) over the passphrase, the
//! anti-forensic merge of the decrypted key material, and the digest
//! check of the volume key. Decrypting the key material is the caller's
//! (the init asks the kernel's dm-crypt, as cryptsetup does without a
//! user-space cipher); so is the mapping, whose table [`crypt_params`]
//! writes. Nothing here ever writes to the device.
//!
//! References: `docs/luks-lvm.md` §1, cryptsetup `lib/luks2/luks2.h`,
//! `luks2_disk_metadata.c`, `luks2_keyslot_luks2.c`, `lib/luks1/af.c`.

use core::fmt::Write;

pub use argon2::Block;
use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::json::{self, Token};

/// The primary header's magic; the secondary copy's is [`MAGIC_2`].
pub const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
pub const MAGIC_2: &[u8; 6] = b"SKUL\xba\xbe";
const VERSION: usize = 6;
const HDR_SIZE: usize = 8;
const SEQID: usize = 16;
const CSUM_ALG: usize = 72;
const UUID: usize = 168;
const HDR_OFFSET: usize = 256;
const CSUM: usize = 448;
/// The binary header; the JSON text follows it.
pub const BIN_SIZE: usize = 4096;
/// Where a secondary header may start (`LUKS2_HDR2_OFFSETS`).
pub const SECONDARY_AT: [u64; 9] = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000];
/// The largest header (binary and JSON) read: cryptsetup's default is
/// 16 KiB, and few use more than 64.
pub const MAX_HDR: usize = 256 * 1024;
/// Tokens of the JSON metadata, at most (a keyslot takes about 30).
pub const MAX_TOKENS: usize = 2048;
/// Keyslots a LUKS2 header can have.
pub const MAX_KEYSLOTS: usize = 32;
/// The longest volume key (512 bits: AES-256 in XTS).
pub const MAX_KEY: usize = 64;
/// The largest key material area read (64-byte keys × 4000 stripes
/// need 250 KiB).
pub const MAX_AF: usize = 512 * 1024;

/// Why a device cannot be unlocked; none of them is a wrong passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Neither header copy has a valid magic, size and checksum.
    NoHeader,
    /// The header is valid but needs what this reader does not do.
    Unsupported(&'static str),
    /// The JSON metadata is not what LUKS2 writes.
    Metadata(&'static str),
    Json(json::Error),
    /// No keyslot can be used with what this reader supports.
    NoKeyslot,
    /// No keyslot can be used, and this one was refused for this reason.
    Refused(u8, &'static str),
    /// The KDF's parameters were refused, or its memory is too small.
    Kdf,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::NoHeader => f.write_str("no valid LUKS2 header (magic, size or SHA-256 checksum wrong in both copies)"),
            Error::Unsupported(what) => write!(f, "unsupported LUKS2 feature: {what}"),
            Error::Metadata(what) => write!(f, "damaged LUKS metadata: {what}"),
            Error::Json(e) => write!(f, "damaged LUKS2 metadata: {e}"),
            Error::NoKeyslot => f.write_str("no usable keyslot (argon2id, argon2i or pbkdf2 with sha256)"),
            Error::Refused(n, why) => write!(f, "no usable keyslot (keyslot {n}: {why})"),
            Error::Kdf => f.write_str("the keyslot's KDF parameters are out of range"),
        }
    }
}

/// A header field; 0 where the bytes are not there (callers check sizes).
fn be64(b: &[u8], at: usize) -> u64 {
    crate::bytes::be64(b, at).unwrap_or(0)
}

/// What the binary header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinHeader {
    /// Binary header and JSON area together, in bytes.
    pub hdr_size: usize,
    pub seqid: u64,
    /// The UUID as written (`xxxxxxxx-xxxx-…`).
    pub uuid: heapless::String<40>,
}

/// The LUKS version a device's first bytes announce (1 or 2), if any.
pub fn version(first: &[u8]) -> Option<u16> {
    if first.get(..6)? != MAGIC {
        return None;
    }
    crate::bytes::be16(first, VERSION)
}

/// Checks one header copy read at byte `at`: magic, version 2, a size
/// cryptsetup allows, its own offset, and the SHA-256 over the whole
/// header with the checksum field zeroed. `buf` holds at least its
/// `hdr_size` bytes (the first [`BIN_SIZE`] are enough to learn it).
pub fn check_copy(buf: &[u8], at: u64) -> Option<BinHeader> {
    let magic = if at == 0 { MAGIC } else { MAGIC_2 };
    if buf.get(..6)? != magic || buf.get(VERSION..VERSION + 2)? != [0, 2] {
        return None;
    }
    let size = be64(buf, HDR_SIZE);
    if !(0x4000..=0x40_0000).contains(&size) || !size.is_power_of_two() || be64(buf, HDR_OFFSET) != at {
        return None;
    }
    let size = size as usize;
    if crate::text::fixed_str(buf.get(CSUM_ALG..CSUM_ALG + 32)?) != Some("sha256") {
        return None;
    }
    let all = buf.get(..size)?;
    let sum = Sha256::new().chain_update(&all[..CSUM]).chain_update([0u8; 64]).chain_update(&all[CSUM + 64..]).finalize();
    if sum[..] != all[CSUM..CSUM + 32] {
        return None;
    }
    let uuid = crate::text::fixed_str(&all[UUID..UUID + 40])?;
    Some(BinHeader { hdr_size: size, seqid: be64(all, SEQID), uuid: heapless::String::try_from(uuid).ok()? })
}

/// The JSON text of a checked header (up to its first NUL).
pub fn json_text<'a>(buf: &'a [u8], h: &BinHeader) -> Result<&'a str, Error> {
    let area = buf.get(BIN_SIZE..h.hdr_size).ok_or(Error::NoHeader)?;
    let end = area.iter().position(|&c| c == 0).unwrap_or(area.len());
    core::str::from_utf8(&area[..end]).map_err(|_| Error::Metadata("the JSON area is not UTF-8"))
}

/// A base64 value of up to 64 bytes (salts and digests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes {
    b: [u8; 64],
    len: usize,
}

impl Bytes {
    /// Standard padded base64 (`A–Z a–z 0–9 + /`, `=`), as cryptsetup
    /// writes salts and digests; at most 64 bytes.
    fn decode(v: Option<json::Value>) -> Option<Bytes> {
        let mut b = [0u8; 64];
        let len = Base64::decode(v?.str()?, &mut b).ok()?.len();
        Some(Bytes { b, len })
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.b[..self.len]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    Pbkdf2 { iterations: u32, salt: Bytes },
    Argon2 { id: bool, time: u32, memory_kib: u32, lanes: u32, salt: Bytes },
}

/// A cipher specification as dm-crypt takes it (`aes-xts-plain64`).
pub type Cipher = heapless::String<48>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyslot {
    pub id: u32,
    /// 2 = preferred, 1 = normal (0, "ignore", is left out).
    pub priority: u8,
    /// Bytes of volume key it holds.
    pub key_size: usize,
    pub stripes: usize,
    /// Where its key material lies on the device, in bytes.
    pub area_offset: u64,
    pub area_size: u64,
    pub area_cipher: Cipher,
    /// Bytes of key the KDF derives for the area's cipher.
    pub area_key_size: usize,
    pub kdf: Kdf,
}

impl Keyslot {
    /// Bytes of key material to read and decrypt: key × stripes, in
    /// whole 512-byte sectors (`AF_split_sectors`).
    pub fn material_len(&self) -> usize {
        (self.key_size * self.stripes).div_ceil(512) * 512
    }

    /// KiB the KDF needs (0 for PBKDF2).
    pub fn kdf_memory_kib(&self) -> u32 {
        match self.kdf {
            Kdf::Argon2 { memory_kib, .. } => memory_kib,
            Kdf::Pbkdf2 { .. } => 0,
        }
    }
}

/// The data segment: what the mapping shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Bytes from the device start.
    pub offset: u64,
    /// Bytes, or `None` for "dynamic" (to the end of the device).
    pub size: Option<u64>,
    pub iv_tweak: u64,
    pub cipher: Cipher,
    pub sector_size: u32,
}

/// The metadata an unlock needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// 1 or 2 (device-mapper uuids and messages name it).
    pub version: u32,
    /// The container's UUID as written (LUKS2: the caller sets it from
    /// the [`BinHeader`]).
    pub uuid: heapless::String<40>,
    /// Usable keyslots, preferred first.
    pub keyslots: heapless::Vec<Keyslot, MAX_KEYSLOTS>,
    /// Keyslots left out, with why (for the messages).
    pub refused: heapless::Vec<(u8, &'static str), MAX_KEYSLOTS>,
    pub segment: Segment,
    /// `config.flags` has `allow-discards`.
    pub allow_discards: bool,
    digest_slots: u64,
    digest_iterations: u32,
    digest_salt: Bytes,
    digest: Bytes,
}

fn num(v: Option<json::Value>) -> Option<u64> {
    v?.u64()
}

fn cipher(v: Option<json::Value>) -> Option<Cipher> {
    cipher_str(v?.str()?)
}

fn cipher_str(s: &str) -> Option<Cipher> {
    // dm-crypt's table is space-separated: a cipher may not contain one.
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'(' | b')' | b':')) {
        return None;
    }
    Cipher::try_from(s).ok()
}

/// The KDF bounds cryptsetup sets (`crypt_pbkdf_get_limits`): Argon2 at
/// most 4 GiB and 4 threads; and a time cost of at least one pass.
const MAX_ARGON2_KIB: u32 = 4 * 1024 * 1024;
const MIN_ARGON2_KIB: u32 = 32;
const MAX_ARGON2_LANES: u32 = 4;

/// Whether a keyslot's KDF parameters are inside cryptsetup's bounds, so
/// that a crafted header cannot ask for more than cryptsetup would run.
fn kdf_bounds(kdf: &Kdf) -> Result<(), &'static str> {
    match *kdf {
        Kdf::Pbkdf2 { iterations: 0, .. } => Err("PBKDF2 with 0 iterations"),
        Kdf::Pbkdf2 { .. } => Ok(()),
        Kdf::Argon2 { time, memory_kib, lanes, .. } => {
            if time == 0 {
                Err("Argon2 with 0 passes")
            } else if !(MIN_ARGON2_KIB..=MAX_ARGON2_KIB).contains(&memory_kib) {
                Err("Argon2 memory outside cryptsetup's 32 KiB to 4 GiB")
            } else if !(1..=MAX_ARGON2_LANES).contains(&lanes) {
                Err("Argon2 threads outside cryptsetup's 1 to 4")
            } else {
                Ok(())
            }
        }
    }
}

/// One LUKS2 keyslot from its JSON, or why it cannot be used: a kind this
/// reader does not do, or values outside what cryptsetup writes and reads.
fn keyslot(id: u8, v: json::Value) -> Result<Keyslot, &'static str> {
    if v.get("type").and_then(|t| t.str()) != Some("luks2") {
        return Err("not of type luks2");
    }
    // 0 ignore, 1 normal, 2 preferred: anything else is damage, not a
    // wish (258 must not wrap to "preferred").
    let priority = match v.get("priority") {
        None => 1,
        Some(p) => p.u64().and_then(|p| u8::try_from(p).ok()).filter(|&p| p <= 2).ok_or("a priority other than 0, 1 or 2")?,
    };
    let af = v.get("af").ok_or("no af")?;
    let area = v.get("area").ok_or("no area")?;
    if af.get("type").and_then(|t| t.str()) != Some("luks1") || af.get("hash").and_then(|t| t.str()) != Some("sha256") || area.get("type").and_then(|t| t.str()) != Some("raw") {
        return Err("an anti-forensic split or area other than luks1 with sha256 over raw");
    }
    let kdf = v.get("kdf").ok_or("no kdf")?;
    let salt = Bytes::decode(kdf.get("salt")).ok_or("its KDF salt")?;
    let u32_of = |o: Option<json::Value>, what| num(o).and_then(|n| u32::try_from(n).ok()).ok_or(what);
    let kdf = match kdf.get("type").and_then(|t| t.str()) {
        Some("pbkdf2") if kdf.get("hash").and_then(|h| h.str()) == Some("sha256") => Kdf::Pbkdf2 { iterations: u32_of(kdf.get("iterations"), "PBKDF2 iterations")?, salt },
        Some(t @ ("argon2id" | "argon2i")) => Kdf::Argon2 {
            id: t == "argon2id",
            time: u32_of(kdf.get("time"), "Argon2 time")?,
            memory_kib: u32_of(kdf.get("memory"), "Argon2 memory")?,
            lanes: u32_of(kdf.get("cpus"), "Argon2 cpus")?,
            salt,
        },
        _ => return Err("a KDF other than argon2id, argon2i or pbkdf2 with sha256"),
    };
    kdf_bounds(&kdf)?;
    let size_of = |o: Option<json::Value>, what| num(o).and_then(|n| usize::try_from(n).ok()).ok_or(what);
    let key_size = size_of(v.get("key_size"), "key_size")?;
    let stripes = size_of(af.get("stripes"), "stripes")?;
    let area_key_size = size_of(area.get("key_size"), "area key_size")?;
    // Bounded before any arithmetic: key × stripes cannot wrap.
    if !(1..=MAX_KEY).contains(&key_size) || !(1..=MAX_KEY).contains(&area_key_size) {
        return Err("a key size outside 1 to 64 bytes");
    }
    if !(1..=MAX_AF).contains(&stripes) {
        return Err("a stripe count outside what fits its area");
    }
    let slot = Keyslot {
        id: id.into(),
        priority,
        key_size,
        stripes,
        area_offset: num(area.get("offset")).ok_or("area offset")?,
        area_size: num(area.get("size")).ok_or("area size")?,
        area_cipher: cipher(area.get("encryption")).ok_or("area encryption")?,
        area_key_size,
        kdf,
    };
    if slot.material_len() > MAX_AF || slot.material_len() as u64 > slot.area_size {
        return Err("key material larger than its area");
    }
    if !slot.area_offset.is_multiple_of(512) || slot.area_offset.checked_add(slot.area_size).is_none() {
        return Err("an area not in whole sectors");
    }
    Ok(slot)
}

/// Reads the metadata of a checked header's JSON; `toks` is the token
/// space (see [`MAX_TOKENS`]).
pub fn parse_meta(text: &str, toks: &mut [Token]) -> Result<Meta, Error> {
    let doc = json::parse(text, toks).map_err(Error::Json)?;
    let root = doc.root();
    let config = root.get("config").ok_or(Error::Metadata("no config"))?;
    if let Some(req) = config.get("requirements").and_then(|r| r.get("mandatory"))
        && req.items().next().is_some() {
            return Err(Error::Unsupported("mandatory requirements (reencryption, OPAL or hardware tags)"));
        }
    let allow_discards = config.get("flags").is_some_and(|f| f.items().any(|v| v.str() == Some("allow-discards")));

    let segments = root.get("segments").ok_or(Error::Metadata("no segments"))?;
    let mut segs = segments.members();
    let (seg_id, seg) = segs.next().ok_or(Error::Metadata("no segment"))?;
    if segs.next().is_some() {
        return Err(Error::Unsupported("more than one segment (reencryption in progress)"));
    }
    if seg.get("type").and_then(|t| t.str()) != Some("crypt") {
        return Err(Error::Unsupported("a segment that is not of type crypt"));
    }
    if seg.get("integrity").is_some() {
        return Err(Error::Unsupported("authenticated encryption (integrity)"));
    }
    let size = seg.get("size").ok_or(Error::Metadata("segment without size"))?;
    let segment = Segment {
        offset: num(seg.get("offset")).ok_or(Error::Metadata("segment offset"))?,
        size: if size.str() == Some("dynamic") { None } else { Some(size.u64().ok_or(Error::Metadata("segment size"))?) },
        iv_tweak: num(seg.get("iv_tweak")).ok_or(Error::Metadata("segment iv_tweak"))?,
        cipher: cipher(seg.get("encryption")).ok_or(Error::Metadata("segment encryption"))?,
        sector_size: num(seg.get("sector_size"))
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| n.is_power_of_two() && (512..=4096).contains(n))
            .ok_or(Error::Metadata("segment sector_size"))?,
    };
    if !segment.offset.is_multiple_of(512) || segment.size.is_some_and(|s| s % 512 != 0) {
        return Err(Error::Metadata("segment not in whole sectors"));
    }

    // The digest that covers this segment; it names the keyslots it opens.
    let digests = root.get("digests").ok_or(Error::Metadata("no digests"))?;
    let names = |v: json::Value, key: &str, want: Option<&str>| {
        v.get(key).is_some_and(|l| l.items().any(|i| want.is_none_or(|w| i.str() == Some(w))))
    };
    let (_, d) = digests.members().find(|(_, d)| names(*d, "segments", Some(seg_id))).ok_or(Error::Metadata("no digest for the segment"))?;
    if d.get("type").and_then(|t| t.str()) != Some("pbkdf2") || d.get("hash").and_then(|t| t.str()) != Some("sha256") {
        return Err(Error::Unsupported("a digest other than pbkdf2 with sha256"));
    }
    let mut digest_slots = 0u64;
    for s in d.get("keyslots").into_iter().flat_map(|l| l.items()) {
        let n: u8 = s.str().and_then(|s| s.parse().ok()).filter(|&n| (n as usize) < MAX_KEYSLOTS).ok_or(Error::Metadata("digest keyslot list"))?;
        digest_slots |= 1 << n;
    }
    let digest = Bytes::decode(d.get("digest")).filter(|b| b.len >= 20).ok_or(Error::Metadata("digest value"))?;
    let digest_salt = Bytes::decode(d.get("salt")).ok_or(Error::Metadata("digest salt"))?;
    let digest_iterations = num(d.get("iterations")).and_then(|n| u32::try_from(n).ok()).filter(|&n| n > 0).ok_or(Error::Metadata("digest iterations"))?;

    let mut keyslots: heapless::Vec<Keyslot, MAX_KEYSLOTS> = heapless::Vec::new();
    let all = root.get("keyslots").ok_or(Error::Metadata("no keyslots"))?;
    let mut refused = heapless::Vec::new();
    for (id, v) in all.members() {
        let n: u8 = id.parse().ok().filter(|&n| (n as usize) < MAX_KEYSLOTS).ok_or(Error::Metadata("a keyslot number"))?;
        if digest_slots & (1 << n) == 0 {
            continue; // a keyslot of another segment's digest (reencryption)
        }
        match keyslot(n, v) {
            Ok(k) if k.priority == 0 => {}
            Ok(k) => keyslots.push(k).map_err(|_| Error::Metadata("more than 32 keyslots"))?,
            Err(why) => refused.push((n, why)).map_err(|_| Error::Metadata("more than 32 keyslots"))?,
        }
    }
    // Preferred (2) first, each group in the order written, as cryptsetup tries them.
    let mut ordered: heapless::Vec<Keyslot, MAX_KEYSLOTS> = keyslots.iter().filter(|k| k.priority == 2).cloned().collect();
    ordered.extend(keyslots.into_iter().filter(|k| k.priority == 1));
    let keyslots = ordered;
    if keyslots.is_empty() {
        return Err(refused.first().map_or(Error::NoKeyslot, |&(n, why)| Error::Refused(n, why)));
    }
    Ok(Meta { version: 2, uuid: heapless::String::new(), keyslots, refused, segment, allow_discards, digest_slots, digest_iterations, digest_salt, digest })
}

/// The LUKS1 header (`struct luks_phdr`, 592 bytes, big-endian): its
/// fields' offsets, and those of its eight keyslots.
const L1_CIPHER: usize = 8;
const L1_MODE: usize = 40;
const L1_HASH: usize = 72;
const L1_PAYLOAD: usize = 104;
const L1_KEY_BYTES: usize = 108;
const L1_DIGEST: usize = 112;
const L1_DIGEST_SALT: usize = 132;
const L1_DIGEST_ITER: usize = 164;
const L1_SLOTS: usize = 208;
const L1_SLOT_SIZE: usize = 48;
/// A keyslot in use (`LUKS_KEY_ENABLED`).
const L1_ACTIVE: u32 = 0x00AC_71F3;
/// The header's length: what a caller reads for [`parse_luks1`].
pub const L1_SIZE: usize = L1_SLOTS + 8 * L1_SLOT_SIZE;

fn be32(b: &[u8], at: usize) -> u32 {
    crate::bytes::be32(b, at).unwrap_or(0)
}

/// LUKS1 (cryptsetup's `LUKS_read_phdr`; `docs/luks-lvm.md` §1): the data
/// from `payloadOffset` to the device's end in `cipherName-cipherMode`,
/// eight keyslots of PBKDF2 and 4000 stripes, and a 20-byte PBKDF2
/// digest of the volume key, all with `hashSpec`; this reader has the
/// SHA-256 cryptsetup writes since 1.7 (2015), not the older SHA-1.
pub fn parse_luks1(b: &[u8]) -> Result<Meta, Error> {
    if version(b) != Some(1) || b.len() < L1_SIZE {
        return Err(Error::NoHeader);
    }
    let text = |at: usize| crate::text::fixed_str(&b[at..at + 32]).ok_or(Error::Metadata("a LUKS1 header whose names are not text"));
    if text(L1_HASH)? != "sha256" {
        return Err(Error::Unsupported("a LUKS1 hash other than sha256 (cryptsetup before 1.7 wrote sha1)"));
    }
    let mut spec = Cipher::new();
    let spec = write!(spec, "{}-{}", text(L1_CIPHER)?, text(L1_MODE)?).ok().and_then(|_| cipher_str(&spec)).ok_or(Error::Metadata("a LUKS1 header with an impossible cipher"))?;
    let key_size = be32(b, L1_KEY_BYTES) as usize;
    let bytes = |at: usize, len: usize| {
        let mut v = Bytes { b: [0; 64], len };
        v.b[..len].copy_from_slice(&b[at..at + len]);
        v
    };
    let mut keyslots = heapless::Vec::new();
    let mut refused = heapless::Vec::new();
    for id in 0..8u8 {
        let s = L1_SLOTS + usize::from(id) * L1_SLOT_SIZE;
        let (iterations, stripes) = (be32(b, s + 4), be32(b, s + 44) as usize);
        let mut slot = Keyslot {
            id: id.into(),
            priority: 1,
            key_size,
            stripes,
            area_offset: u64::from(be32(b, s + 40)) * 512,
            area_size: 0,
            area_cipher: spec.clone(),
            area_key_size: key_size,
            kdf: Kdf::Pbkdf2 { iterations, salt: bytes(s + 8, 32) },
        };
        // Bounded before any arithmetic: key × stripes cannot wrap.
        let fits = (1..=MAX_KEY).contains(&key_size) && (1..=MAX_AF).contains(&stripes) && iterations > 0;
        if be32(b, s) != L1_ACTIVE {
            continue;
        }
        if !fits || slot.material_len() > MAX_AF {
            let _ = refused.push((id, "a key size, stripe count or iteration count out of range"));
            continue;
        }
        slot.area_size = slot.material_len() as u64;
        let _ = keyslots.push(slot);
    }
    if keyslots.is_empty() {
        return Err(refused.first().map_or(Error::NoKeyslot, |&(n, why)| Error::Refused(n, why)));
    }
    let segment = Segment { offset: u64::from(be32(b, L1_PAYLOAD)) * 512, size: None, iv_tweak: 0, cipher: spec, sector_size: 512 };
    let digest_iterations = be32(b, L1_DIGEST_ITER);
    if digest_iterations == 0 {
        return Err(Error::Metadata("a LUKS1 header with 0 digest iterations"));
    }
    Ok(Meta {
        version: 1,
        uuid: crate::text::fixed_str(&b[UUID..UUID + 40]).and_then(|u| heapless::String::try_from(u).ok()).unwrap_or_default(),
        keyslots,
        refused,
        segment,
        allow_discards: false,
        digest_slots: 0xff,
        digest_iterations,
        digest_salt: bytes(L1_DIGEST_SALT, 32),
        digest: bytes(L1_DIGEST, 20),
    })
}

/// Derives the key of a keyslot's area from the passphrase into `out`
/// (`area_key_size` bytes). Argon2 works in `memory`, which must hold
/// the keyslot's `memory` KiB (one 1 KiB [`Block`] per KiB).
pub fn derive(slot: &Keyslot, pass: &[u8], memory: &mut [Block], out: &mut [u8]) -> Result<(), Error> {
    let out = out.get_mut(..slot.area_key_size).ok_or(Error::Kdf)?;
    match slot.kdf {
        Kdf::Pbkdf2 { iterations, salt } => {
            if iterations == 0 {
                return Err(Error::Kdf);
            }
            pbkdf2::pbkdf2_hmac::<Sha256>(pass, salt.as_slice(), iterations, out);
            Ok(())
        }
        Kdf::Argon2 { id, time, memory_kib, lanes, salt } => {
            let params = argon2::Params::new(memory_kib, time, lanes, Some(out.len())).map_err(|_| Error::Kdf)?;
            let alg = if id { argon2::Algorithm::Argon2id } else { argon2::Algorithm::Argon2i };
            argon2::Argon2::new(alg, argon2::Version::V0x13, params)
                .hash_password_into_with_memory(pass, salt.as_slice(), out, memory)
                .map_err(|_| Error::Kdf)
        }
    }
}

/// SHA-256 "diffusion" of `AF_merge`: each 32-byte piece `j` of `buf`
/// becomes H(be32(j) ‖ piece), the last one cut to its length.
fn diffuse(buf: &mut [u8]) {
    for (j, piece) in buf.chunks_mut(32).enumerate() {
        let mut d: [u8; 32] = Sha256::new().chain_update((j as u32).to_be_bytes()).chain_update(&*piece).finalize().into();
        let n = piece.len();
        piece.copy_from_slice(&d[..n]);
        d.zeroize();
    }
}

/// The anti-forensic merge (`AF_merge`): the candidate volume key from
/// the decrypted key material (`stripes` blocks of `key.len()` bytes).
pub fn af_merge(material: &[u8], stripes: usize, key: &mut [u8]) {
    let n = key.len();
    key.fill(0);
    for (i, block) in material.chunks_exact(n).take(stripes).enumerate() {
        key.iter_mut().zip(block).for_each(|(k, b)| *k ^= b);
        if i + 1 < stripes {
            diffuse(key);
        }
    }
}

impl Meta {
    /// Whether `key` is the volume key: PBKDF2 of it matches the digest.
    pub fn is_volume_key(&self, key: &[u8]) -> bool {
        let mut out = [0u8; 64];
        let out = &mut out[..self.digest.len];
        pbkdf2::pbkdf2_hmac::<Sha256>(key, self.digest_salt.as_slice(), self.digest_iterations, out);
        // The same time whatever matches: no early exit.
        let diff = out.iter().zip(self.digest.as_slice()).fold(0u8, |d, (a, b)| d | (a ^ b));
        out.zeroize();
        diff == 0
    }
}

/// Where a key to try comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource<'a> {
    /// A keyfile in the initramfs (`rd.luks.key=`, `cryptkey=`).
    Keyfile(&'a str),
    /// The passphrase that opened an earlier container.
    Cached,
    /// Typed on the console.
    Console,
}

impl KeySource<'_> {
    /// How the unlock message names it.
    pub fn words(self) -> &'static str {
        match self {
            KeySource::Keyfile(_) => "keyfile",
            KeySource::Cached => "the passphrase given before",
            KeySource::Console => "passphrase",
        }
    }
}

/// The order keys are tried in for one container, as systemd-cryptsetup
/// and cryptsetup's initramfs scripts try them: each keyfile meant for it
/// (or for every device) in command-line order, then the passphrase that
/// opened an earlier container, then the console, again after each wrong
/// passphrase, for as long as a keyslot can be tried at all.
pub struct KeyOrder<'a, 'k> {
    keys: &'k [crate::cmdline::LuksKey<'a>],
    uuid: &'k str,
    next_key: usize,
    cached: bool,
    usable: bool,
}

impl<'a, 'k> KeyOrder<'a, 'k> {
    /// For the container `uuid`; `cached`: a passphrase opened one before.
    pub fn new(keys: &'k [crate::cmdline::LuksKey<'a>], uuid: &'k str, cached: bool) -> Self {
        KeyOrder { keys, uuid, next_key: 0, cached, usable: true }
    }

    /// The next source, or `None` when none is worth trying: no keyslot
    /// can be tried here (a cipher the kernel lacks fails every one
    /// before the key matters).
    pub fn next_source(&mut self) -> Option<KeySource<'a>> {
        while let Some(k) = self.keys.get(self.next_key) {
            self.next_key += 1;
            if k.uuid.is_none_or(|u| u.eq_ignore_ascii_case(self.uuid)) {
                return Some(KeySource::Keyfile(k.path));
            }
        }
        if core::mem::take(&mut self.cached) {
            return Some(KeySource::Cached);
        }
        self.usable.then_some(KeySource::Console)
    }

    /// A key did not open the container; `tried`: whether any keyslot
    /// could even be tried with it.
    pub fn failed(&mut self, tried: bool) {
        self.usable = tried;
    }
}

/// A device-mapper table line's parameters, wiped when dropped (they may
/// hold a key in hex).
#[derive(PartialEq, Eq)]
pub struct Params {
    buf: [u8; 512],
    len: usize,
}

impl Params {
    fn new() -> Params {
        Params { buf: [0; 512], len: 0 }
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for Params {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).filter(|&e| e <= self.buf.len()).ok_or(core::fmt::Error)?;
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl core::fmt::Debug for Params {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Params(…)") // never the key
    }
}

impl Drop for Params {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// How the `crypt` target is given its key.
#[derive(Debug, Clone, Copy)]
pub enum KeyArg<'a> {
    /// The key itself, in hex in the table (shown by `dmsetup table
    /// --showkeys`): only where the kernel has no keyring.
    Hex(&'a [u8]),
    /// A `logon` key of `size` bytes in the kernel keyring, named `desc`:
    /// the table holds only `:SIZE:logon:DESC`, as cryptsetup 2 writes it.
    Logon { size: usize, desc: &'a str },
}

/// The `crypt` target's parameters for the data segment:
/// `<cipher> <key> <iv offset> <MAJ:MIN> <offset sectors> [options]`,
/// with the mapping's length in 512-byte sectors (`dev_bytes` sizes a
/// "dynamic" segment). `None` if the device is smaller than the segment.
pub fn crypt_params(seg: &Segment, key: KeyArg, dev: (u32, u32), dev_bytes: u64, discard: bool) -> Option<(u64, Params)> {
    let len = match seg.size {
        Some(s) => s,
        None => dev_bytes.checked_sub(seg.offset)?,
    } / 512;
    if len == 0 || seg.offset.checked_add(len * 512)? > dev_bytes {
        return None;
    }
    let mut p = Params::new();
    write!(p, "{} ", seg.cipher).ok()?;
    match key {
        KeyArg::Hex(k) => {
            for b in k {
                write!(p, "{b:02x}").ok()?;
            }
        }
        KeyArg::Logon { size, desc } => write!(p, ":{size}:logon:{desc}").ok()?,
    }
    write!(p, " {} {}:{} {}", seg.iv_tweak, dev.0, dev.1, seg.offset / 512).ok()?;
    let count = usize::from(discard) + usize::from(seg.sector_size != 512);
    if count > 0 {
        write!(p, " {count}").ok()?;
        if discard {
            p.write_str(" allow_discards").ok()?;
        }
        if seg.sector_size != 512 {
            write!(p, " sector_size:{}", seg.sector_size).ok()?;
        }
    }
    Some((len, p))
}

/// The `crypt` parameters that show a keyslot's area, decrypted with
/// `key` (the KDF's output), from sector 0 of the area.
pub fn area_params(slot: &Keyslot, key: KeyArg, dev: (u32, u32)) -> Option<(u64, Params)> {
    let seg = Segment { offset: slot.area_offset, size: Some(slot.material_len() as u64), iv_tweak: 0, cipher: slot.area_cipher.clone(), sector_size: 512 };
    crypt_params(&seg, key, dev, u64::MAX, false)
}

#[cfg(test)]
mod tests;
