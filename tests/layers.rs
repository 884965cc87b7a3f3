//! The layers hold: read from the code, every `crate::…` (and `super::…`) path between our
//! modules must point down the architecture (docs/ARCHITECTURE.md), no two modules may
//! import each other through any chain, and the pure core names no I/O.
//!
//! ```text
//! cli → {commands, report, io, core};  report → {commands, core};  commands → {io, core};
//! io → core;  inside core: assess → {cert, fingerprint} → session → crypto → wire →
//! datetime → {flow, cause, decimal}
//! ```
//!
//! A module here is `core::wire`, `io::capture`, `commands::scan`, `report`, `cli`: the
//! second level under the grouping folders, the first level elsewhere. Test modules
//! (`#[cfg(test)]` to the end of a file, and `src/**/tests.rs`) are left out of the purity
//! check only: their imports count like any other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Grouping folders: a module is named by its first two path segments under them.
const GROUPS: &[&str] = &["core", "io", "commands"];

/// Which modules each module may import (besides itself). Core modules are named without
/// the `core::` prefix in the rule table below for readability.
fn allowed(from: &str, to: &str) -> bool {
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let (ft, tt) = (top(from), top(to));
    match ft.as_str() {
        "cli" => matches!(tt.as_str(), "commands" | "report" | "io" | "core"),
        "report" => matches!(tt.as_str(), "commands" | "core"),
        // A command may use another command's building blocks (simulate builds probes),
        // but the command graph must stay acyclic (checked separately).
        "commands" => matches!(tt.as_str(), "commands" | "io" | "core"),
        "io" => matches!(tt.as_str(), "io" | "core"),
        "core" => tt == "core" && core_allowed(from, to),
        _ => false,
    }
}

/// The order inside the pure core: a module may import those of a lower rank only.
fn core_rank(module: &str) -> Option<u8> {
    Some(match module.strip_prefix("core::")? {
        "flow" | "decimal" | "cause" => 0,
        "datetime" => 1,
        "wire" => 2,
        "crypto" => 3,
        "session" => 4,
        "cert" | "fingerprint" => 5,
        "assess" => 6,
        _ => return None,
    })
}

fn core_allowed(from: &str, to: &str) -> bool {
    match (core_rank(from), core_rank(to)) {
        (Some(f), Some(t)) => t < f,
        // A core module missing from the rank table is a failure: name its place.
        _ => false,
    }
}

/// What the pure core must not touch outside its tests: sockets, files, the clock,
/// randomness, the environment, processes.
const IMPURE: &[&str] = &[
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "std::fs",
    "File::",
    "SystemTime::now",
    "Instant::now",
    "getrandom",
    "std::env",
    "std::process",
    "thread::sleep",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/core/wire/build.rs` → `["core", "wire", "build"]`.
fn file_module(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The architectural module a module path belongs to (`core::wire`, `report`, …).
fn layer_module(path: &[String]) -> Option<String> {
    let first = path.first()?;
    if GROUPS.contains(&first.as_str()) {
        Some(format!("{first}::{}", path.get(1)?))
    } else {
        Some(first.clone())
    }
}

/// Every module path a file names through `crate::` or `super::` (grouped imports
/// `crate::{a, b::c}` expanded one level), resolved to absolute segments.
fn referenced_paths(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let ident = |i: usize| -> (String, usize) {
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        (text[i..j].to_string(), j)
    };
    let mut starts: Vec<usize> = text
        .match_indices("crate::")
        .chain(text.match_indices("super::"))
        .map(|(i, _)| i)
        .collect();
    starts.sort();
    for i in starts {
        // Only whole words (`mycrate::` is not `crate::`), and a `super::super::` chain
        // once, from its start.
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        if text[..i].ends_with("super::") {
            continue;
        }
        let (base, start) = if text[i..].starts_with("crate::") {
            (Vec::new(), i + "crate::".len())
        } else {
            // `super` of a file module is its parent; `mod.rs` files are their folder.
            let mut base = here.to_vec();
            let mut j = i;
            while text[j..].starts_with("super::") {
                base.pop();
                j += "super::".len();
            }
            (base, j)
        };
        let mut segs = base.clone();
        let mut j = start;
        loop {
            if j < bytes.len() && bytes[j] == b'{' {
                // A group: each member's first two segments.
                let close = text[j..].find('}').map(|k| j + k).unwrap_or(bytes.len());
                for member in text[j + 1..close].split(',') {
                    let member: Vec<String> = member
                        .trim()
                        .split("::")
                        .take(2)
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty() && s != "self")
                        .collect();
                    let mut p = segs.clone();
                    p.extend(member);
                    out.push(p);
                }
                break;
            }
            let (name, end) = ident(j);
            if name.is_empty() {
                break;
            }
            segs.push(name);
            j = end;
            if text[j..].starts_with("::") && segs.len() < base.len() + 2 {
                j += 2;
            } else {
                break;
            }
        }
        if segs.len() > base.len() {
            out.push(segs);
        }
    }
    out
}

struct Graph {
    /// module → (module it imports → one file that does it)
    edges: Edges,
    /// module → files whose non-test code touches I/O, with what
    impure: Vec<String>,
}

fn read_graph() -> Graph {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut impure = Vec::new();
    for file in &files {
        let here = file_module(src, file);
        let Some(from) = layer_module(&here) else {
            continue; // lib.rs / main.rs: the crate root names every layer
        };
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(src).unwrap().display().to_string();
        for path in referenced_paths(&text, &here) {
            if let Some(to) = layer_module(&path)
                && to != from
            {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| rel.clone());
            }
        }
        if from.starts_with("core::") && !rel.ends_with("tests.rs") {
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for word in IMPURE {
                if code.contains(word) {
                    impure.push(format!("src/{rel}: {word}"));
                }
            }
        }
    }
    Graph { edges, impure }
}

#[test]
fn imports_point_down() {
    let graph = read_graph();
    let mut wrong = Vec::new();
    for (from, tos) in &graph.edges {
        for (to, file) in tos {
            if !allowed(from, to) {
                wrong.push(format!("{from} → {to} (src/{file})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers (see docs/ARCHITECTURE.md):\n  {}",
        wrong.join("\n  ")
    );
}

type Edges = BTreeMap<String, BTreeMap<String, String>>;

/// The modules on an import cycle: those that reach themselves.
fn cyclic_modules(edges: &Edges) -> Vec<&String> {
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.to_string()];
        while let Some(m) = stack.pop() {
            for next in edges.get(&m).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    edges.keys().filter(|m| reach(m).contains(*m)).collect()
}

#[test]
fn no_import_cycles() {
    let graph = read_graph();
    let cyclic = cyclic_modules(&graph.edges);
    let arrows: Vec<String> = graph
        .edges
        .iter()
        .filter(|(m, _)| cyclic.contains(m))
        .flat_map(|(m, tos)| {
            tos.iter()
                .filter(|(t, _)| cyclic.contains(t))
                .map(move |(t, file)| format!("{m} → {t} (src/{file})"))
        })
        .collect();
    assert!(
        cyclic.is_empty(),
        "modules on an import cycle: {cyclic:?}\narrows between them:\n  {}",
        arrows.join("\n  ")
    );
}

#[test]
fn the_core_is_pure() {
    let graph = read_graph();
    assert!(
        graph.impure.is_empty(),
        "I/O, clock or randomness in the pure core (outside tests):\n  {}",
        graph.impure.join("\n  ")
    );
}

/// The checker itself: an upward import and a cycle are found.
#[test]
fn the_checker_sees_upward_imports_and_cycles() {
    let here: Vec<String> = vec!["core".into(), "wire".into(), "build".into()];
    let paths = referenced_paths(
        "use crate::io::net::Target;\nuse super::super::session::X;\nuse crate::{report, core::flow};",
        &here,
    );
    let modules: Vec<String> = paths.iter().filter_map(|p| layer_module(p)).collect();
    assert_eq!(
        modules,
        ["io::net", "core::session", "report", "core::flow"]
    );
    assert!(!allowed("core::wire", "io::net"));
    assert!(!allowed("core::wire", "core::session"));
    assert!(allowed("core::session", "core::wire"));
    assert!(!allowed("commands::scan", "cli"));
    assert!(!allowed("commands::pcap", "report"));
    assert!(allowed("report", "commands::pcap"));
    assert!(!allowed("io::net", "commands::probe"));
    // a → b → c → a is a cycle of three; d → a hangs off it.
    let mut edges = Edges::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        edges
            .entry(from.into())
            .or_default()
            .insert(to.into(), "f.rs".into());
    }
    assert_eq!(cyclic_modules(&edges), ["a", "b", "c"]);
    edges.remove("c");
    assert!(cyclic_modules(&edges).is_empty());
}
