//! STARTTLS against the real servers an operator runs: postfix (SMTP), dovecot (IMAP, POP3
//! and implicit-TLS IMAPS; a twin with `ssl = no`), slapd (LDAP StartTLS, GnuTLS), MariaDB
//! (the SSL request after its greeting), vsftpd (AUTH TLS), prosody (XMPP) and PostgreSQL
//! (SSLRequest), each from Debian's package, started once per test binary on loopback
//! ephemeral ports with a generated certificate and its own configuration under
//! target/tmp — never the system instance. Each is probed (outcome and the `starttls`
//! object), scanned (accepted suites per version against what the server's configured
//! cipher list expands to, by `openssl ciphers` or `gnutls-cli -l`), and a capture of a real
//! client (`openssl s_client -starttls`) is read back by `pcap`.
//!
//! The servers outlive no test run: a watchdog shell per server stops it (TERM, then KILL)
//! once this test process is gone, and another removes the directory.
//!
//! `SHAKEDOWN_RECORD_STARTTLS=DIR` also copies the recorded captures to
//! `DIR/starttls_<protocol>.pcap` (captures/record_starttls.sh).

mod common;

use common::{causes, hostile_peer, json_output, shakedown};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ the servers' home

/// This binary's directory under target/tmp (world-traversable: the servers' unprivileged
/// processes read their sockets and queues under it), with a certificate for every name.
fn home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("starttls_servers-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        chmod(&dir, "755");
        common::openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=mail.test",
                "-addext",
                "subjectAltName=DNS:mail.test,DNS:mx.test,DNS:ldap.test,DNS:db.test,DNS:ftp.test,DNS:xmpp.test",
            ],
        );
        chmod(&dir.join("key.pem"), "644");
        // Removes the directory once this process is gone (after the servers stopped).
        after_this_process("sleep 5; rm -rf \"$2\"", &dir.display().to_string());
        dir
    })
}

/// Runs `then` in a shell (`$2` is `arg`) once this test process has exited: the
/// watchdog that stops what the tests started, since statics are never dropped.
#[allow(clippy::zombie_processes)] // It outlives this process by design; init reaps it.
fn after_this_process(then: &str, arg: &str) {
    Command::new("sh")
        .args([
            "-c",
            &format!("while kill -0 \"$1\" 2>/dev/null; do sleep 0.5; done; {then}"),
            "sh",
            &std::process::id().to_string(),
            arg,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh");
}

/// Stops `pid` (TERM, then KILL 3 s later) once this test process has exited.
fn stop_after_this_process(pid: u32) {
    after_this_process(
        "kill \"$2\" 2>/dev/null; sleep 3; kill -9 \"$2\" 2>/dev/null",
        &pid.to_string(),
    );
}

fn chmod(path: &Path, mode: &str) {
    Command::new("chmod").arg(mode).arg(path).status().unwrap();
}

fn cert() -> PathBuf {
    home().join("cert.pem")
}

fn key() -> PathBuf {
    home().join("key.pem")
}

/// A running server: its ports by name; stopped by its watchdog when the tests end.
struct Daemon {
    ports: Vec<(&'static str, u16)>,
}

impl Daemon {
    fn port(&self, name: &str) -> u16 {
        self.ports
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no port {name}"))
            .1
    }

    fn addr(&self, name: &str) -> String {
        format!("127.0.0.1:{}", self.port(name))
    }
}

/// Starts `cmd` (its output into `name.log` under `dir`), hands it to a watchdog, and waits
/// until every port accepts connections.
fn start(name: &str, dir: &Path, cmd: &mut Command, ports: Vec<(&'static str, u16)>) -> Daemon {
    let log = dir.join(format!("{name}.out"));
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(dir.join(format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e} (.ci/run installs the package)"));
    stop_after_this_process(child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    for (_, port) in &ports {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{name} did not listen on {addr} ({exited:?}): {}{}",
                    fs::read_to_string(&log).unwrap_or_default(),
                    fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
    // The child is reaped by nobody: the watchdog stops it after this process.
    std::mem::forget(child);
    Daemon { ports }
}

fn subdir(name: &str) -> PathBuf {
    let dir = home().join(name);
    fs::create_dir_all(&dir).unwrap();
    chmod(&dir, "755");
    dir
}

/// Every server starts in the background at the first test's first call, so each test
/// waits only for the ones it uses.
fn warm_up() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for start in [
            postfix as fn() -> &'static Daemon,
            dovecot,
            dovecot_plain,
            slapd,
            mariadb,
            vsftpd,
            prosody,
            postgres,
        ] {
            thread::spawn(move || {
                let _ = std::panic::catch_unwind(start);
            });
        }
    });
}

// ------------------------------------------------------------------ each server's config

/// postfix's `master -d` (foreground) with its own config directory and queue; smtpd on a
/// loopback port, TLS 1.2+ and three TLS 1.2 suites.
const POSTFIX_CIPHERS: &str = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:AES128-SHA";

fn postfix() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        let dir = subdir("postfix");
        let conf = dir.join("conf");
        for d in ["conf", "queue", "data"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        let port = common::free_port();
        let d = dir.display();
        fs::write(
            conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {d}/queue\n\
                 data_directory = {d}/data\n\
                 maillog_file = {d}/maillog\n\
                 maillog_file_prefixes = {d}\n\
                 inet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\n\
                 myhostname = mx.test\n\
                 mydestination =\n\
                 local_recipient_maps =\n\
                 alias_maps =\n\
                 alias_database =\n\
                 smtpd_tls_security_level = may\n\
                 smtpd_tls_cert_file = {cert}\n\
                 smtpd_tls_key_file = {key}\n\
                 smtpd_tls_protocols = >=TLSv1.2\n\
                 smtpd_tls_ciphers = high\n\
                 tls_high_cipherlist = {POSTFIX_CIPHERS}\n",
                cert = cert().display(),
                key = key().display(),
            ),
        )
        .unwrap();
        fs::write(
            conf.join("master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n\
                 postlog unix-dgram n - n - 1 postlogd\n\
                 tlsmgr unix - - n 1000? 1 tlsmgr\n\
                 anvil unix - - n - 1 anvil\n\
                 proxymap unix - - n - - proxymap\n\
                 rewrite unix - - n - - trivial-rewrite\n\
                 cleanup unix n - n - 0 cleanup\n"
            ),
        )
        .unwrap();
        Command::new("chown")
            .arg("postfix")
            .arg(dir.join("data"))
            .status()
            .unwrap();
        // Makes the queue's directories with their owners.
        let check = Command::new("postfix")
            .arg("-c")
            .arg(&conf)
            .arg("check")
            .stdin(Stdio::null())
            .output()
            .expect("postfix (.ci/run installs it)");
        assert!(check.status.success(), "postfix check: {check:?}");
        start(
            "postfix",
            &dir,
            Command::new("/usr/lib/postfix/sbin/master")
                .arg("-c")
                .arg(&conf)
                .arg("-d"),
            vec![("smtp", port)],
        )
    })
}

const DOVECOT_CIPHERS: &str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305";
const DOVECOT_SUITES: &str = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/// dovecot in the foreground: IMAP and POP3 with STARTTLS, and IMAPS (implicit TLS).
fn dovecot() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| dovecot_instance("dovecot", true))
}

/// The same dovecot with `ssl = no`: no STARTTLS in its capabilities.
fn dovecot_plain() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| dovecot_instance("dovecot-plain", false))
}

fn dovecot_instance(name: &str, ssl: bool) -> Daemon {
    let dir = subdir(name);
    let (imap, imaps, pop3) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let d = dir.display();
    let tls = if ssl {
        format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}\nssl_min_protocol = TLSv1.2\n\
             ssl_cipher_list = {DOVECOT_CIPHERS}\nssl_cipher_suites = {DOVECOT_SUITES}\n",
            cert().display(),
            key().display()
        )
    } else {
        "ssl = no\n".to_string()
    };
    let imaps_listener = if ssl {
        format!("  inet_listener imaps {{\n    port = {imaps}\n    ssl = yes\n  }}\n")
    } else {
        "  inet_listener imaps {\n    port = 0\n  }\n".to_string()
    };
    fs::write(
        dir.join("dovecot.conf"),
        format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/log\n\
             protocols = imap pop3\nlisten = 127.0.0.1\n{tls}\
             auth_mechanisms = plain\n\
             passdb {{\n  driver = static\n  args = nopassword=y\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = {imap}\n  }}\n\
             {imaps_listener}}}\n\
             service pop3-login {{\n  chroot =\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n\
               inet_listener pop3s {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n"
        ),
    )
    .unwrap();
    let mut ports = vec![("imap", imap), ("pop3", pop3)];
    if ssl {
        ports.push(("imaps", imaps));
    }
    start(
        name,
        &dir,
        Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf")),
        ports,
    )
}

/// GnuTLS priority string (Debian's slapd is linked with GnuTLS).
const SLAPD_PRIORITY: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-RSA";

/// slapd with no database: the root DSE and the StartTLS extended operation are enough.
fn slapd() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        let dir = subdir("slapd");
        let port = common::free_port();
        fs::write(
            dir.join("slapd.conf"),
            format!(
                "pidfile {}/slapd.pid\nTLSCertificateFile {}\nTLSCertificateKeyFile {}\n\
                 TLSCipherSuite {SLAPD_PRIORITY}\n",
                dir.display(),
                cert().display(),
                key().display()
            ),
        )
        .unwrap();
        start(
            "slapd",
            &dir,
            Command::new("slapd")
                .arg("-f")
                .arg(dir.join("slapd.conf"))
                .arg("-h")
                .arg(format!("ldap://127.0.0.1:{port}/"))
                .args(["-d", "0"]),
            vec![("ldap", port)],
        )
    })
}

const MARIADB_CIPHERS: &str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";

/// mariadbd with an empty data directory of its own (no grant tables: nobody logs in; the
/// TLS upgrade comes before authentication).
fn mariadb() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        let dir = subdir("mariadb");
        fs::create_dir_all(dir.join("data")).unwrap();
        let port = common::free_port();
        let d = dir.display();
        start(
            "mariadb",
            &dir,
            Command::new("mariadbd").args([
                "--no-defaults".to_string(),
                format!("--datadir={d}/data"),
                format!("--port={port}"),
                "--bind-address=127.0.0.1".into(),
                format!("--socket={d}/sock"),
                format!("--pid-file={d}/pid"),
                "--user=root".into(),
                "--skip-grant-tables".into(),
                "--skip-log-bin".into(),
                "--innodb-buffer-pool-size=8M".into(),
                format!("--log-error={d}/error.log"),
                format!("--ssl-cert={}", cert().display()),
                format!("--ssl-key={}", key().display()),
                format!("--ssl-cipher={MARIADB_CIPHERS}"),
                "--tls-version=TLSv1.2,TLSv1.3".into(),
            ]),
            vec![("mysql", port)],
        )
    })
}

const VSFTPD_CIPHERS: &str = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

/// vsftpd in the foreground (`background=NO`), anonymous, AUTH TLS.
fn vsftpd() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        let dir = subdir("vsftpd");
        let empty = dir.join("empty");
        fs::create_dir_all(&empty).unwrap();
        let port = common::free_port();
        fs::write(
            dir.join("vsftpd.conf"),
            format!(
                "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
                 anonymous_enable=YES\nallow_anon_ssl=YES\nanon_root={e}\nlocal_enable=NO\n\
                 secure_chroot_dir={e}\nssl_enable=YES\nrsa_cert_file={}\n\
                 rsa_private_key_file={}\nssl_ciphers={VSFTPD_CIPHERS}\nssl_tlsv1=NO\n\
                 ssl_sslv2=NO\nssl_sslv3=NO\nxferlog_enable=NO\nvsftpd_log_file={d}/log\n",
                cert().display(),
                key().display(),
                e = empty.display(),
                d = dir.display(),
            ),
        )
        .unwrap();
        start(
            "vsftpd",
            &dir,
            Command::new("vsftpd").arg(dir.join("vsftpd.conf")),
            vec![("ftp", port)],
        )
    })
}

const PROSODY_CIPHERS: &str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305";

/// prosody in the foreground, one virtual host `xmpp.test`, client port only.
fn prosody() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        let dir = subdir("prosody");
        fs::create_dir_all(dir.join("data")).unwrap();
        let port = common::free_port();
        let d = dir.display();
        fs::write(
            dir.join("prosody.cfg.lua"),
            format!(
                "run_as_root = true\npidfile = \"{d}/prosody.pid\"\ndata_path = \"{d}/data\"\n\
                 log = {{ {{ levels = {{ min = \"info\" }}, to = \"file\", filename = \"{d}/log\" }} }}\n\
                 interfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ {port} }}\n\
                 c2s_direct_tls_ports = {{ }}\ns2s_ports = {{ }}\nhttp_ports = {{ }}\n\
                 https_ports = {{ }}\ncomponent_ports = {{ }}\n\
                 modules_enabled = {{ \"tls\", \"saslauth\", \"disco\" }}\n\
                 modules_disabled = {{ \"s2s\", \"offline\", \"c2s_direct_tls\" }}\n\
                 c2s_require_encryption = false\n\
                 ssl = {{ certificate = \"{}\"; key = \"{}\"; ciphers = \"{PROSODY_CIPHERS}\"; protocol = \"tlsv1_2+\"; }}\n\
                 VirtualHost \"xmpp.test\"\n",
                cert().display(),
                key().display()
            ),
        )
        .unwrap();
        start(
            "prosody",
            &dir,
            Command::new("prosody")
                .arg("-F")
                .arg("--config")
                .arg(dir.join("prosody.cfg.lua")),
            vec![("xmpp", port)],
        )
    })
}

/// PostgreSQL with `ssl = on` (its default cipher list, `HIGH:MEDIUM:+3DES:!aNULL`).
fn postgres() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        let dir = subdir("postgres");
        let issued = common::Issued {
            cert: cert(),
            key: key(),
            chain: None,
        };
        let server = common::postgres(&dir, &issued);
        let port = server.port;
        // Handed to the watchdog instead of the handle's Drop.
        let pid = server.child.id();
        std::mem::forget(server);
        stop_after_this_process(pid);
        Daemon {
            ports: vec![("postgres", port)],
        }
    })
}

// ------------------------------------------------------------------ what is expected

/// The suites `list` expands to at `flag` (`-tls1_2`, `-tls1_3`), by OpenSSL itself:
/// standard names, the TLS 1.3 ones from `suites` (OpenSSL's default when `None`).
fn openssl_suites(flag: &str, list: &str, suites: Option<&str>) -> BTreeSet<String> {
    let mut cmd = Command::new("openssl");
    cmd.args(["ciphers", "-stdname", "-s", flag]);
    if let Some(s) = suites {
        cmd.args(["-ciphersuites", s]);
    }
    let out = cmd.arg(list).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let want_13 = flag == "-tls1_3";
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("TLSv1.3") == want_13)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The suites a GnuTLS priority string allows at `version` (`TLS1.2`, `TLS1.3`), by
/// `gnutls-cli -l`, named by their code points through OpenSSL's table.
fn gnutls_suites(priority: &str, version: &str) -> BTreeSet<String> {
    let out = Command::new("gnutls-cli")
        .args(["-l", "--priority", priority])
        .output()
        .expect("gnutls-cli (.ci/run installs gnutls-bin)");
    let names = Command::new("openssl")
        .args(["ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL"])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&names.stdout);
    let name_of = |code: &str| {
        names.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()?.eq_ignore_ascii_case(code)).then(|| w.nth(1).map(str::to_string))?
        })
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("0x") && l.trim_end().ends_with(version))
        .filter_map(|l| {
            // "TLS_ECDHE_RSA_AES_256_GCM_SHA384   0xc0, 0x30	TLS1.2"
            let hex: Vec<&str> = l
                .split(['\t', ' ', ','])
                .filter(|w| w.starts_with("0x"))
                .collect();
            let code = format!("0x{},0x{}", &hex[0][2..], &hex[1][2..]).to_ascii_uppercase();
            name_of(&code.replace("0X", "0x"))
        })
        .collect()
}

// ------------------------------------------------------------------ running shakedown

fn probe(target: &str, args: &[&str]) -> serde_json::Value {
    let (_, v) = json_output(
        shakedown()
            .args(["probe", target, "--json", "--timeout", "5"])
            .args(args),
    );
    common::assert_schema(&v);
    v
}

fn scan(target: &str, args: &[&str]) -> serde_json::Value {
    let out = shakedown()
        .args(["scan", "--json", "--timeout", "5"])
        .args(args)
        .arg(target)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    common::assert_schema(&v);
    v
}

/// The accepted suites of each version a scan found supported.
fn accepted(v: &serde_json::Value) -> Vec<(String, BTreeSet<String>)> {
    v["versions"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, x)| x["supported"] == true)
        .map(|(name, x)| {
            let suites = x["ciphers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            (name.clone(), suites)
        })
        .collect()
}

/// A probe through the server's preamble: the handshake went on, the `starttls` object
/// says what the server said.
fn assert_upgraded(v: &serde_json::Value, protocol: &str, said: &str) {
    assert_eq!(v["outcome"], "server_hello", "{v}");
    assert_eq!(v["starttls"]["protocol"], protocol, "{v}");
    assert_eq!(v["starttls"]["accepted"], true, "{v}");
    let server_said = v["starttls"]["server_said"].as_str().unwrap_or_default();
    assert!(server_said.contains(said), "{protocol}: {server_said:?}");
    assert_eq!(v["certificates"][0]["subject"], "CN=mail.test", "{v}");
}

/// A `--suites-only` scan through the preamble: TLS 1.2 and 1.3 only, each with exactly
/// the expected suites.
fn assert_suites(
    target: &str,
    args: &[&str],
    tls12: BTreeSet<String>,
    tls13: BTreeSet<String>,
) -> serde_json::Value {
    let mut all = vec!["--suites-only"];
    all.extend_from_slice(args);
    let v = scan(target, &all);
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(
        accepted(&v),
        [
            ("TLSv1.2".to_string(), tls12),
            ("TLSv1.3".to_string(), tls13)
        ],
        "{target} {args:?}"
    );
    v
}

// ------------------------------------------------------------------ the tests

#[test]
fn postfix_smtp() {
    warm_up();
    let smtp = postfix().addr("smtp");
    let v = probe(&smtp, &["--starttls", "smtp", "--sni", "mx.test"]);
    assert_upgraded(&v, "smtp", "220 2.0.0 Ready to start TLS");
    assert_eq!(v["starttls"]["offered"], true, "{v}");
    let v = assert_suites(
        &smtp,
        &["--starttls", "smtp"],
        openssl_suites("-tls1_2", POSTFIX_CIPHERS, None),
        openssl_suites("-tls1_3", "DEFAULT", None),
    );
    assert_eq!(v["starttls"], "smtp");
}

#[test]
fn dovecot_imap_pop3_and_imaps() {
    warm_up();
    let d = dovecot();
    let v = probe(&d.addr("imap"), &["--starttls", "imap"]);
    assert_upgraded(&v, "imap", "a2 OK");
    assert_eq!(v["starttls"]["offered"], true, "{v}");
    let v = probe(&d.addr("pop3"), &["--starttls", "pop3"]);
    assert_upgraded(&v, "pop3", "+OK");
    assert_eq!(v["starttls"]["offered"], true, "{v}");
    // Implicit TLS (IMAPS) needs nothing new.
    let v = probe(&d.addr("imaps"), &[]);
    assert_eq!(v["outcome"], "server_hello", "{v}");
    assert!(v.get("starttls").is_none(), "{v}");
    let tls12 = openssl_suites("-tls1_2", DOVECOT_CIPHERS, None);
    let tls13 = openssl_suites("-tls1_3", "DEFAULT", Some(DOVECOT_SUITES));
    for (port, args) in [
        ("imap", &["--starttls", "imap"][..]),
        ("pop3", &["--starttls", "pop3"]),
        ("imaps", &[]),
    ] {
        assert_suites(&d.addr(port), args, tls12.clone(), tls13.clone());
    }
}

/// Issue 17 item 6: the preamble costs no TLS handshake. A whole scan of the STARTTLS port
/// sends as many hellos as one of the same server's implicit-TLS port, and finds the same.
#[test]
fn a_starttls_scan_costs_the_handshakes_of_an_implicit_tls_one() {
    warm_up();
    let d = dovecot();
    let starttls = scan(&d.addr("imap"), &["--starttls", "imap"]);
    let implicit = scan(&d.addr("imaps"), &[]);
    assert!(starttls["handshakes"].as_u64().unwrap() > 10, "{starttls}");
    assert_eq!(starttls["handshakes"], implicit["handshakes"]);
    assert_eq!(starttls["cost"], implicit["cost"]);
    assert_eq!(accepted(&starttls), accepted(&implicit));
    assert_eq!(starttls["groups"], implicit["groups"]);
}

#[test]
fn slapd_ldap_starttls_with_gnutls() {
    warm_up();
    let ldap = slapd().addr("ldap");
    let v = probe(&ldap, &["--starttls", "ldap", "--sni", "ldap.test"]);
    assert_upgraded(&v, "ldap", "resultCode 0");
    assert_suites(
        &ldap,
        &["--starttls", "ldap"],
        gnutls_suites(SLAPD_PRIORITY, "TLS1.2"),
        gnutls_suites(SLAPD_PRIORITY, "TLS1.3"),
    );
}

#[test]
fn mariadb_ssl_request() {
    warm_up();
    let db = mariadb().addr("mysql");
    let v = probe(&db, &["--starttls", "mysql"]);
    assert_upgraded(&v, "mysql", "MariaDB");
    assert_eq!(v["starttls"]["offered"], true, "{v}");
    assert_suites(
        &db,
        &["--starttls", "mysql"],
        openssl_suites("-tls1_2", MARIADB_CIPHERS, None),
        openssl_suites("-tls1_3", "DEFAULT", None),
    );
}

#[test]
fn vsftpd_auth_tls() {
    warm_up();
    let ftp = vsftpd().addr("ftp");
    let v = probe(&ftp, &["--starttls", "ftp", "--sni", "ftp.test"]);
    assert_upgraded(&v, "ftp", "234");
    assert_suites(
        &ftp,
        &["--starttls", "ftp"],
        openssl_suites("-tls1_2", VSFTPD_CIPHERS, None),
        openssl_suites("-tls1_3", "DEFAULT", None),
    );
}

#[test]
fn prosody_xmpp_and_the_stream_host() {
    warm_up();
    let xmpp = prosody().addr("xmpp");
    // The stream is opened to the --sni name by default…
    let v = probe(&xmpp, &["--starttls", "xmpp", "--sni", "xmpp.test"]);
    assert_upgraded(&v, "xmpp", "<proceed");
    assert_eq!(v["starttls"]["offered"], true, "{v}");
    let first = v["events"][0]["what"].as_str().unwrap();
    assert!(first.contains("to='xmpp.test'"), "{first}");
    // …to --xmpp-host when given, whatever the SNI (none here)…
    let v = probe(
        &xmpp,
        &["--starttls", "xmpp", "--xmpp-host", "xmpp.test", "--no-sni"],
    );
    assert_upgraded(&v, "xmpp", "<proceed");
    assert!(v["offered"]["sni"].is_null(), "{v}");
    // …and to the target's host without either: prosody does not serve 127.0.0.1.
    let v = probe(&xmpp, &["--starttls", "xmpp"]);
    assert_eq!(v["outcome"], "plaintext_error", "{v}");
    let said = v["starttls"]["server_said"].as_str().unwrap();
    assert!(said.contains("host-unknown"), "{said}");
    assert_eq!(causes(&v), ["plaintext_error"]);
    // A bad name is a usage error, before any connection.
    let out = shakedown()
        .args(["probe", &xmpp, "--starttls", "xmpp", "--xmpp-host", "x'y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let v = assert_suites(
        &xmpp,
        &["--starttls", "xmpp", "--xmpp-host", "xmpp.test"],
        openssl_suites("-tls1_2", PROSODY_CIPHERS, None),
        openssl_suites("-tls1_3", "DEFAULT", None),
    );
    assert_eq!(v["starttls"], "xmpp");
}

#[test]
fn the_wrong_starttls_for_the_port_is_a_plaintext_error() {
    warm_up();
    let smtp = postfix().addr("smtp");
    let imap = dovecot().addr("imap");
    for (target, wrong, greeting) in [
        (&smtp, "imap", "220 mx.test ESMTP Postfix"),
        (&smtp, "pop3", "220 mx.test ESMTP Postfix"),
        (&imap, "smtp", "* OK"),
        (&imap, "ftp", "* OK"),
    ] {
        let v = probe(target, &["--starttls", wrong]);
        assert_eq!(v["outcome"], "plaintext_error", "{wrong}: {v}");
        assert_eq!(v["starttls"]["accepted"], false);
        let said = v["starttls"]["server_said"].as_str().unwrap();
        assert!(said.starts_with(greeting), "{wrong}: {said}");
        assert_eq!(causes(&v), ["plaintext_error"]);
        assert_eq!(v["sent_bytes"], 0, "no hello after a failed preamble");
    }
    // A protocol that speaks first (LDAP's request to an SMTP server) ends alike.
    let v = probe(&smtp, &["--starttls", "ldap"]);
    assert_eq!(v["outcome"], "plaintext_error", "{v}");
    // No preamble to a STARTTLS port: the server's greeting is not TLS.
    let v = probe(&smtp, &["--starttls", "none"]);
    assert_ne!(v["outcome"], "server_hello", "{v}");
}

#[test]
fn dovecot_with_ssl_off_does_not_offer_starttls() {
    warm_up();
    let d = dovecot_plain();
    for (port, protocol) in [("imap", "imap"), ("pop3", "pop3")] {
        let v = probe(&d.addr(port), &["--starttls", protocol]);
        assert_eq!(v["outcome"], "starttls_not_offered", "{v}");
        assert_eq!(v["starttls"]["offered"], false, "{v}");
        assert_eq!(v["starttls"]["accepted"], false, "{v}");
        assert_eq!(causes(&v), ["starttls_not_offered"]);
        let fix = v["diagnosis"][0]["fix"].as_str().unwrap_or_default();
        assert!(fix.contains("ssl = yes"), "{fix}");
    }
    // A scan says why it found nothing, and stops: no retries, no hello after the version
    // test's connections (one per version at most).
    let v = scan(&d.addr("imap"), &["--starttls", "imap", "--suites-only"]);
    assert!(accepted(&v).is_empty(), "{v}");
    assert_eq!(v["retries"], 0, "{v}");
    assert!(v["handshakes"].as_u64().unwrap() <= 6, "{v}");
    let error = v["error"].as_str().unwrap_or_default();
    assert!(error.contains("starttls_not_offered"), "{v}");
}

#[test]
fn a_greeting_that_never_ends_is_named_within_the_deadline() {
    // A continuation line, then silence with the connection held open.
    let stalled = hostile_peer(|mut s| {
        let _ = s.write_all(b"220-mx.test ESMTP still greeting\r\n");
        thread::sleep(Duration::from_secs(8));
    });
    // An LDAP server that never answers the StartTLS request.
    let silent = hostile_peer(|_s| thread::sleep(Duration::from_secs(8)));
    for (peer, protocol) in [(stalled.addr, "smtp"), (silent.addr, "ldap")] {
        let began = Instant::now();
        let (_, v) = json_output(shakedown().args([
            "probe",
            &peer.to_string(),
            "--json",
            "--timeout",
            "1",
            "--starttls",
            protocol,
        ]));
        let took = began.elapsed();
        assert_eq!(v["outcome"], "plaintext_error", "{v}");
        assert!(took < Duration::from_millis(2500), "{protocol}: {took:?}");
        // The scan of it ends too, with the reason.
        let began = Instant::now();
        let out = shakedown()
            .args(["scan", "--json", "--suites-only", "--timeout", "1"])
            .args(["--starttls", protocol])
            .arg(peer.to_string())
            .output()
            .unwrap();
        let took = began.elapsed();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            v["error"]
                .as_str()
                .unwrap_or_default()
                .contains("plaintext_error"),
            "{v}"
        );
        assert!(took < Duration::from_secs(6), "{protocol} scan: {took:?}");
    }
}

// ------------------------------------------------------------------ captures

/// `openssl s_client -starttls` (a real client) through each server's upgrade, recorded on
/// lo: `pcap` follows the preamble, whatever the port, and finds the handshake s_client
/// reports (its version and cipher).
#[test]
fn captured_upgrades_of_a_real_client() {
    warm_up();
    let record_to = std::env::var_os("SHAKEDOWN_RECORD_STARTTLS").map(PathBuf::from);
    let cases: [(&str, &Daemon, &str, &[&str]); 8] = [
        ("smtp", postfix(), "smtp", &["-servername", "mx.test"]),
        ("imap", dovecot(), "imap", &["-servername", "mail.test"]),
        ("pop3", dovecot(), "pop3", &["-servername", "mail.test"]),
        ("ftp", vsftpd(), "ftp", &["-servername", "ftp.test"]),
        ("ldap", slapd(), "ldap", &["-servername", "ldap.test"]),
        (
            "xmpp",
            prosody(),
            "xmpp",
            &["-xmpphost", "xmpp.test", "-servername", "xmpp.test"],
        ),
        (
            "postgres",
            postgres(),
            "postgres",
            &["-servername", "db.test"],
        ),
        ("mysql", mariadb(), "mysql", &["-servername", "db.test"]),
    ];
    let dir = home().join("captures");
    fs::create_dir_all(&dir).unwrap();
    for (protocol, server, port, args) in cases {
        let port = server.port(port);
        let mut said = String::new();
        let Some(file) = common::record(&dir, port, || {
            let out = Command::new("openssl")
                .args(["s_client", "-starttls", protocol, "-connect"])
                .arg(format!("127.0.0.1:{port}"))
                .args(args)
                .args(["-brief"])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            said = String::from_utf8_lossy(&out.stderr).into_owned();
        }) else {
            return;
        };
        // s_client -brief: "Protocol version: TLSv1.3", "Ciphersuite: TLS_AES_256_GCM_SHA384"
        let field = |name: &str| {
            said.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_else(|| panic!("{protocol}: s_client said {said}"))
        };
        let (version, suite) = (field("Protocol version:"), field("Ciphersuite:"));
        let out = shakedown()
            .args(["pcap", "--json", "--all"])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let conn: serde_json::Value =
            serde_json::from_str(text.lines().next().unwrap_or("null")).unwrap();
        common::assert_schema(&conn);
        assert_eq!(conn["starttls"], protocol, "{conn}");
        assert_eq!(conn["server_hello"]["version"], version.as_str(), "{conn}");
        // OpenSSL names TLS 1.2 suites its own way; the standard name of it:
        let std_name = Command::new("openssl")
            .args(["ciphers", "-stdname", &suite])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        let cipher = if suite.starts_with("TLS_") {
            suite.clone()
        } else {
            std_name
        };
        assert_eq!(conn["server_hello"]["cipher"], cipher.as_str(), "{conn}");
        assert!(
            conn["ja4"].as_str().is_some_and(|j| j.starts_with('t')),
            "{conn}"
        );
        if let Some(to) = &record_to {
            fs::copy(&file, to.join(format!("starttls_{protocol}.pcap"))).unwrap();
        }
    }
}
