//! The distributed recipes of docs/scan.md, run for real on this machine: GNU parallel with
//! `--sshlogin` (`:` is the local host) and the Kubernetes Indexed Job manifest's command
//! for every index. Concatenated shard outputs must hold exactly the single run's targets.

mod common;

use common::{Pki, assert_schema, s_server, shakedown};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The `target … via connect` of every JSON line of `out`, sorted.
fn scanned(out: &[u8]) -> Vec<String> {
    let mut targets: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_schema(&v);
            format!("{} via {}", v["target"], v["connect"])
        })
        .collect();
    targets.sort();
    targets
}

/// Six names served by one local server (each `127.0.0.1:PORT,NAME`), and the single run's
/// targets.
fn fleet(dir: &Path, port: u16) -> (std::path::PathBuf, Vec<String>) {
    let list = dir.join("targets.txt");
    let lines: Vec<String> = (1..=6)
        .map(|i| format!("127.0.0.1:{port},h{i}.test"))
        .collect();
    std::fs::write(&list, lines.join("\n") + "\n").unwrap();
    let out = shakedown()
        .args(["scan", "--json", "--suites-only", "--targets-file"])
        .arg(&list)
        .output()
        .unwrap();
    let single = scanned(&out.stdout);
    assert_eq!(single.len(), 6);
    (list, single)
}

#[test]
fn gnu_parallel_shards_merge_to_the_single_run() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let dir = tempfile::tempdir().unwrap();
    let (list, single) = fleet(dir.path(), srv.port);
    // docs/scan.md's form, with `:` (this machine) as the one ssh login.
    let out = Command::new("parallel")
        .args(["--will-cite", "--sshlogin", "3/:"])
        .arg(env!("CARGO_BIN_EXE_shakedown"))
        .args(["scan", "--json", "--suites-only", "--targets-file"])
        .arg(&list)
        .args(["--shard", "{}/3", ":::", "0", "1", "2"])
        .output()
        .expect("GNU parallel (apt-get install parallel; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(scanned(&out.stdout), single);
}

/// The documents of a YAML file, as JSON (python3-yaml reads it; .ci/run installs it).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python3 with PyYAML (apt-get install python3-yaml): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_indexed_job_manifest_shards_cover_the_list() {
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/scan-indexed-job.yaml");
    let docs = yaml_documents(&manifest);
    let job = docs
        .iter()
        .find(|d| d["kind"] == "Job")
        .expect("a Job in the manifest");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let shard_at = args.iter().position(|a| *a == "--shard").unwrap();
    assert_eq!(args[shard_at + 1], format!("$(JOB_COMPLETION_INDEX)/{n}"));
    // The targets file the args read is the ConfigMap mounted where they look.
    let file_at = args.iter().position(|a| *a == "--targets-file").unwrap();
    let mount = &container["volumeMounts"][0];
    let config_map = &pod["volumes"][0]["configMap"]["name"];
    assert!(args[file_at + 1].starts_with(mount["mountPath"].as_str().unwrap()));
    let targets = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == *config_map)
        .expect("the ConfigMap the Job mounts");
    let key = args[file_at + 1].rsplit('/').next().unwrap();
    assert!(targets["data"][key].is_string());

    // Every index of the Job, run here with a local list in place of the ConfigMap's.
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let dir = tempfile::tempdir().unwrap();
    let (list, single) = fleet(dir.path(), srv.port);
    let mut merged = Vec::new();
    for index in 0..n {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string())
                    .replace(args[file_at + 1], list.to_str().unwrap())
            })
            .collect();
        let out = shakedown()
            .args(&args)
            .arg("--suites-only")
            .output()
            .unwrap();
        merged.extend_from_slice(&out.stdout);
    }
    assert_eq!(scanned(&merged), single);
}
