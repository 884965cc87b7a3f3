//! Post-quantum key exchange over QUIC against a real server: quinn (crates.io, a
//! dev-dependency) on rustls with the aws-lc-rs provider, whose X25519MLKEM768 is aws-lc's
//! ML-KEM (aioquic, the other tests' QUIC server, has no ML-KEM). Each test starts the server
//! in this test binary on a 127.0.0.1 ephemeral UDP port with a chain from the test's own
//! PKI, offering only the groups the test names, and stops it by its handle. `probe --quic`
//! with the hybrid key share must finish the handshake: the server's Handshake packets
//! decrypted with the secret our X25519MLKEM768 share gives, its Finished verified. Also:
//! the hybrid asked for in a HelloRetryRequest over QUIC and answered by a second hello with
//! a real hybrid share, no common group, a classical-only server, and a loopback recording
//! of the probe read back by `pcap` (the ClientHello with its 1,216-byte share spans two
//! Initial packets).

mod common;

use common::{Pki, json_output, record_filtered, shakedown};
use quinn::rustls;
use rustls::crypto::SupportedKxGroup;
use rustls::crypto::aws_lc_rs::{default_provider, kx_group};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// A quinn server running on its own thread; closed and joined when dropped.
struct Quinn {
    addr: SocketAddr,
    endpoint: quinn::Endpoint,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Quinn {
    fn drop(&mut self) {
        self.endpoint.close(0u32.into(), b"test over");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// quinn serving `localhost`'s chain (leaf and intermediate) with ALPN h3, TLS 1.3 key
/// exchange limited to `groups`. It accepts connections until closed and lets each run its
/// handshake (the probe ends it with a CONNECTION_CLOSE).
fn quinn_server(pki: &Pki, groups: &[&'static dyn SupportedKxGroup]) -> Quinn {
    let leaf = pki.leaf("localhost");
    let mut chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&leaf.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    if let Some(c) = &leaf.chain {
        chain.extend(
            CertificateDer::pem_file_iter(c)
                .unwrap()
                .map(Result::unwrap),
        );
    }
    let key = PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
    let mut provider = default_provider();
    provider.kx_groups = groups.to_vec();
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap();
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let endpoint = runtime.block_on(async {
        quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap()
    });
    let addr = endpoint.local_addr().unwrap();
    let serving = endpoint.clone();
    let thread = thread::spawn(move || {
        runtime.block_on(async move {
            while let Some(incoming) = serving.accept().await {
                tokio::spawn(async move {
                    // The probe closes the connection once it has read the server's flight.
                    if let Ok(conn) = incoming.await {
                        let _ = conn.closed().await;
                    }
                });
            }
        });
    });
    Quinn {
        addr,
        endpoint,
        thread: Some(thread),
    }
}

/// `probe --quic --json` of the server as `localhost`, trusting the PKI's root.
fn probe(pki: &Pki, server: &Quinn, extra: &[&str]) -> (i32, Value) {
    let root = pki.root().cert.clone();
    json_output(
        shakedown()
            .args(["probe", "--quic", "--json", "--sni", "localhost", "--ca"])
            .arg(&root)
            .args(extra)
            .arg(server.addr.to_string()),
    )
}

const HYBRID_ONLY: [&str; 4] = [
    "--groups",
    "X25519MLKEM768",
    "--key-shares",
    "X25519MLKEM768",
];

/// The probe's outcome: TLS 1.3 over `group`, the server's flight read to its verified
/// Finished, the chain trusted.
fn assert_finished_over(code: i32, v: &Value, group: &str) {
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["outcome"], "server_hello", "{v:#}");
    let sh = &v["server_hello"];
    assert_eq!(sh["version"], "TLSv1.3", "{v:#}");
    assert_eq!(sh["group"], group, "{v:#}");
    assert_eq!(sh["alpn"], "h3", "{v:#}");
    assert_eq!(v["decryption"]["server_finished_verified"], true, "{v:#}");
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "leaf and intermediate: {v:#}");
    assert!(common::causes(v).is_empty(), "{:?}", common::causes(v));
}

#[test]
fn hybrid_key_share_over_quic_finishes_the_handshake_with_quinn() {
    let pki = Pki::new();
    let server = quinn_server(&pki, &[kx_group::X25519MLKEM768]);
    let (code, v) = probe(&pki, &server, &HYBRID_ONLY);
    assert_finished_over(code, &v, "X25519MLKEM768");
    // Our ClientHello carried the 1,216-byte hybrid share (the hello is about 1.5 kB, more
    // than one 1,200-byte Initial datagram holds), and only that share.
    assert_eq!(
        v["offered"]["key_shares"],
        serde_json::json!(["X25519MLKEM768"]),
        "{v:#}"
    );
    assert_eq!(v["quic"]["dropped_packets"], 0, "{v:#}");
}

#[test]
fn hybrid_asked_for_in_a_hello_retry_request_over_quic_is_finished() {
    let pki = Pki::new();
    let server = quinn_server(&pki, &[kx_group::X25519MLKEM768]);
    // x25519's share only; the hybrid offered in supported_groups. The server asks for the
    // hybrid's share; the second hello (in more Initial packets, the CRYPTO stream going on)
    // carries a real one, and the handshake finishes over it.
    let (code, v) = probe(
        &pki,
        &server,
        &[
            "--groups",
            "x25519,X25519MLKEM768",
            "--key-shares",
            "x25519",
        ],
    );
    assert_finished_over(code, &v, "X25519MLKEM768");
    let retry = &v["hello_retry_request"];
    assert_eq!(retry["group"], "X25519MLKEM768", "{v:#}");
    assert_eq!(
        retry["second_client_hello"]["key_shares"],
        serde_json::json!(["X25519MLKEM768"]),
        "{v:#}"
    );
}

#[test]
fn classical_only_client_fails_against_a_hybrid_only_server() {
    let pki = Pki::new();
    let server = quinn_server(&pki, &[kx_group::X25519MLKEM768]);
    let (code, v) = probe(
        &pki,
        &server,
        &["--groups", "x25519", "--key-shares", "x25519"],
    );
    // No group in common: the server ends the handshake with a TLS alert in a
    // CONNECTION_CLOSE (crypto error 0x100 + alert).
    assert_ne!(code, 0, "{v:#}");
    let text = v.to_string();
    assert!(text.contains("handshake_failure"), "{v:#}");
}

#[test]
fn hybrid_and_classical_shares_to_a_classical_only_server_get_x25519() {
    let pki = Pki::new();
    let server = quinn_server(&pki, &[kx_group::X25519]);
    let (code, v) = probe(
        &pki,
        &server,
        &[
            "--groups",
            "X25519MLKEM768,x25519",
            "--key-shares",
            "X25519MLKEM768,x25519",
        ],
    );
    assert_finished_over(code, &v, "x25519");
}

#[test]
fn recording_of_the_hybrid_handshake_is_read_back_by_pcap() {
    let pki = Pki::new();
    let server = quinn_server(&pki, &[kx_group::X25519MLKEM768]);
    let Some(file) = record_filtered(
        pki.dir.path(),
        &format!("udp port {}", server.addr.port()),
        server.addr.port(),
        || {
            let (code, v) = probe(&pki, &server, &HYBRID_ONLY);
            assert_finished_over(code, &v, "X25519MLKEM768");
        },
    ) else {
        return;
    };
    // The first line: the one connection.
    let (_, c) = json_output(shakedown().args(["pcap", "--json"]).arg(&file));
    assert_eq!(c["transport"], "quic", "{c:#}");
    assert_eq!(c["sni"], "localhost", "{c:#}");
    assert_eq!(
        c["offered"]["key_shares"],
        serde_json::json!(["X25519MLKEM768"])
    );
    assert_eq!(c["server_hello"]["group"], "X25519MLKEM768", "{c:#}");
    assert!(c["ja4"].as_str().unwrap().starts_with("q13d"), "{c:#}");
    // Without the keys, the reader sees the server's Handshake packets and then the probe
    // end the connection (a CONNECTION_CLOSE in an Initial packet, after reading the
    // server's flight): the capture's verdict is that close.
    assert_eq!(c["outcome"], "closed", "{c:#}");
    assert!(
        c["events"]
            .to_string()
            .contains("CONNECTION_CLOSE NO_ERROR"),
        "{c:#}"
    );
}
