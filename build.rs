//! Passes `link.ld` (discarding unwind tables) to the linker of the binary.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    if std::env::var("TARGET").is_ok_and(|t| t.ends_with("-linux-musl")) {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/link.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
    }
    println!("cargo:rerun-if-changed=link.ld");
}
