//! A connection in a capture, named `FILE#N` or `FILE#ADDR:PORT`, and reading it: the
//! sides `diff` compares and the hello `replay` sends.

use crate::commands::pcap::{self, AnalyzeOptions, ConnectionReport};
use crate::io::capture::ReadOptions;
use std::net::SocketAddr;

/// Which connection of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnSelector {
    /// 1-based, in order of first packet.
    Index(u64),
    /// The first connection with this client or server endpoint.
    Endpoint(SocketAddr),
}

/// A connection in a capture: `FILE#N` or `FILE#ADDR:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnRef {
    pub file: String,
    pub conn: ConnSelector,
}

impl ConnSelector {
    pub fn parse(s: &str) -> Result<ConnSelector, String> {
        if let Ok(n) = s.parse::<u64>() {
            return if n == 0 {
                Err("connections are numbered from 1".into())
            } else {
                Ok(ConnSelector::Index(n))
            };
        }
        s.parse()
            .map(ConnSelector::Endpoint)
            .map_err(|_| format!("{s:?}: expected a connection number N or ADDR:PORT"))
    }
}

impl std::fmt::Display for ConnSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnSelector::Index(n) => write!(f, "{n}"),
            ConnSelector::Endpoint(a) => write!(f, "{a}"),
        }
    }
}

impl ConnRef {
    /// `FILE#SEL`, or `FILE` with the selector given apart (`--conn`); neither: connection 1.
    /// A `#` in a file name is taken as the separator only when it splits off a selector.
    pub fn parse(arg: &str, conn: Option<&str>) -> Result<ConnRef, String> {
        if let Some(c) = conn {
            return Ok(ConnRef {
                file: arg.to_string(),
                conn: ConnSelector::parse(c).map_err(|e| format!("--conn {e}"))?,
            });
        }
        if let Some((file, sel)) = arg.rsplit_once('#')
            && let Ok(conn) = ConnSelector::parse(sel)
        {
            return Ok(ConnRef {
                file: file.to_string(),
                conn,
            });
        }
        Ok(ConnRef {
            file: arg.to_string(),
            conn: ConnSelector::Index(1),
        })
    }
}

/// Reads the capture and returns the chosen connection's report.
pub fn load_connection(r: &ConnRef) -> Result<ConnectionReport, String> {
    let file = std::fs::File::open(&r.file).map_err(|e| format!("{}: {e}", r.file))?;
    let mut all = Vec::new();
    let (_, error) = pcap::analyze_file(
        file,
        true,
        &ReadOptions::default(),
        AnalyzeOptions::default(),
        &mut |c| all.push(c),
    );
    all.sort_by_key(|c| c.index);
    let found = all.into_iter().find(|c| match r.conn {
        ConnSelector::Index(n) => c.index == n,
        ConnSelector::Endpoint(a) => c.client == a || c.server == a,
    });
    match (found, error) {
        (Some(c), _) => Ok(c),
        (None, Some(e)) => Err(format!("{}: {e}", r.file)),
        (None, None) => Err(format!(
            "{}: no TLS connection #{} in the capture",
            r.file, r.conn
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_refs_parse() {
        assert_eq!(
            ConnRef::parse("a.pcap#2", None).unwrap(),
            ConnRef {
                file: "a.pcap".into(),
                conn: ConnSelector::Index(2)
            }
        );
        assert_eq!(
            ConnRef::parse("a.pcap#[::1]:443", None).unwrap().conn,
            ConnSelector::Endpoint("[::1]:443".parse().unwrap())
        );
        assert_eq!(
            ConnRef::parse("a.pcap", Some("127.0.0.1:5")).unwrap().conn,
            ConnSelector::Endpoint("127.0.0.1:5".parse().unwrap())
        );
        assert_eq!(
            ConnRef::parse("odd#name.pcap", None).unwrap().file,
            "odd#name.pcap"
        );
        assert!(ConnRef::parse("a.pcap", Some("0")).is_err());
        assert!(ConnRef::parse("a.pcap", Some("x")).is_err());
    }
}
