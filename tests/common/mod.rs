//! Test fixtures: certificates made with the `openssl` command, real `openssl s_server`
//! processes on loopback ephemeral ports, and scripted hostile peers. Every process a test
//! starts is killed by its own handle when the handle drops.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// FoxIO's JA4 captures (`captures/ja4` of the workplace's read-only share beside the
/// checkout, or beside a worktree one level down), when present. The tests that read them
/// say they skipped without them: the share is not part of the repository.
pub fn ja4_captures() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/captures/ja4", "../../shared/captures/ja4"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.is_dir())
}

/// Runs `openssl` with arguments, panicking with its stderr on failure (a fixture bug).
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command is needed by the tests");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throw-away PKI in a temporary directory: a root CA, an intermediate under it, and
/// leaves made on demand (issued by the intermediate, as public CAs do).
pub struct Pki {
    pub dir: tempfile::TempDir,
}

/// A certificate and key written to disk.
#[derive(Clone)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Intermediates a server should send after this certificate.
    pub chain: Option<PathBuf>,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        openssl(
            p,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "root.key",
                "-out",
                "root.pem",
                "-subj",
                "/CN=shakedown test root",
                "-days",
                "365",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let pki = Pki { dir };
        let root = pki.root();
        pki.issue(
            "intermediate",
            "shakedown test intermediate",
            &root,
            365,
            true,
        );
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn root(&self) -> Issued {
        Issued {
            cert: self.path("root.pem"),
            key: self.path("root.key"),
            chain: None,
        }
    }

    pub fn intermediate(&self) -> Issued {
        Issued {
            cert: self.path("intermediate.pem"),
            key: self.path("intermediate.key"),
            chain: None,
        }
    }

    /// Issues `name` (CN and, unless `ca`, a DNS SAN of `san`) signed by `issuer`;
    /// `days` may be negative to make an expired certificate.
    pub fn issue(&self, name: &str, san: &str, issuer: &Issued, days: i32, ca: bool) -> Issued {
        let ext_text = if ca {
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n".to_string()
        } else {
            format!(
                "basicConstraints=CA:FALSE\nsubjectAltName=DNS:{san}\nextendedKeyUsage=serverAuth,clientAuth\n"
            )
        };
        self.issue_profile(name, san, issuer, days, &ext_text)
    }

    /// Issues `name` (CN `cn`) signed by `issuer`, valid 90 days, with the extension lines
    /// `ext` (an openssl extfile section, e.g. `basicConstraints=critical,CA:TRUE,pathlen:0`);
    /// `chain` lists what a server sends after it, nearest issuer first.
    pub fn issue_with_ext(
        &self,
        name: &str,
        cn: &str,
        issuer: &Issued,
        ext: &str,
        chain: &[&Issued],
    ) -> Issued {
        let mut issued = self.issue_profile(name, cn, issuer, 90, ext);
        issued.chain = None;
        if !chain.is_empty() {
            let path = self.path(&format!("{name}-chain.pem"));
            let pems: Vec<String> = chain
                .iter()
                .map(|c| std::fs::read_to_string(&c.cert).unwrap())
                .collect();
            std::fs::write(&path, pems.concat()).unwrap();
            issued.chain = Some(path);
        }
        issued
    }

    fn issue_profile(
        &self,
        name: &str,
        san: &str,
        issuer: &Issued,
        days: i32,
        ext_text: &str,
    ) -> Issued {
        let p = self.dir.path();
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let ext = format!("{name}.ext");
        std::fs::write(p.join(&ext), ext_text).unwrap();
        openssl(
            p,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={san}"),
            ],
        );
        openssl(
            p,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                issuer.cert.to_str().unwrap(),
                "-CAkey",
                issuer.key.to_str().unwrap(),
                "-CAcreateserial",
                "-days",
                &days.to_string(),
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
        let chain = (issuer.cert != self.path("root.pem")).then(|| issuer.cert.clone());
        Issued {
            cert: p.join(pem),
            key: p.join(key),
            chain,
        }
    }

    /// A leaf for `host` issued by the intermediate, valid for 90 days.
    pub fn leaf(&self, host: &str) -> Issued {
        self.issue(
            &format!("leaf-{host}"),
            host,
            &self.intermediate(),
            // Well past cert::EXPIRES_SOON_DAYS (the root and intermediate too): at
            // exactly 30 days a slow run crossed the threshold and saw "expires soon".
            90,
            false,
        )
    }
}

/// What `openssl s_client -verify_return_error -CAfile ca [-verify_hostname host]` says
/// about the server at 127.0.0.1:`port` (sending `host` as SNI): its stdout and stderr.
pub fn s_client_verify(port: u16, ca: &Path, host: Option<&str>) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-verify_return_error", "-CAfile"])
        .arg(ca);
    if let Some(h) = host {
        cmd.args(["-servername", h, "-verify_hostname", h]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command is needed by the tests");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A child process that is killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET over a raw socket: status code and body (status 0: nothing listens yet).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A real Prometheus (Debian's package) on a free loopback port, `config` as its
/// prometheus.yml and its data under `dir`; stopped when the handle drops.
pub fn prometheus(dir: &Path, config: &str) -> Server {
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (apt-get install prometheus; .ci/run installs it)");
    Server {
        child,
        port,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts TCP connections on `addr`.
fn wait_listening(addr: SocketAddr, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            // What answered may be another test's server that took the port between
            // free_port and this child's bind: ours then exits ("address in use") soon
            // after. Still running a moment later means the port is ours.
            thread::sleep(Duration::from_millis(150));
            return matches!(child.try_wait(), Ok(None));
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Starts `openssl s_server -www` with the given certificate (and its chain) and extra
/// arguments on a fresh loopback port, retrying if the port was taken in between.
pub fn s_server(cert: &Issued, extra: &[&str]) -> Server {
    for _ in 0..5 {
        let port = free_port();
        let accept = format!("127.0.0.1:{port}");
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-www", "-accept", &accept, "-naccept", "1000"])
            .arg("-cert")
            .arg(&cert.cert)
            .arg("-key")
            .arg(&cert.key)
            .args(
                cert.chain
                    .iter()
                    .flat_map(|c| [std::ffi::OsStr::new("-cert_chain"), c.as_os_str()]),
            )
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("openssl s_server");
        let addr: SocketAddr = accept.parse().unwrap();
        if wait_listening(addr, &mut child) {
            return Server { child, port, addr };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("openssl s_server did not start (arguments {extra:?})");
}

/// One `openssl s_server -www` per `(loopback address, certificate)`, all on the same
/// fresh port (the backends of one name), each sending `chain` after its certificate;
/// tries other ports while one is taken on any address.
pub fn s_servers_on_one_port(backends: &[(&str, &Issued)], chain: &Path) -> (u16, Vec<Server>) {
    'port: for _ in 0..10 {
        let port = free_port();
        let mut servers = Vec::new();
        for (ip, cert) in backends {
            let accept = format!("{ip}:{port}");
            let mut child = Command::new("openssl")
                .args(["s_server", "-www", "-accept", &accept, "-naccept", "100000"])
                .arg("-cert")
                .arg(&cert.cert)
                .arg("-key")
                .arg(&cert.key)
                .arg("-cert_chain")
                .arg(chain)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl s_server");
            let addr: SocketAddr = accept.parse().unwrap();
            let ok = wait_listening(addr, &mut child);
            servers.push(Server { child, port, addr });
            if !ok {
                // Dropping the servers stops them; all again on another port.
                continue 'port;
            }
        }
        return (port, servers);
    }
    panic!("no free port for {} s_server backends", backends.len());
}

/// Starts an arbitrary command that listens on 127.0.0.1 at the port given to `args` as
/// `{port}`.
pub fn spawn_listening(program: &str, args: &[&str]) -> Server {
    spawn_listening_on("127.0.0.1", program, args)
}

/// Like [`spawn_listening`], for a server on another loopback address (e.g. `[::1]`).
pub fn spawn_listening_on(ip: &str, program: &str, args: &[&str]) -> Server {
    for _ in 0..5 {
        let port = free_port();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let mut child = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        if wait_listening(addr, &mut child) {
            return Server { child, port, addr };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{program} did not start");
}

/// A scripted peer: accepts connections on loopback and runs `behave` on each, in a thread.
pub struct Peer {
    pub addr: SocketAddr,
}

pub fn hostile_peer<F>(behave: F) -> Peer
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            behave(stream);
        }
    });
    Peer { addr }
}

/// Reads what the client sent first (its hello), so a peer answers after it.
pub fn read_some(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.read(&mut buf);
}

/// Writes ignoring errors: the client may already be gone.
pub fn write_quietly(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).is_ok()
}

/// Path of the shakedown binary built for integration tests.
pub fn shakedown() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shakedown"))
}

/// Runs a shakedown command that prints JSON lines; returns its exit code and first object.
pub fn json_output(cmd: &mut Command) -> (i32, serde_json::Value) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or_else(|| {
        panic!(
            "no output; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let v = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_schema(&v);
    (out.status.code().unwrap_or(-1), v)
}

/// Every JSON object a test reads is also checked against the generated schema
/// (docs/schema.json is that schema; tests/schema.rs keeps the file in step).
pub fn assert_schema(v: &serde_json::Value) {
    use std::sync::OnceLock;
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(&shakedown::report::schema::document()).expect("schema")
    });
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output disagrees with the schema: {errors:#?}\n{v}"
    );
}

/// The cause ids of a report's diagnosis.
pub fn causes(v: &serde_json::Value) -> Vec<String> {
    v["diagnosis"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter_map(|d| d["cause"].as_str().map(str::to_string))
        .collect()
}

/// One field of a `diff --json` object.
pub fn diff_field<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == name)
        .unwrap_or_else(|| panic!("no field {name}: {v}"))
}

/// A self-signed RSA certificate for `host`, valid two days: old clients and the recorded
/// captures negotiate RSA suites, so their servers need an RSA key.
pub fn rsa_cert(dir: &Path, host: &str) -> Issued {
    rsa_cert_bits(dir, host, 2048)
}

/// [`rsa_cert`] with a key of `bits` (a small one for clients that refuse it).
pub fn rsa_cert_bits(dir: &Path, host: &str, bits: u32) -> Issued {
    let san = format!("subjectAltName=DNS:{host}");
    let key = format!("rsa:{bits}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            &key,
            "-nodes",
            "-keyout",
            "rsa.key",
            "-out",
            "rsa.pem",
            "-subj",
            &format!("/CN={host}"),
            "-days",
            "2",
            "-addext",
            &san,
        ],
    );
    Issued {
        cert: dir.join("rsa.pem"),
        key: dir.join("rsa.key"),
        chain: None,
    }
}

/// Path of a capture bundled in captures/.
pub fn capture(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// shakedown under a 4 GiB address-space limit (sh's ulimit, then exec: the same pid, so
/// [`wait_exit_and_peak_rss`] measures shakedown itself). Without the caps under test, the
/// memory tests' inputs grow until the kernel kills something, not necessarily us.
pub fn shakedown_capped() -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -v 4194304 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_shakedown"));
    cmd
}

/// Waits for `child` (its pipes already read) and returns its exit code and peak resident
/// memory in KiB (`wait4`'s ru_maxrss), so tests can assert memory from the outcome.
pub fn wait_exit_and_peak_rss(child: &Child) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: wait4 on our own child's pid, writing into a zeroed plain-data rusage and an
    // int we own; std's Child is not waited on afterwards (dropping it does not wait).
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage);
        assert_eq!(pid, child.id() as libc::pid_t, "wait4");
        usage
    };
    assert!(libc::WIFEXITED(status), "shakedown did not exit: {status}");
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

/// RFC 5114's 1024-bit DH group as an `-dhparam` file in `dir`: a prime small enough to be
/// weak (Logjam's medium case, and the scan's weak-DH mark).
pub fn dh1024_params(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            "dh_rfc5114:1",
            "-out",
            "dh1024.pem",
        ],
    );
    dir.join("dh1024.pem")
}

/// The root the captures' servers were issued from (captures/root.pem), as `--ca` gives it.
pub fn captures_root() -> shakedown::core::cert::TrustStore {
    let mut store = shakedown::core::cert::TrustStore::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/root.pem");
    store
        .add_pem(&std::fs::read_to_string(root).unwrap())
        .unwrap();
    store
}

/// A TLS record of `typ` around `payload`, record version TLS 1.2.
pub fn tls_record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3];
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

/// What a connection report's events say, in order (for assertion messages and checks).
pub fn events(r: &shakedown::commands::pcap::ConnectionReport) -> Vec<String> {
    r.verdict
        .events
        .iter()
        .map(|e| e.what.to_string())
        .collect()
}

/// A fixed-seed xorshift64 sequence, for the tests that feed arbitrary bytes to the
/// readers: the same bytes on every run, so a failure repeats.
pub fn xorshift64(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// `probe` (the library call) of `localhost:port` with the hello `spec`, trusting `pki`'s
/// root, checked at the current time.
pub fn probe_with(
    pki: &Pki,
    port: u16,
    spec: shakedown::core::wire::build::HelloSpec,
) -> shakedown::commands::probe::ProbeResult {
    use shakedown::commands::probe::{self, HelloSource, ProbeConfig};
    use shakedown::core::cert::TrustStore;
    use shakedown::io::net::{Limits, Target};
    let mut trust = TrustStore::default();
    let root = std::fs::read_to_string(&pki.root().cert).unwrap();
    trust.add_pem(&root).unwrap();
    let cfg = ProbeConfig {
        target: Target::parse(&format!("localhost:{port}"), 443).unwrap(),
        hello: HelloSource::Spec(Box::new(spec)),
        limits: Limits::default(),
        trust: Some(std::sync::Arc::new(trust)),
        check_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    };
    probe::run(&cfg)
}

/// A Python venv under target/ with `packages` from PyPI, made once per name (tests of one
/// binary run in threads: one makes it, the others wait). Returns its python.
pub fn venv_python(name: &str, packages: &[&str]) -> PathBuf {
    static MADE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin/python");
    let ready = venv.join("ready");
    let _made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !ready.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q"])
                .args(packages)
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "could not make the venv at {}", venv.display());
        std::fs::write(&ready, packages.join(" ")).unwrap();
    }
    python
}

/// Starts a server that picks its own port and prints `port N` on stdout once it listens
/// (UDP servers cannot be probed for readiness with a TCP connect). Its stdin stays open
/// until the handle drops.
pub fn spawn_announcing(program: &Path, args: &[&str]) -> Server {
    use std::io::BufRead;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let Some(port) = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse::<u16>().ok())
    else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{} did not announce its port: {line:?}", program.display());
    };
    Server {
        child,
        port,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
    }
}

/// A PostgreSQL cluster with `ssl = on`, run as the `postgres` user on a loopback port.
pub fn postgres(dir: &Path, cert: &Issued) -> Server {
    let bin = Path::new("/usr/lib/postgresql")
        .read_dir()
        .expect("PostgreSQL server binaries (apt-get install postgresql; .ci/run does)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .find(|p| p.join("postgres").exists())
        .expect("a postgres binary");
    let data = dir.join("data");
    std::fs::copy(&cert.cert, dir.join("server.crt")).unwrap();
    std::fs::copy(&cert.key, dir.join("server.key")).unwrap();
    let as_postgres = |program: &Path, args: &[&str]| {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    };
    Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .unwrap();
    Command::new("chmod")
        .arg("600")
        .arg(dir.join("server.key"))
        .status()
        .unwrap();
    let init = as_postgres(
        &bin.join("initdb"),
        &["-D", data.to_str().unwrap(), "-A", "trust"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .unwrap();
    assert!(init.success(), "initdb");
    let port = free_port();
    let child = as_postgres(
        &bin.join("postgres"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-p",
            &port.to_string(),
            "-k",
            dir.to_str().unwrap(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "ssl=on",
            "-c",
            &format!("ssl_cert_file={}", dir.join("server.crt").display()),
            "-c",
            &format!("ssl_key_file={}", dir.join("server.key").display()),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut server = Server { child, port, addr };
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return server;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let _ = server.child.kill();
    panic!("postgres did not start");
}

/// Records loopback TCP traffic on `port` with tcpdump while `run` runs; `None` without
/// the permission to capture (the test then says it skipped).
pub fn record(dir: &Path, port: u16, run: impl FnOnce()) -> Option<PathBuf> {
    record_filtered(dir, &format!("tcp port {port}"), port, run)
}

/// [`record`] with the tcpdump filter given (`udp port N` for QUIC); the file is named
/// after `port`.
pub fn record_filtered(dir: &Path, filter: &str, port: u16, run: impl FnOnce()) -> Option<PathBuf> {
    let file = dir.join(format!("recorded-{port}.pcap"));
    let mut dump = Command::new("tcpdump")
        .args(["-i", "lo", "-U", "--immediate-mode", "-w"])
        .arg(&file)
        .arg(filter)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump (.ci/run installs it)");
    // tcpdump says "listening on lo" once it captures.
    let mut err = BufReader::new(dump.stderr.take().unwrap());
    let mut line = String::new();
    let _ = err.read_line(&mut line);
    if !line.contains("listening") {
        let _ = dump.kill();
        let _ = dump.wait();
        eprintln!("skipped: tcpdump cannot capture on lo: {line}");
        return None;
    }
    run();
    thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();
    Some(file)
}

/// nginx's version, (major, minor).
pub fn nginx_version() -> (u32, u32) {
    let out = Command::new("nginx").arg("-v").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let v = text.split('/').nth(1).unwrap_or("0.0").trim();
    let mut parts = v.split('.').map(|n| n.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Starts nginx in the foreground from `dir` (its config, pid, logs and temp paths there)
/// with one server block holding `server_directives`: its listen line (`{port}` in it is
/// filled in here), certificate, protocols, suites. Stopped with the handle.
pub fn nginx(server_directives: &str, dir: &Path) -> Server {
    let p = dir.display();
    let template = format!(
        "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
         server {{\n  server_name localhost;\n  {server_directives}\n  location / {{ return 200 \"ok\"; }}\n }}\n}}\n"
    );
    let conf_path = &dir.join("nginx.conf");
    let prefix = dir;
    // spawn_listening fills {port} in arguments only; write the file per attempt instead.
    for _ in 0..5 {
        let port = free_port();
        std::fs::write(conf_path, template.replace("{port}", &port.to_string())).unwrap();
        let mut child = Command::new("nginx")
            .arg("-c")
            .arg(conf_path)
            .arg("-p")
            .arg(prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx");
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        if wait_listening(addr, &mut child) {
            return Server { child, port, addr };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "nginx did not start: {}",
        std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default()
    );
}
