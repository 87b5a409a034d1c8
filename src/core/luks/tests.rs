//! Against real headers: `cryptsetup luksFormat` on plain files (no
//! device-mapper needed), with a known volume key, so every step can be
//! checked; key material decrypted here with RustCrypto's AES-XTS (the
//! init has dm-crypt do it). And cryptsetup's own KDF vectors.

use super::*;
use std::path::PathBuf;
use std::process::Command;

const PASS: &[u8] = b"correct horse battery staple";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("resume-init-luks-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A LUKS2 file made by cryptsetup with `args`; returns it and its volume key.
fn format(name: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    format_as("luks2", name, args)
}

fn format_as(kind: &str, name: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let img = tmp(name);
    let key = tmp(&format!("{name}.key"));
    let vk = tmp(&format!("{name}.vk"));
    let vkey: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    std::fs::write(&key, PASS).unwrap();
    std::fs::write(&vk, &vkey).unwrap();
    std::fs::write(&img, vec![0u8; 24 << 20]).unwrap();
    let mut c = Command::new("cryptsetup");
    c.args(["luksFormat", "--batch-mode", "--type", kind, "--key-file"]).arg(&key).arg("--volume-key-file").arg(&vk);
    c.args(args).arg(&img);
    let out = c.output().unwrap_or_else(|e| panic!("cryptsetup (apt install cryptsetup-bin; scripts/setup.sh does): {e}"));
    assert!(out.status.success(), "cryptsetup luksFormat {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    (std::fs::read(&img).unwrap(), vkey)
}

const SMALL_ARGON: &[&str] = &["--pbkdf", "argon2id", "--pbkdf-memory", "1024", "--pbkdf-force-iterations", "4", "--pbkdf-parallel", "1"];

/// Decrypts key material as dm-crypt would with `aes-xts-plain64`.
fn xts_decrypt(key: &[u8], buf: &mut [u8]) {
    use aes::cipher::KeyInit;
    let half = key.len() / 2;
    match half {
        32 => {
            let x = xts_mode::Xts128::new(aes::Aes256::new_from_slice(&key[..half]).unwrap(), aes::Aes256::new_from_slice(&key[half..]).unwrap());
            x.decrypt_area(buf, 512, 0, xts_mode::get_tweak_default);
        }
        16 => {
            let x = xts_mode::Xts128::new(aes::Aes128::new_from_slice(&key[..half]).unwrap(), aes::Aes128::new_from_slice(&key[half..]).unwrap());
            x.decrypt_area(buf, 512, 0, xts_mode::get_tweak_default);
        }
        _ => panic!("key size {}", key.len()),
    }
}

fn header(img: &[u8]) -> (BinHeader, Meta) {
    let h = check_copy(img, 0).expect("primary header");
    let mut toks = vec![Token::EMPTY; MAX_TOKENS];
    let meta = parse_meta(json_text(img, &h).unwrap(), &mut toks).unwrap();
    (h, meta)
}

/// The whole unlock, the area decrypted in user space.
fn unlock(img: &[u8], meta: &Meta, pass: &[u8]) -> Option<Vec<u8>> {
    for slot in &meta.keyslots {
        let mut mem = vec![Block::new(); slot.kdf_memory_kib() as usize];
        let mut dk = [0u8; MAX_KEY];
        derive(slot, pass, &mut mem, &mut dk).unwrap();
        let at = slot.area_offset as usize;
        let mut material = img[at..at + slot.material_len()].to_vec();
        xts_decrypt(&dk[..slot.area_key_size], &mut material);
        let mut key = vec![0u8; slot.key_size];
        af_merge(&material, slot.stripes, &mut key);
        if meta.is_volume_key(&key) {
            return Some(key);
        }
    }
    None
}

#[test]
fn argon2id_keyslot_opens_with_the_passphrase_only() {
    let (img, vkey) = format("a2id", SMALL_ARGON);
    let (h, meta) = header(&img);
    assert_eq!(version(&img), Some(2));
    assert_eq!(h.hdr_size, 0x4000);
    assert_eq!(h.uuid.len(), 36);
    assert_eq!(meta.keyslots.len(), 1);
    let s = &meta.keyslots[0];
    assert!(matches!(s.kdf, Kdf::Argon2 { id: true, time: 4, memory_kib: 1024, lanes: 1, .. }), "{:?}", s.kdf);
    assert_eq!((s.key_size, s.stripes, s.area_cipher.as_str()), (64, 4000, "aes-xts-plain64"));
    assert_eq!(meta.segment.size, None);
    assert_eq!(meta.segment.offset, 16 << 20);
    assert_eq!(meta.segment.cipher.as_str(), "aes-xts-plain64");
    assert_eq!(unlock(&img, &meta, PASS).as_deref(), Some(&vkey[..]));
    assert_eq!(unlock(&img, &meta, b"wrong"), None);
    assert!(meta.is_volume_key(&vkey));
    assert!(!meta.is_volume_key(&[0u8; 64]));
}

#[test]
fn pbkdf2_argon2i_4k_sectors_and_discards() {
    let (img, vkey) = format("pb", &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--sector-size", "4096", "--key-size", "256", "--key-slot", "4"]);
    let (_, meta) = header(&img);
    assert_eq!(meta.keyslots[0].id, 4);
    assert!(matches!(meta.keyslots[0].kdf, Kdf::Pbkdf2 { iterations: 1000, .. }));
    assert_eq!(meta.segment.sector_size, 4096);
    assert_eq!(unlock(&img, &meta, PASS).as_deref(), Some(&vkey[..32]));
    let (len, p) = crypt_params(&meta.segment, KeyArg::Hex(&vkey[..32]), (254, 3), 24 << 20, true).unwrap();
    assert_eq!(len, (8 << 20) / 512);
    let hex: String = vkey[..32].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(p.as_str(), format!("aes-xts-plain64 {hex} 0 254:3 32768 2 allow_discards sector_size:4096"));
    assert_eq!(crypt_params(&meta.segment, KeyArg::Hex(&vkey[..32]), (254, 3), 16 << 20, false), None, "a device that ends at the segment");

    let (img, vkey) = format("a2i", &["--pbkdf", "argon2i", "--pbkdf-memory", "2048", "--pbkdf-force-iterations", "4", "--pbkdf-parallel", "2"]);
    let (_, meta) = header(&img);
    assert!(matches!(meta.keyslots[0].kdf, Kdf::Argon2 { id: false, lanes: 2, .. }));
    assert_eq!(unlock(&img, &meta, PASS).as_deref(), Some(&vkey[..]));
}

#[test]
fn damaged_headers_are_refused() {
    let (img, _) = format("dmg", SMALL_ARGON);
    let h = check_copy(&img, 0).unwrap();
    // Any flipped byte of the header breaks the checksum.
    for at in [0, 7, 100, 300, BIN_SIZE + 10, h.hdr_size - 1] {
        let mut bad = img.clone();
        bad[at] ^= 0x40;
        assert_eq!(check_copy(&bad, 0), None, "byte {at}");
    }
    // The secondary copy stands in.
    let mut bad = img.clone();
    bad[BIN_SIZE + 3] ^= 1;
    let s = check_copy(&bad[h.hdr_size..], h.hdr_size as u64).expect("secondary header");
    assert_eq!(s.uuid, h.uuid);
    assert_eq!(check_copy(&img[h.hdr_size..], 0), None, "the secondary is not a primary");
    assert_eq!(check_copy(&img[..100], 0), None, "short");
}

#[test]
fn metadata_refusals() {
    let (img, _) = format("meta", SMALL_ARGON);
    let h = check_copy(&img, 0).unwrap();
    let text = json_text(&img, &h).unwrap().to_string();
    let mut toks = vec![Token::EMPTY; MAX_TOKENS];
    let cases: &[(&str, &str, Error)] = &[
        ("\"config\":{", "\"config\":{\"requirements\":{\"mandatory\":[\"online-reencrypt-v2\"]},", Error::Unsupported("mandatory requirements (reencryption, OPAL or hardware tags)")),
        ("\"type\":\"crypt\"", "\"type\":\"linear\"", Error::Unsupported("a segment that is not of type crypt")),
        ("\"type\":\"crypt\",", "\"type\":\"crypt\",\"integrity\":{},", Error::Unsupported("authenticated encryption (integrity)")),
        ("\"type\":\"argon2id\"", "\"type\":\"scrypt\"", Error::Refused(0, "a KDF other than argon2id, argon2i or pbkdf2 with sha256")),
        ("\"type\":\"luks2\"", "\"type\":\"reencrypt\"", Error::Refused(0, "not of type luks2")),
        ("\"digests\":{", "\"x\":{", Error::Metadata("no digests")),
        ("\"sector_size\":4096", "\"sector_size\":4095", Error::Metadata("segment sector_size")),
        ("\"encryption\":\"aes-xts-plain64\",\"sector_size\"", "\"encryption\":\"aes xts\",\"sector_size\"", Error::Metadata("segment encryption")),
    ];
    for (from, to, want) in cases {
        assert!(text.contains(from), "fixture has {from}: {text}");
        let t = text.replacen(from, to, 1);
        assert_eq!(parse_meta(&t, &mut toks).err(), Some(*want), "{from} -> {to}");
    }
    assert!(matches!(parse_meta(&text[..text.len() - 1], &mut toks), Err(Error::Json(_))));
}

/// A keyslot whose values are outside what cryptsetup writes is left out,
/// and the reason kept for the message that names it: nothing wraps (a
/// huge stripe count is not a small key material area, priority 258 is
/// not "preferred"), and no KDF asks for more than cryptsetup would run.
#[test]
fn hostile_keyslot_values_are_refused_by_name() {
    let (img, _) = format("hostile", SMALL_ARGON);
    let h = check_copy(&img, 0).unwrap();
    let text = json_text(&img, &h).unwrap().to_string();
    let mut toks = vec![Token::EMPTY; MAX_TOKENS];
    let ok = parse_meta(&text, &mut toks).unwrap();
    assert_eq!((ok.keyslots.len(), ok.refused.len()), (1, 0));
    let cases: &[(&str, &str, &str)] = &[
        // 2^58 + 8 stripes × 64 bytes wraps to 512 bytes in 64-bit arithmetic.
        (r#""stripes":4000"#, r#""stripes":288230376151711752"#, "a stripe count outside what fits its area"),
        (r#""key_size":64"#, r#""key_size":65"#, "a key size outside 1 to 64 bytes"),
        (r#""type":"luks2","#, r#""type":"luks2","priority":258,"#, "a priority other than 0, 1 or 2"),
        (r#""memory":1024"#, r#""memory":4194305"#, "Argon2 memory outside cryptsetup's 32 KiB to 4 GiB"),
        (r#""cpus":1"#, r#""cpus":5"#, "Argon2 threads outside cryptsetup's 1 to 4"),
        (r#""time":4"#, r#""time":0"#, "Argon2 with 0 passes"),
    ];
    for (from, to, why) in cases {
        assert!(text.contains(from), "fixture has {from}: {text}");
        let t = text.replacen(from, to, 1);
        assert_eq!(parse_meta(&t, &mut toks).err(), Some(Error::Refused(0, why)), "{from} -> {to}");
        // With a second, sound keyslot the bad one is named, the other used.
        let two = t.replacen("\"keyslots\":{", &format!("\"keyslots\":{{\"7\":{},", keyslot_json(&text)), 1).replacen("\"keyslots\":[\"0\"]", "\"keyslots\":[\"0\",\"7\"]", 1);
        let m = parse_meta(&two, &mut toks).unwrap_or_else(|e| panic!("{e}: {two}"));
        assert_eq!((m.keyslots.len(), m.refused.as_slice()), (1, &[(0u8, *why)][..]), "{from} -> {to}");
    }
    // Repeated keys: json-c would read the last, this reader refuses.
    let t = text.replacen("\"type\":\"luks2\",", "\"type\":\"luks2\",\"type\":\"x\",", 1);
    assert!(matches!(parse_meta(&t, &mut toks), Err(Error::Json(crate::json::Error::Key(_)))));
}

/// The JSON text of keyslot 0 of a header's metadata.
fn keyslot_json(text: &str) -> String {
    let start = text.find("\"keyslots\":{\"0\":").unwrap() + "\"keyslots\":{\"0\":".len();
    let mut depth = 0;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return text[start..start + i + 1].to_string();
                }
            }
            _ => {}
        }
    }
    panic!("no keyslot 0 in {text}")
}

#[test]
fn af_merge_of_one_stripe_is_the_block() {
    let mut key = [0u8; 5];
    af_merge(&[1, 2, 3, 4, 5], 1, &mut key);
    assert_eq!(key, [1, 2, 3, 4, 5]);
}

/// cryptsetup `tests/crypto-vectors.c` (RFC 9106 without secret and data).
#[test]
fn kdf_vectors() {
    let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    let salt = Bytes { b: { let mut b = [0u8; 64]; b[..16].fill(2); b }, len: 16 };
    let mut slot = Keyslot {
        id: 0,
        priority: 1,
        key_size: 32,
        stripes: 1,
        area_offset: 0,
        area_size: 512,
        area_cipher: Cipher::try_from("aes-xts-plain64").unwrap(),
        area_key_size: 32,
        kdf: Kdf::Argon2 { id: true, time: 3, memory_kib: 32, lanes: 4, salt },
    };
    let mut mem = vec![Block::new(); 32];
    let mut out = [0u8; 64];
    derive(&slot, &[1u8; 32], &mut mem, &mut out).unwrap();
    assert_eq!(out[..32], hex("03aab965c12001c9d7d0d2de33192c0494b684bb148196d73c1df1acaf6d0c2e")[..]);
    slot.kdf = Kdf::Argon2 { id: false, time: 3, memory_kib: 32, lanes: 4, salt };
    derive(&slot, &[1u8; 32], &mut mem, &mut out).unwrap();
    assert_eq!(out[..32], hex("a9a7510e6db4d588ba3414cd0e094d480d683f97b9ccb612a544fe8ef65ba8e0")[..]);
    // PBKDF2-HMAC-SHA256, RFC 7914 §11.
    let salt = Bytes { b: { let mut b = [0u8; 64]; b[..4].copy_from_slice(b"salt"); b }, len: 4 };
    slot.kdf = Kdf::Pbkdf2 { iterations: 1, salt };
    derive(&slot, b"passwd", &mut [], &mut out).unwrap();
    assert_eq!(out[..32], hex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")[..]);
    // Too little memory for the Argon2 parameters: an error, not a panic.
    slot.kdf = Kdf::Argon2 { id: true, time: 3, memory_kib: 32, lanes: 4, salt };
    assert_eq!(derive(&slot, b"x", &mut mem[..8], &mut out), Err(Error::Kdf));
}

/// RFC 9106 §5.3's own Argon2id and §5.2's Argon2i vectors (with a
/// secret and associated data, which LUKS2 never uses), through the same
/// crate and version [`derive`] calls: the vectors above are the ones
/// without them, from cryptsetup.
#[test]
fn rfc9106_vectors_through_the_argon2_crate() {
    let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    for (alg, tag) in [
        (argon2::Algorithm::Argon2id, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"),
        (argon2::Algorithm::Argon2i, "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"),
    ] {
        let params = argon2::ParamsBuilder::new().m_cost(32).t_cost(3).p_cost(4).data(argon2::AssociatedData::new(&[4; 12]).unwrap()).output_len(32).build().unwrap();
        let a = argon2::Argon2::new_with_secret(&[3; 8], alg, argon2::Version::V0x13, params).unwrap();
        let mut out = [0u8; 32];
        a.hash_password_into_with_memory(&[1; 32], &[2; 16], &mut out, vec![Block::new(); 32]).unwrap();
        assert_eq!(out[..], hex(tag)[..], "{alg:?}");
    }
}

#[test]
fn base64_agrees_with_base64ct() {
    use base64ct::{Base64, Encoding};
    let mut toks = [Token::EMPTY; 4];
    for n in 0..=64usize {
        let data: Vec<u8> = (0..n).map(|i| (i * 97 + n) as u8).collect();
        let text = format!("[\"{}\"]", Base64::encode_string(&data));
        let doc = json::parse(&text, &mut toks).unwrap();
        let got = Bytes::decode(doc.root().items().next()).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(got.as_slice(), &data[..], "{text}");
    }
    for bad in ["[\"abc\"]", "[\"ab!d\"]", "[\"=abc\"]", "[1]"] {
        let doc = json::parse(bad, &mut toks).unwrap();
        assert_eq!(Bytes::decode(doc.root().items().next()), None, "{bad}");
    }
}

#[test]
fn luks1_keyslots_open_with_the_passphrase_only() {
    let fast = ["--pbkdf-force-iterations", "1000"];
    let (img, vkey) = format_as("luks1", "l1", &[&fast[..], &["--hash", "sha256"]].concat());
    assert_eq!(version(&img), Some(1));
    assert_eq!(check_copy(&img, 0), None, "not a LUKS2 header");
    let meta = parse_luks1(&img[..L1_SIZE]).unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.keyslots.len(), 1);
    let s = &meta.keyslots[0];
    assert_eq!((s.id, s.key_size, s.stripes, s.area_cipher.as_str()), (0, 64, 4000, "aes-xts-plain64"));
    assert!(matches!(s.kdf, Kdf::Pbkdf2 { iterations: 1000, .. }), "{:?}", s.kdf);
    assert_eq!((meta.segment.offset, meta.segment.size, meta.segment.sector_size), (4096 * 512, None, 512));
    assert_eq!(unlock(&img, &meta, PASS).as_deref(), Some(&vkey[..]));
    assert_eq!(unlock(&img, &meta, b"wrong"), None);
    let hex: String = vkey.iter().map(|b| format!("{b:02x}")).collect();
    let (len, p) = crypt_params(&meta.segment, KeyArg::Hex(&vkey), (8, 16), 24 << 20, false).unwrap();
    assert_eq!((len, p.as_str()), (((24 << 20) - (2 << 20)) / 512, format!("aes-xts-plain64 {hex} 0 8:16 4096").as_str()));
    // The same through the kernel keyring: the table names the key only.
    let (_, p) = crypt_params(&meta.segment, KeyArg::Logon { size: 64, desc: "cryptsetup:u-d0" }, (8, 16), 24 << 20, false).unwrap();
    assert_eq!(p.as_str(), "aes-xts-plain64 :64:logon:cryptsetup:u-d0 0 8:16 4096");

    // A second keyslot (cryptsetup luksAddKey) in slot 3.
    let img_path = tmp("l1");
    let new = tmp("l1.new");
    std::fs::write(&new, b"another one").unwrap();
    let out = Command::new("cryptsetup")
        .args(["luksAddKey", "--batch-mode", "--key-file"]).arg(tmp("l1.key")).args(["--key-slot", "3"]).args(fast).arg(&img_path).arg(&new)
        .output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let img = std::fs::read(&img_path).unwrap();
    let meta = parse_luks1(&img[..L1_SIZE]).unwrap();
    assert_eq!(meta.keyslots.iter().map(|s| s.id).collect::<Vec<_>>(), [0, 3]);
    assert_eq!(unlock(&img, &meta, b"another one").as_deref(), Some(&vkey[..]));

    // Refusals: SHA-1, no active keyslot, a cipher with a space, short input.
    let mut bad = img.clone();
    bad[L1_HASH..L1_HASH + 6].copy_from_slice(b"sha1\0\0");
    assert!(matches!(parse_luks1(&bad), Err(Error::Unsupported(_))));
    let mut bad = img.clone();
    for id in 0..8 {
        bad[L1_SLOTS + id * L1_SLOT_SIZE..][..4].copy_from_slice(&0xDEADu32.to_be_bytes());
    }
    assert_eq!(parse_luks1(&bad), Err(Error::NoKeyslot));
    let mut bad = img.clone();
    bad[L1_MODE] = b' ';
    assert!(matches!(parse_luks1(&bad), Err(Error::Metadata(_))));
    assert_eq!(parse_luks1(&img[..L1_SIZE - 1]), Err(Error::NoHeader));
}

#[test]
fn keys_are_tried_in_systemds_order() {
    use crate::cmdline::LuksKey;
    let keys = [LuksKey { uuid: Some("OTHER"), path: "/k0" }, LuksKey { uuid: None, path: "/k1" }, LuksKey { uuid: Some("aaaa-bb"), path: "/k2" }];
    let mut o = KeyOrder::new(&keys, "AAAA-BB", true);
    assert_eq!(o.next_source(), Some(KeySource::Keyfile("/k1")));
    assert_eq!(o.next_source(), Some(KeySource::Keyfile("/k2")), "the UUID compared without case");
    assert_eq!(o.next_source(), Some(KeySource::Cached));
    assert_eq!(o.next_source(), Some(KeySource::Console));
    o.failed(true);
    assert_eq!(o.next_source(), Some(KeySource::Console), "asked again after a wrong passphrase");
    o.failed(false);
    assert_eq!(o.next_source(), None, "no keyslot can be tried: no point asking");
    let mut o = KeyOrder::new(&[], "x", false);
    assert_eq!(o.next_source(), Some(KeySource::Console));
}
