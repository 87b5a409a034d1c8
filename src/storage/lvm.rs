//! Activating LVM2 logical volumes (after the LUKS devices are open, so a
//! volume group inside one is found), as `vgchange -ay` would, without
//! lvm: physical volumes found by their label on every block device, the
//! volume group's metadata read from them (the highest sequence number
//! wins), and each logical volume made a `linear` or `striped`
//! device-mapper device named `VG-LV`, with `/dev/VG/LV` and
//! `/dev/mapper/VG-LV` links. All of them, or those `rd.lvm.lv=` and
//! `rd.lvm.vg=` name; none with `rd.lvm=0`. Nothing is written to a PV.

use resume_init::cmdline::Config;
use resume_init::json::Token;
use resume_init::lvm::{self, Id, Label, Vg};
use rustix::fs::OFlags;

use crate::device::{self, Device};
use crate::dm::{Control, Target};
use crate::log::{debug, error, info, warning};
use crate::sys::Anon;

/// Physical volumes handled at once, at most.
const MAX_PVS: usize = 16;

struct Pv {
    dev: Device,
    label: Label,
}

pub fn activate_all(cfg: &Config) {
    if cfg.lvm_off {
        debug!("rd.lvm=0: no LVM activation");
        return;
    }
    let mut pvs: heapless::Vec<Pv, MAX_PVS> = heapless::Vec::new();
    device::for_each(|d| {
        let mut head = [0u8; lvm::LABEL_SCAN];
        if device::read_at(d, 0, &mut head) == Ok(head.len())
            && let Some(label) = lvm::label(&head)
            && pvs.push(Pv { dev: d.clone(), label }).is_err()
        {
            warning!("more than {MAX_PVS} LVM physical volumes; {} left out", d.node());
        }
    });
    if pvs.is_empty() {
        return;
    }
    let Some(ctl) = Control::open_to("activate LVM volumes", "dm_mod") else { return };
    let Ok(mut text) = Anon::new(lvm::MAX_TEXT) else {
        error!("cannot map memory for LVM metadata");
        return;
    };
    // 128 KiB on the stack: a token per value of the metadata text.
    let mut toks = [Token::EMPTY; 8192];
    // What each PV says of its group (id, name, sequence number), read
    // once; then each group from the PV holding its newest metadata.
    let mut seen: heapless::Vec<(Id, lvm::Name, u64, usize), MAX_PVS> = heapless::Vec::new();
    for (i, pv) in pvs.iter().enumerate() {
        if let Some(vg) = read_vg(pv, text.bytes(), &mut toks) {
            let _ = seen.push((vg.id, vg.name, vg.seqno, i));
        }
    }
    for (k, (id, name, _, _)) in seen.iter().enumerate() {
        if seen[..k].iter().any(|(other, _, _, _)| other == id) {
            continue; // this group was handled at its first PV
        }
        // Two groups of one name: lvm2 refuses to pick, and so does this
        // (/dev/NAME/LV would be either).
        if let Some((_, _, _, j)) = seen.iter().find(|(other, n, _, _)| other != id && n == name) {
            error!("two LVM volume groups are named {name} (on {} and {}); neither is activated: rename one (vgrename by UUID)", pvs[seen[k].3].dev.node(), pvs[*j].dev.node());
            continue;
        }
        let Some(&(_, _, _, best)) = seen.iter().filter(|(other, _, _, _)| other == id).max_by_key(|(_, _, seqno, _)| *seqno) else { continue };
        let Some(vg) = read_vg(&pvs[best], text.bytes(), &mut toks) else { continue };
        activate_vg(cfg, &ctl, &vg, &pvs);
    }
}

fn read_vg(pv: &Pv, buf: &mut [u8], toks: &mut [Token]) -> Option<Vg> {
    let node = pv.dev.node();
    let Ok(fd) = pv.dev.open(OFlags::RDONLY) else {
        warning!("LVM physical volume {node}: cannot open it; skipped");
        return None;
    };
    let mut hdr = [0u8; lvm::MDA_HEADER];
    let Some(at) = crate::fsutil::pread_full(&fd, &mut hdr, pv.label.mda_offset).ok().and_then(|_| lvm::text_at(&pv.label, &hdr)) else {
        warning!("LVM physical volume {node}: its metadata area header is damaged or empty; skipped");
        return None;
    };
    let text = buf.get_mut(..at.size)?;
    let (head, tail) = text.split_at_mut(at.first);
    let whole = |b: &mut [u8], off: u64| crate::fsutil::pread_full(&fd, b, off) == Ok(b.len());
    if !(whole(head, at.offset) && whole(tail, at.wrap_to)) {
        warning!("LVM physical volume {node}: cannot read its metadata; skipped");
        return None;
    }
    if lvm::crc(text) != at.checksum {
        warning!("LVM physical volume {node}: its metadata fails its checksum; skipped");
        return None;
    }
    let end = text.iter().position(|&c| c == 0).unwrap_or(text.len());
    let Ok(s) = core::str::from_utf8(&text[..end]) else {
        warning!("LVM physical volume {node}: its metadata is not text; skipped");
        return None;
    };
    match lvm::parse(s, toks) {
        Ok(vg) => Some(vg),
        Err(e) => {
            warning!("LVM physical volume {node}: {e}; skipped");
            None
        }
    }
}

fn wanted(cfg: &Config, vg: &str, lv: &str) -> bool {
    if cfg.lvm_lvs.is_empty() && cfg.lvm_vgs.is_empty() {
        return true;
    }
    cfg.lvm_vgs.contains(&vg) || cfg.lvm_lvs.iter().any(|s| s.split_once('/') == Some((vg, lv)))
}

fn activate_vg(cfg: &Config, ctl: &Control, vg: &Vg, pvs: &[Pv]) {
    let dev_of = |id: &Id| pvs.iter().find(|p| p.label.uuid == id.as_bytes()[..]).map(|p| (p.dev.major, p.dev.minor));
    if let Some(missing) = vg.pvs.iter().find(|id| dev_of(id).is_none()) {
        error!("LVM volume group {}: physical volume {missing} is missing; none of its volumes activated", vg.name);
        return;
    }
    for lv in &vg.lvs {
        if !wanted(cfg, &vg.name, &lv.name) {
            continue;
        }
        if let Some(why) = lv.refused {
            if !lv.name.ends_with("_tmeta") && !lv.name.ends_with("_tdata") {
                info!("LVM volume {}/{} not activated: {why}", vg.name, lv.name);
            }
            continue;
        }
        let Some(name) = lvm::dm_name(&vg.name, &lv.name) else { continue };
        let mut params: heapless::Vec<(&'static str, heapless::String<512>), { lvm::MAX_SEGMENTS }> = heapless::Vec::new();
        for s in &lv.segments {
            if let Some(p) = lvm::segment_params(s, &dev_of) {
                let _ = params.push(p);
            }
        }
        let targets: heapless::Vec<Target, { lvm::MAX_SEGMENTS }> =
            lv.segments.iter().zip(params.iter()).map(|(s, (kind, p))| Target { start: s.start, len: s.len, kind, params: p }).collect();
        match ctl.create(&name, &lvm::dm_uuid(vg, lv), &targets, false) {
            Ok(m) => {
                crate::dm::udev_record(&m, &name, Some((&vg.name, &lv.name)));
                info!("activated LVM volume {}/{} as /dev/mapper/{name} ({})", vg.name, lv.name, m.node());
            }
            Err(e) => error!("cannot activate LVM volume {}/{}: {e}", vg.name, lv.name),
        }
    }
}
