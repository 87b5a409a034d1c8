//! LVM2, read-only: the physical volume label (`LABELONE`, in one of the
//! first four sectors), its metadata area header and the committed
//! metadata text (with its checksums), and the device-mapper tables of
//! logical volumes (`linear`, `striped`). Nothing is ever written.
//!
//! References: `docs/luks-lvm.md` §3, lvm2 `lib/label/label.h`,
//! `lib/format_text/layout.h`, `format-text.c`.

use core::fmt::Write;

use crate::bytes::{le32, le64};
use crate::json::{self, Token, Value};

/// Bytes read from a device's start to find its label.
pub const LABEL_SCAN: usize = 4 * 512;
const LABEL_ID: &[u8; 8] = b"LABELONE";
const LABEL_TYPE: &[u8; 8] = b"LVM2 001";
const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
const INITIAL_CRC: u32 = 0xf597_a6cf;
/// The metadata header (`mda_header`), at the start of the metadata area.
pub const MDA_HEADER: usize = 512;
/// The longest metadata text read.
pub const MAX_TEXT: usize = 256 * 1024;
/// Logical volumes (and segments of one) handled, at most.
pub const MAX_LVS: usize = 32;
pub const MAX_SEGMENTS: usize = 8;
/// Stripes of a segment handled, at most.
pub const MAX_STRIPES: usize = 4;

/// lvm2's `calc_crc`: CRC-32 (reflected 0xedb88320) from 0xf597a6cf,
/// without the final inversion.
pub fn crc(data: &[u8]) -> u32 {
    crate::crc32::update(INITIAL_CRC, data)
}

/// A physical volume's label: its UUID (32 characters, no dashes) and its
/// first metadata area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub uuid: [u8; 32],
    /// Byte offset and size of the metadata area.
    pub mda_offset: u64,
    pub mda_size: u64,
}

/// Finds and checks the label in the first [`LABEL_SCAN`] bytes.
pub fn label(b: &[u8]) -> Option<Label> {
    for sector in 0..4 {
        let s = b.get(sector * 512..sector * 512 + 512)?;
        if &s[..8] != LABEL_ID || le64(s, 8)? != sector as u64 || &s[24..32] != LABEL_TYPE || le32(s, 16)? != crc(&s[20..]) {
            continue;
        }
        let at = le32(s, 20)? as usize; // pv_header within the sector
        let h = s.get(at..)?;
        let uuid: [u8; 32] = h.get(..32)?.try_into().ok()?;
        // Data areas, then metadata areas: {offset, size} lists ending in zeros.
        let mut k = 40;
        while le64(h, k)? != 0 || le64(h, k + 8)? != 0 {
            k += 16;
        }
        k += 16;
        let (mda_offset, mda_size) = (le64(h, k)?, le64(h, k + 8)?);
        if mda_offset == 0 || mda_size < MDA_HEADER as u64 {
            return None; // a PV without metadata area: nothing to read here
        }
        return Some(Label { uuid, mda_offset, mda_size });
    }
    None
}

/// Where the committed metadata text lies: byte offset from the device
/// start, its length, and (when it wraps round the end of the area) the
/// length of its first part; the rest follows the header. Checked: the
/// header's own checksum, magic, version and place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextAt {
    pub offset: u64,
    pub size: usize,
    pub first: usize,
    pub wrap_to: u64,
    pub checksum: u32,
}

/// Where the committed metadata text lies, from the metadata area's
/// header (see [`TextAt`]).
pub fn text_at(l: &Label, hdr: &[u8]) -> Option<TextAt> {
    let h = hdr.get(..MDA_HEADER)?;
    if le32(h, 0)? != crc(&h[4..]) || &h[4..20] != MDA_MAGIC || le32(h, 20)? != 1 || le64(h, 24)? != l.mda_offset || le64(h, 32)? != l.mda_size {
        return None;
    }
    let (off, size, checksum, flags) = (le64(h, 40)?, le64(h, 48)?, le32(h, 56)?, le32(h, 60)?);
    if size == 0 || flags & 1 != 0 || off < MDA_HEADER as u64 || off >= l.mda_size || size > MAX_TEXT as u64 {
        return None;
    }
    let size = size as usize;
    let first = (l.mda_size - off).min(size as u64) as usize;
    Some(TextAt { offset: l.mda_offset + off, size, first, wrap_to: l.mda_offset + MDA_HEADER as u64, checksum })
}

/// Why a volume group's logical volumes cannot be activated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    Json(json::Error),
    /// The text lacks what every VG has.
    Metadata(&'static str),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Json(e) => write!(f, "metadata does not parse: {e}"),
            Error::Metadata(w) => write!(f, "metadata: {w}"),
        }
    }
}

pub type Name = heapless::String<128>;
/// A UUID without its dashes (32 characters).
pub type Id = heapless::String<32>;

fn id(v: Option<Value>) -> Option<Id> {
    let mut out = Id::new();
    for c in v?.str()?.chars().filter(|&c| c != '-') {
        out.push(c).ok()?;
    }
    (out.len() == 32).then_some(out)
}

/// One stripe of a segment: the physical volume (its UUID) and the first
/// extent on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    pub pv: Id,
    /// 512-byte sectors from the PV's start: `pe_start + extent × size`.
    pub sector: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// In 512-byte sectors within the LV.
    pub start: u64,
    pub len: u64,
    /// Sectors per stripe chunk (striped only).
    pub stripe_size: u64,
    pub stripes: heapless::Vec<Stripe, MAX_STRIPES>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lv {
    pub name: Name,
    pub id: Id,
    pub segments: heapless::Vec<Segment, MAX_SEGMENTS>,
    /// Why it cannot be activated here (raid, thin, hidden …), if so.
    pub refused: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vg {
    pub name: Name,
    pub id: Id,
    pub seqno: u64,
    /// UUIDs of all its physical volumes.
    pub pvs: heapless::Vec<Id, 16>,
    pub lvs: heapless::Vec<Lv, MAX_LVS>,
}

fn lv(name: &str, v: Value, extent: u64, pvs: &[(&str, Id, u64)]) -> Option<Lv> {
    let mut out = Lv { name: Name::try_from(name).ok()?, id: id(v.get("id"))?, segments: heapless::Vec::new(), refused: None };
    if !valid_name(name) {
        out.refused = Some("its name is not one lvm2 allows");
        return Some(out);
    }
    let status = v.get("status")?;
    if !status.items().any(|s| s.str() == Some("VISIBLE")) {
        out.refused = Some("hidden (a part of another LV)");
        return Some(out);
    }
    if v.get("flags").is_some_and(|f| f.items().any(|s| s.str() == Some("ACTIVATION_SKIP"))) {
        out.refused = Some("marked to skip activation");
        return Some(out);
    }
    for (key, seg) in v.members() {
        if !key.starts_with("segment") || seg.kind() != json::Kind::Object {
            continue;
        }
        if seg.get("type").and_then(|t| t.str()) != Some("striped") {
            out.refused = Some("of a segment type other than linear or striped (raid, thin, cache …)");
            return Some(out);
        }
        let start = seg.get("start_extent")?.u64()?.checked_mul(extent)?;
        let len = seg.get("extent_count")?.u64()?.checked_mul(extent)?;
        let stripe_size = seg.get("stripe_size").and_then(|s| s.u64()).unwrap_or(0);
        let mut stripes = heapless::Vec::new();
        let mut list = seg.get("stripes")?.items();
        while let (Some(pv), Some(first)) = (list.next(), list.next()) {
            let (_, pv_id, pe_start) = pvs.iter().find(|p| Some(p.0) == pv.str())?;
            stripes.push(Stripe { pv: pv_id.clone(), sector: pe_start.checked_add(first.u64()?.checked_mul(extent)?)? }).ok()?;
        }
        if stripes.is_empty() || (stripes.len() > 1 && stripe_size == 0) {
            return None;
        }
        out.segments.push(Segment { start, len, stripe_size, stripes }).ok()?;
    }
    // lvm2 writes segment1, segment2, … in order; anything else is refused.
    let mut at = 0u64;
    for s in &out.segments {
        if s.start != at {
            return None; // a gap or an overlap
        }
        at = at.checked_add(s.len)?;
    }
    if out.segments.is_empty() {
        return None;
    }
    Some(out)
}

/// Whether lvm2 accepts `n` as a VG or LV name (`_validate_name` in
/// lvm-string.c): 1–127 characters of `A–Z a–z 0–9 + _ . -`, not
/// starting with `-`, not `.` or `..`. Nothing else may become a path
/// under `/dev/VG/LV` or a `/dev/mapper` name.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() < 128
        && !n.starts_with('-')
        && n != "."
        && n != ".."
        && n.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'_' | b'.' | b'-'))
}

/// Reads a volume group from its metadata text.
pub fn parse(text: &str, toks: &mut [Token]) -> Result<Vg, Error> {
    let doc = self::text::parse(text, toks).map_err(Error::Json)?;
    let (name, vg) = doc.root().members().find(|(_, v)| v.kind() == json::Kind::Object).ok_or(Error::Metadata("no volume group"))?;
    let bad = Error::Metadata;
    if !valid_name(name) {
        return Err(bad("a volume group name lvm2 does not allow"));
    }
    let extent = vg.get("extent_size").and_then(|e| e.u64()).filter(|&e| e > 0).ok_or(bad("extent_size"))?;
    let mut pvs: heapless::Vec<(&str, Id, u64), 16> = heapless::Vec::new();
    for (key, pv) in vg.get("physical_volumes").ok_or(bad("no physical_volumes"))?.members() {
        let entry = (key, id(pv.get("id")).ok_or(bad("a physical volume id"))?, pv.get("pe_start").and_then(|p| p.u64()).ok_or(bad("pe_start"))?);
        pvs.push(entry).map_err(|_| bad("more than 16 physical volumes"))?;
    }
    let mut out = Vg {
        name: Name::try_from(name).map_err(|_| bad("a name too long"))?,
        id: id(vg.get("id")).ok_or(bad("the VG id"))?,
        seqno: vg.get("seqno").and_then(|s| s.u64()).ok_or(bad("seqno"))?,
        pvs: pvs.iter().map(|p| p.1.clone()).collect(),
        lvs: heapless::Vec::new(),
    };
    if let Some(lvs) = vg.get("logical_volumes") {
        for (key, v) in lvs.members() {
            let l = lv(key, v, extent, &pvs).ok_or(bad("a logical volume's segments"))?;
            out.lvs.push(l).map_err(|_| bad("more than 32 logical volumes"))?;
        }
    }
    Ok(out)
}

/// The device-mapper name of an LV: `VG-LV`, each `-` inside a name
/// doubled (`debian--vg-swap_1`), as lvm2's `dm_build_dm_name` does.
pub fn dm_name(vg: &str, lv: &str) -> Option<Name> {
    let mut n = Name::new();
    for (i, part) in [vg, lv].iter().enumerate() {
        if i == 1 {
            n.push('-').ok()?;
        }
        for c in part.chars() {
            n.push(c).ok()?;
            if c == '-' {
                n.push('-').ok()?;
            }
        }
    }
    Some(n)
}

/// The dm uuid lvm2 gives an LV: `LVM-<vg id><lv id>`.
pub fn dm_uuid(vg: &Vg, lv: &Lv) -> heapless::String<160> {
    let mut u = heapless::String::new();
    let _ = write!(u, "LVM-{}{}", vg.id, lv.id);
    u
}

/// A table line's parameters for one segment, each PV given as its
/// `MAJ:MIN` by `dev`.
pub fn segment_params(s: &Segment, dev: &dyn Fn(&Id) -> Option<(u32, u32)>) -> Option<(&'static str, heapless::String<512>)> {
    let mut p = heapless::String::new();
    if s.stripes.len() == 1 {
        let (ma, mi) = dev(&s.stripes[0].pv)?;
        write!(p, "{ma}:{mi} {}", s.stripes[0].sector).ok()?;
        return Some(("linear", p));
    }
    write!(p, "{} {}", s.stripes.len(), s.stripe_size).ok()?;
    for st in &s.stripes {
        let (ma, mi) = dev(&st.pv)?;
        write!(p, " {ma}:{mi} {}", st.sector).ok()?;
    }
    Some(("striped", p))
}

pub mod text;

#[cfg(test)]
mod tests;
