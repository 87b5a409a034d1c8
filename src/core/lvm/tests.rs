//! Against the labels and metadata lvm2 itself wrote (tests/fixtures/make.sh).

use super::*;

const PV1: &[u8] = include_bytes!("../../../tests/fixtures/lvm-pv1-head.bin");
const PV2: &[u8] = include_bytes!("../../../tests/fixtures/lvm-pv2-head.bin");

/// The committed text of a fixture PV, wrap included.
fn text(pv: &[u8]) -> String {
    let l = label(&pv[..LABEL_SCAN]).expect("label");
    let at = text_at(&l, &pv[l.mda_offset as usize..]).expect("mda header");
    let o = at.offset as usize;
    let mut t = pv[o..o + at.first].to_vec();
    let w = at.wrap_to as usize;
    t.extend_from_slice(&pv[w..w + at.size - at.first]);
    assert_eq!(crc(&t), at.checksum, "text checksum");
    String::from_utf8(t).unwrap().trim_end_matches('\0').to_string()
}

#[test]
fn labels_of_lvm2() {
    let l = label(&PV1[..LABEL_SCAN]).unwrap();
    assert_eq!(&l.uuid, b"aaaaaabbbbccccddddeeeeffff000001");
    assert_eq!(l.mda_offset, 4096);
    assert_eq!(label(&PV2[..LABEL_SCAN]).unwrap().uuid[31], b'2');
    // One flipped bit in the label sector: its CRC fails.
    let mut bad = PV1[..LABEL_SCAN].to_vec();
    bad[512 + 40] ^= 1;
    assert_eq!(label(&bad), None);
    assert_eq!(label(&[0u8; LABEL_SCAN]), None);
    let mut hdr = PV1[4096..4096 + MDA_HEADER].to_vec();
    hdr[100] ^= 1;
    assert_eq!(text_at(&l, &hdr), None, "a damaged metadata header");
}

#[test]
fn volume_group_and_tables() {
    let mut toks = vec![Token::EMPTY; 4096];
    let vg = parse(&text(PV1), &mut toks).unwrap();
    assert_eq!(vg.name.as_str(), "test-vg");
    assert_eq!(vg.pvs.len(), 2);
    assert!(vg.seqno >= 6);
    let names: Vec<_> = vg.lvs.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["swap", "frag", "spacer", "st"]);
    let dev = |id: &Id| -> Option<(u32, u32)> { Some(if id.ends_with('1') { (8, 1) } else { (8, 17) }) };
    let lv = |n: &str| vg.lvs.iter().find(|l| l.name == n).unwrap();
    let swap = lv("swap");
    assert_eq!(swap.segments.len(), 1);
    assert_eq!(swap.segments[0].len, 16 * 2048);
    assert_eq!(segment_params(&swap.segments[0], &dev).unwrap(), ("linear", heapless::String::try_from("8:1 2048").unwrap()));
    let frag = lv("frag");
    assert_eq!(frag.segments.len(), 2, "extended past spacer");
    assert_eq!((frag.segments[1].start, frag.segments[1].len), (4 * 2048, 4 * 2048));
    assert_eq!(segment_params(&frag.segments[1], &dev).unwrap().1.as_str(), format!("8:1 {}", 2048 + 24 * 2048));
    let st = lv("st");
    let (kind, p) = segment_params(&st.segments[0], &dev).unwrap();
    assert_eq!(kind, "striped");
    assert!(p.starts_with("2 128 8:1 ") && p.contains(" 8:17 2048"), "{p}");
    assert_eq!(dm_name("test-vg", "swap").unwrap().as_str(), "test--vg-swap");
    assert_eq!(dm_uuid(&vg, swap).len(), 68);
    assert!(dm_uuid(&vg, swap).starts_with("LVM-"));
}

/// The volume group's name: the first section of the text.
fn vg_name(t: &str) -> String {
    t.lines().find(|l| l.trim_end().ends_with(" {")).unwrap().trim_end().trim_end_matches(" {").to_string()
}

#[test]
fn refusals() {
    let mut toks = vec![Token::EMPTY; 4096];
    let t = text(PV1);
    let hidden = t.replacen("\"VISIBLE\"", "\"X\"", 1);
    let vg = parse(&hidden, &mut toks).unwrap();
    assert_eq!(vg.lvs[0].refused, Some("hidden (a part of another LV)"));
    let raid = t.replacen("type = \"striped\"", "type = \"raid1\"", 1);
    assert!(parse(&raid, &mut toks).unwrap().lvs[0].refused.unwrap().contains("raid"));
    assert!(matches!(parse(&t[..t.len() / 2], &mut toks), Err(Error::Json(_))));
    assert_eq!(parse("contents = \"Text Format Volume Group\"\n", &mut toks).err(), Some(Error::Metadata("no volume group")));
    // Nesting is bounded, in sections and in lists: no unbounded recursion.
    // Names lvm2 would refuse never become /dev paths or mapper names.
    assert!(valid_name("debian-vg") && valid_name("a+b_c.d") && !valid_name("-x") && !valid_name("..") && !valid_name("a/b") && !valid_name(""));
    assert!(!valid_name(&"v".repeat(128)) && valid_name(&"v".repeat(127)));
    let dashed = t.replacen(&format!("{} {{", vg_name(&t)), "-dashed {", 1);
    assert_eq!(parse(&dashed, &mut toks).err(), Some(Error::Metadata("a volume group name lvm2 does not allow")));
    let deep = format!("a = {}1{}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(parse(&deep, &mut toks).err(), Some(Error::Json(json::Error::TooDeep)));
    let deep = format!("{}{}", "s {\n".repeat(5000), "}\n".repeat(5000));
    assert_eq!(parse(&deep, &mut toks).err(), Some(Error::Json(json::Error::TooDeep)));
}
