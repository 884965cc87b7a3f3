#!/usr/bin/env bash
# Which inflater could make `shakedown pcap` on a gzip'd capture faster: the gzip'd bench
# capture of benches/pcap_input.sh (pcap_gen, `gzip -6`) inflated by a small program built
# here with each candidate — flate2 on miniz_oxide (what shakedown uses), on zlib-rs and on
# zlib-ng (C, needs cmake); C libdeflate (the libdeflater crate) and zune-inflate (Rust),
# both whole-buffer: the mapped file in, one buffer of the gzip trailer's size out; ISA-L
# (the isal-rs crate over the system's libisal, streaming) — beside `igzip -dc`, `gzip -dc`
# and shakedown's own `pcap F.gz`. Also: flate2 without the gzip wrapper (raw deflate, so no CRC32) and CRC32
# alone over the plain capture, to see what the checksum costs.
#
# The program is written into WORK and built there (its crates come from crates.io); nothing
# of it is part of shakedown's build. Candidates whose tools are missing are left out:
# zlib-ng without cmake, ISA-L without libisal-dev (Debian: `apt-get install cmake
# libisal-dev isal`). Every command runs in turn, RUNS rounds; printed per command: the
# median and every run's CPU time (user + system, of the whole process, from /usr/bin/time)
# and wall time. CPU time is the figure to compare on a shared machine: the inflaters are
# single-threaded, and wall time under load mostly measures the other processes.
#
# Usage: benches/inflate_compare.sh   (env: MB=256, RUNS=7, WORK=/dir/for/big/files,
#                                      GEN=/path/to/a/built/pcap_gen,
#                                      SHAKEDOWN=/path/to/a/built/shakedown,
#                                      CAPTURE=/a/capture/to/gzip/instead)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${MB:-256}
RUNS=${RUNS:-7}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
trap 'rm -f "$WORK"/inflate-*.pcap "$WORK"/inflate-*.pcap.gz' EXIT
if [ -z "${SHAKEDOWN:-}" ]; then
    cargo build --release --quiet
    SHAKEDOWN=$(realpath "${CARGO_TARGET_DIR:-target}/release/shakedown")
fi
if [ -n "${CAPTURE:-}" ]; then
    F=$(realpath "$CAPTURE")
    G="$WORK/inflate-given.pcap.gz"
else
    F="$WORK/inflate-$MB.pcap"
    G="$F.gz"
    if [ -n "${GEN:-}" ]; then "$GEN" "$F" "$MB" | tail -1; else cargo bench --quiet --bench pcap_gen -- "$F" "$MB" | tail -1; fi
fi
gzip -6 -c "$F" > "$G"
ls -l "$F" "$G" | awk '{print $5, $9}'

P="$WORK/inflate-bench"
mkdir -p "$P/src"
backends=(miniz zlib-rs)
command -v cmake >/dev/null && backends+=(zlib-ng)
isal=
[ -e /usr/include/isa-l.h ] && isal=,isal
cat > "$P/Cargo.toml" <<'EOF'
[package]
name = "inflate-bench"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
flate2 = { version = "1.1.11", default-features = false }
crc32fast = "1"
libdeflater = "1"
memmap2 = "0.9"
zune-inflate = "0.2"
isal-rs = { version = "0.5", default-features = false, features = ["use-system-isal", "shared"], optional = true }

[features]
miniz = ["flate2/rust_backend"]
zlib-rs = ["flate2/zlib-rs", "flate2/runtime_detection"]
zlib-ng = ["flate2/zlib-ng"]
isal = ["dep:isal-rs"]

[workspace]
EOF
cat > "$P/src/main.rs" <<'EOF'
//! inflate-bench MODE FILE [CHUNK [INBUF]]: inflates FILE (gzip) by MODE, reading the output
//! in CHUNK-byte reads from a decoder fed INBUF-byte reads of the file, and prints the
//! number of bytes out. MODE crc: CRC32 of FILE (not gzip'd) instead.
use std::fs::File;
use std::io::{BufRead, BufReader, Read};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (mode, path) = (a[1].as_str(), &a[2]);
    let chunk: usize = a.get(3).map_or(1 << 16, |s| s.parse().unwrap());
    let inbuf: usize = a.get(4).map_or(32 << 10, |s| s.parse().unwrap());
    let file = || BufReader::with_capacity(inbuf, File::open(path).unwrap());
    let out = match mode {
        "stream" => drain(flate2::bufread::MultiGzDecoder::new(file()), chunk),
        "raw" => {
            let mut input = file();
            skip_gzip_header(&mut input);
            drain(flate2::bufread::DeflateDecoder::new(input), chunk)
        }
        "libdeflate" => {
            let gz = map(path);
            let mut out = vec![0u8; isize(&gz)];
            let n = libdeflater::Decompressor::new().gzip_decompress(&gz, &mut out).unwrap();
            n as u64
        }
        "zune" => {
            let gz = map(path);
            let options = zune_inflate::DeflateOptions::default()
                .set_limit(usize::MAX)
                .set_size_hint(isize(&gz));
            let mut d = zune_inflate::DeflateDecoder::new_with_options(&gz, options);
            d.decode_gzip().unwrap().len() as u64
        }
        #[cfg(feature = "isal")]
        "isal" => drain(isal::read::Decoder::new(file(), isal::Codec::Gzip), chunk),
        "crc" => {
            let mut h = crc32fast::Hasher::new();
            let mut r = file();
            let mut n = 0;
            loop {
                let buf = r.fill_buf().unwrap();
                if buf.is_empty() {
                    break;
                }
                h.update(buf);
                let len = buf.len();
                n += len as u64;
                r.consume(len);
            }
            std::hint::black_box(h.finalize());
            n
        }
        _ => panic!("unknown mode {mode}"),
    };
    println!("{out}");
}

/// The whole file in memory, as shakedown maps a capture file (a read into a buffer would
/// add a copy of the input that shakedown does not make).
fn map(path: &str) -> memmap2::Mmap {
    let file = File::open(path).unwrap();
    // SAFETY: the file is this benchmark's own, and nothing changes it while it is mapped.
    unsafe { memmap2::Mmap::map(&file).unwrap() }
}

/// The gzip trailer's ISIZE: the uncompressed size modulo 4 GiB (of the last member).
fn isize(gz: &[u8]) -> usize {
    u32::from_le_bytes(gz[gz.len() - 4..].try_into().unwrap()) as usize
}

fn skip_gzip_header(r: &mut impl BufRead) {
    let mut h = [0u8; 10];
    r.read_exact(&mut h).unwrap();
    let flags = h[3];
    if flags & 4 != 0 {
        let mut xlen = [0u8; 2];
        r.read_exact(&mut xlen).unwrap();
        std::io::copy(&mut r.take(u16::from_le_bytes(xlen).into()), &mut std::io::sink()).unwrap();
    }
    for flag in [8, 16] {
        if flags & flag != 0 {
            r.read_until(0, &mut Vec::new()).unwrap();
        }
    }
    if flags & 2 != 0 {
        r.read_exact(&mut [0u8; 2]).unwrap();
    }
}

fn drain(mut r: impl Read, chunk: usize) -> u64 {
    let mut buf = vec![0u8; chunk];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf).unwrap() {
            0 => return total,
            n => total += n as u64,
        }
    }
}
EOF
for backend in "${backends[@]}"; do
    f=$backend
    [ "$backend" = miniz ] && f=miniz$isal
    (cd "$P" && cargo build --release --quiet --features "$f")
    cp "$P/target/release/inflate-bench" "$WORK/inflate-$backend"
done
grep -A1 -E '^name = "(flate2|miniz_oxide|zlib-rs|libz-ng-sys|libdeflate-sys|zune-inflate|isal-rs)"' "$P/Cargo.lock" |
    grep -v '^--' | paste - - | awk '{print $3, $6}' | tr -d '"' | paste -sd' '

cmds=(
    "$SHAKEDOWN pcap $G > /dev/null"
    "$WORK/inflate-miniz stream $G"
    "$WORK/inflate-zlib-rs stream $G"
)
[ -e "$WORK/inflate-zlib-ng" ] && cmds+=("$WORK/inflate-zlib-ng stream $G")
cmds+=(
    "$WORK/inflate-miniz libdeflate $G"
    "$WORK/inflate-miniz zune $G"
)
[ -n "$isal" ] && cmds+=("$WORK/inflate-miniz isal $G")
command -v igzip >/dev/null && cmds+=("igzip -dc $G > /dev/null")
cmds+=(
    "gzip -dc $G > /dev/null"
    # The read sizes: the decoder's output read in 8 KiB or 1 MiB pieces (64 KiB above), fed
    # the file in pieces of the same size (32 KiB above).
    "$WORK/inflate-miniz stream $G 8192 8192"
    "$WORK/inflate-miniz stream $G 1048576 1048576"
    "$WORK/inflate-zlib-rs stream $G 8192 8192"
    "$WORK/inflate-zlib-rs stream $G 1048576 1048576"
    "$WORK/inflate-miniz raw $G"
    "$WORK/inflate-zlib-rs raw $G"
    "$WORK/inflate-miniz crc $F"
)
echo "load before: $(cat /proc/loadavg)"
python3 - "$RUNS" "$(stat -c %s "$F")" "$WORK" "$F" "$SHAKEDOWN" "${cmds[@]}" <<'PY'
import re, statistics, subprocess, sys
runs, size, work, plain, shakedown = sys.argv[1:6]
runs, cmds = int(runs), sys.argv[6:]
cpu = {c: [] for c in cmds}
wall = {c: [] for c in cmds}
for _ in range(runs):
    for c in cmds:
        p = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S", "sh", "-c", c],
                           capture_output=True, text=True)
        # Every inflater must give the whole capture back.
        if c.split()[0].rsplit("/", 1)[-1].startswith("inflate-") and p.stdout.strip() != size:
            sys.exit(f"{c}: {p.stdout.strip()} bytes out, not {size}: {p.stderr}")
        t = re.findall(r"TIME ([\d.]+) ([\d.]+) ([\d.]+)", p.stderr)[-1]
        wall[c].append(float(t[0]))
        cpu[c].append(float(t[1]) + float(t[2]))
print("| command | CPU median | CPU runs (s) | wall median | wall runs (s) |")
print("|---|---|---|---|---|")
for c in cmds:
    f = lambda xs: " ".join(f"{x:.2f}" for x in xs)
    # Printed short: F for the capture, W for WORK.
    short = (c.replace(shakedown, "shakedown").replace(work + "/inflate-given.pcap.gz", "F.gz")
             .replace(plain, "F").replace(work, "W"))
    print(f"| `{short}` | {statistics.median(cpu[c]):.2f} s | {f(cpu[c])} "
          f"| {statistics.median(wall[c]):.2f} s | {f(wall[c])} |")
PY
echo "load after: $(cat /proc/loadavg)"
