//! bench/kdf.sh's Rust side: the KDF of keyslot 0 of a LUKS2 header
//! (made by cryptsetup), as the init runs it (`luks::derive`, RustCrypto's
//! Argon2 or PBKDF2 in memory mapped once), timed REPS times:
//!   ours <kdf> <ms per run, min> <ms, median>
//! Run on the host: `cargo run --release --example kdf --target
//! x86_64-unknown-linux-gnu -- HEADER_FILE [REPS]`.
use std::time::Instant;

use resume_init::json::Token;
use resume_init::luks::{self, Block, Kdf};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let img = std::fs::read(&args[1]).expect("header file");
    let reps: usize = args.get(2).map_or(3, |r| r.parse().expect("REPS"));
    let h = luks::check_copy(&img, 0).expect("a LUKS2 header");
    let text = luks::json_text(&img, &h).expect("its JSON");
    let mut toks = vec![Token::EMPTY; luks::MAX_TOKENS];
    let meta = luks::parse_meta(text, &mut toks).expect("its metadata");
    let slot = &meta.keyslots[0];
    let kind = match slot.kdf {
        Kdf::Pbkdf2 { iterations, .. } => format!("pbkdf2-sha256 iterations={iterations}"),
        Kdf::Argon2 { id, time, memory_kib, lanes, .. } => format!("{} t={time} m={memory_kib}KiB p={lanes}", if id { "argon2id" } else { "argon2i" }),
    };
    let mut mem = vec![Block::new(); slot.kdf_memory_kib() as usize];
    let mut out = [0u8; luks::MAX_KEY];
    let mut ms: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            luks::derive(slot, b"bench passphrase", &mut mem, &mut out).expect("derive");
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("ours {kind} {:.0} {:.0}", ms[0], ms[ms.len() / 2]);
}
