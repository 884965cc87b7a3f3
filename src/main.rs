//! The `shakedown` binary: the library's command line (`cli::main`), whose return value is
//! the process's exit code (README, "Exit codes everywhere").

// mimalloc: memory allocated on one thread and freed on another (the scan's pool
// threads, pcap's reports) sent glibc's malloc down its slow paths
// (docs/benchmarks-history.md, "Reports on a second thread"). Built with `no_thp`
// (Cargo.toml): no 2 MiB heap pages, whose zeroing at first touch cost 3–80 ms of a pcap
// run (docs/benchmarks.md#pcap-quic-thp).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(shakedown::cli::main());
}
