//! Build script: on Linux with glibc, the unwinder is linked in from libgcc_eh.a instead of
//! loading libgcc_s.so.1 at every start.
//!
//! Why: libgcc_s.so.1's constructor (`__cpu_indicator_init`) runs CPUID over and over, and
//! on a virtual machine every CPUID traps to the hypervisor (≈ 20 µs each on this project's
//! VM): loading the library cost ≈ 0.13 ms of each process's ≈ 2 ms start, more than a
//! tenth of what a `pcap` run on a small capture spends before its pipeline
//! (docs/benchmarks.md#startup). glibc itself stays a shared library (NSS needs it).
//!
//! How: Rust's `unwind` crate asks the linker for `-lgcc_s`. A linker script of that name in
//! OUT_DIR, searched before the compiler's own directories, stands in for it and names
//! libgcc_eh.a, the same unwinder that gcc's `-static-libgcc` links. Where the compiler has
//! no libgcc_eh.a, or the target is another OS or libc, or not the building machine (a
//! cross build), or links statically anyway, nothing changes.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    // A cross build's linker would need the target's libgcc_eh.a; `cc` names the host's.
    let cross = var("TARGET") != var("HOST");
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || static_crt
        || cross
    {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    // The compiler prints the bare name back when it has no such file.
    let eh = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !eh.is_absolute() || !eh.is_file() {
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR")).join("unwind");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    std::fs::write(
        dir.join("libgcc_s.so"),
        format!("INPUT({})\n", eh.display()),
    )
    .expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search=native={}", dir.display());
}
