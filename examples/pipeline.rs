//! bench/pipeline.sh's Rust side: our LZO1X encoder and decoder, lz4_flex (encoder), our LZ4 decoder
//! and our CRC-32 over a file cut into 128 KiB chunks, as the
//! hibernation stream is cut, on 1..N threads. One line per codec and
//! thread count, the same as the kernel harness's:
//!   ours <what> <threads> <MB/s> <output/input>
//! Run on the host: `cargo run --release --example pipeline --target
//! x86_64-unknown-linux-gnu -- FILE [MAX_THREADS] [REPS]`.
use std::time::Instant;

use resume_init::{crc32, lz4, lzo, lzo_compress};

const CHUNK: usize = 131072;

/// A thread's buffers, made once before the clock starts, as the C harness
/// and the init itself keep them (no allocation or zeroing per chunk).
struct Scratch {
    out: Vec<u8>,
    lzo: lzo_compress::Table,
}

fn run(threads: usize, chunks: usize, job: &(dyn Fn(usize, &mut Scratch) + Sync)) -> f64 {
    let mut scratch: Vec<Scratch> = (0..threads)
        .map(|_| Scratch { out: vec![0u8; lz4_flex::block::get_maximum_output_size(CHUNK).max(lzo_compress::worst_case(CHUNK))], lzo: lzo_compress::Table::new() })
        .collect();
    let t = Instant::now();
    std::thread::scope(|s| {
        for (k, sc) in scratch.iter_mut().enumerate() {
            s.spawn(move || {
                let mut c = k;
                while c < chunks {
                    job(c, sc);
                    c += threads;
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("a sample file");
    let max_threads: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let reps: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(3);
    let chunks: Vec<&[u8]> = data.chunks(CHUNK).collect();
    let n = chunks.len();
    let lzo: Vec<std::sync::Mutex<Vec<u8>>> = (0..n).map(|_| Default::default()).collect();
    let lz4: Vec<std::sync::Mutex<Vec<u8>>> = (0..n).map(|_| Default::default()).collect();
    let mb = |secs: f64| (reps * data.len()) as f64 / secs / 1e6;
    let ratio = |v: &[std::sync::Mutex<Vec<u8>>]| v.iter().map(|c| c.lock().unwrap().len()).sum::<usize>() as f64 / data.len() as f64;
    // Compression fills the buffers the decoders then read (one thread count).
    // The compressed chunks are stored once, outside the clock.
    for (c, chunk) in chunks.iter().enumerate() {
        let mut out = vec![0u8; lzo_compress::worst_case(CHUNK)];
        let k = lzo_compress::compress_into(chunk, &mut out, &mut lzo_compress::Table::new()).unwrap();
        out.truncate(k);
        *lzo[c].lock().unwrap() = out;
        let mut out = vec![0u8; lz4_flex::block::get_maximum_output_size(CHUNK)];
        let k = lz4_flex::block::compress_into(chunk, &mut out).unwrap();
        out.truncate(k);
        *lz4[c].lock().unwrap() = out;
    }
    let (lzo_ratio, lz4_ratio) = (ratio(&lzo), ratio(&lz4));
    // The decoders read the kernel's own streams where the C harness left
    // them (PIPELINE_STREAMS=PREFIX: PREFIX.lzo, PREFIX.lz4), so that both
    // sides decode the same bytes.
    if let Ok(pre) = std::env::var("PIPELINE_STREAMS") {
        for (ext, v) in [("lzo", &lzo), ("lz4", &lz4)] {
            let all = std::fs::read(format!("{pre}.{ext}")).expect("the C harness's streams");
            let mut at = 0;
            for slot in v.iter() {
                let l = u32::from_le_bytes(all[at..at + 4].try_into().unwrap()) as usize;
                *slot.lock().unwrap() = all[at + 4..at + 4 + l].to_vec();
                at += 4 + l;
            }
        }
    }
    let s = run(1, n, &|c, sc| {
        for _ in 0..reps {
            std::hint::black_box(lzo_compress::compress_into(chunks[c], &mut sc.out, &mut sc.lzo).unwrap());
        }
    });
    println!("ours lzo-compress 1 {:.0} {:.3}", mb(s), lzo_ratio);
    let mut threads = 1;
    while threads <= max_threads {
        let s = run(threads, n, &|c, sc| {
            let src = lzo[c].lock().unwrap();
            for _ in 0..reps {
                lzo::decompress_into(&src, &mut sc.out[..CHUNK]).unwrap();
            }
        });
        println!("ours lzo-decompress {threads} {:.0} 1.000", mb(s));
        threads *= 2;
    }
    let s = run(1, n, &|c, sc| {
        for _ in 0..reps {
            std::hint::black_box(lz4_flex::block::compress_into(chunks[c], &mut sc.out).unwrap());
        }
    });
    println!("ours lz4-compress 1 {:.0} {:.3}", mb(s), lz4_ratio);
    let mut threads = 1;
    while threads <= max_threads {
        let s = run(threads, n, &|c, sc| {
            let src = lz4[c].lock().unwrap();
            for _ in 0..reps {
                lz4::decompress_into(&src, &mut sc.out[..CHUNK]).unwrap();
            }
        });
        println!("ours lz4-decompress {threads} {:.0} 1.000", mb(s));
        threads *= 2;
    }
    let mut threads = 1;
    while threads <= max_threads {
        let s = run(threads, n, &|c, _| {
            let mut x = 0;
            for _ in 0..reps {
                x ^= crc32::update(0, chunks[c]);
            }
            std::hint::black_box(x);
        });
        println!("ours crc32 {threads} {:.0} 1.000", mb(s));
        threads *= 2;
    }
}
