//! Passes `link.ld` (discarding unwind tables) to the linker of the binary.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("-linux-musl") {
        // x86_64 links through cc (-Wl,), aarch64 straight with rust-lld.
        if target.starts_with("aarch64") {
            println!("cargo:rustc-link-arg-bins=--script={dir}/link.ld");
            println!("cargo:rustc-link-arg-bins=--no-eh-frame-hdr");
        } else {
            println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/link.ld");
            println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
        }
    }
    println!("cargo:rerun-if-changed=link.ld");
}
