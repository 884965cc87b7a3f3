//! Every address of a name: what the backends behind one name do differently. Each
//! address is tested on its own (probe, scan); this compares their results on the facts an
//! operator acts on (outcome, version, cipher, leaf certificate, diagnosis causes) and
//! names the addresses that stand out ("1 of 3 addresses …: 127.0.0.3").

use crate::commands::SchemaVersion;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// What one address answered, in the facts compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backend {
    pub address: String,
    /// The handshake (or scan) failed at this address.
    pub failed: bool,
    pub outcome: String,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub leaf_sha256: Option<String>,
    /// Cause ids of the diagnosis.
    pub causes: Vec<String>,
}

/// The summary line of a name tested at several addresses.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AddressSummary {
    pub schema_version: SchemaVersion,
    /// Always `address_summary`: tells this line from the per-address results.
    pub kind: &'static str,
    /// `host:port` as given.
    pub target: String,
    /// Every address tested, in order.
    pub addresses: Vec<String>,
    /// The addresses whose test failed (the exit code is 1 when any did).
    pub failed: Vec<String>,
    /// What differs between the addresses; empty when they all agree.
    pub differences: Vec<Difference>,
}

/// One fact on which the addresses disagree, with the addresses in the minority.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Difference {
    /// `outcome`, `version`, `cipher`, `leaf_sha256` or `cause`.
    pub field: &'static str,
    /// The value these addresses have (for `cause`: the cause id they have or lack).
    pub value: String,
    pub addresses: Vec<String>,
    /// The sentence: "1 of 3 addresses have cause certificate_expired: 127.0.0.3".
    pub text: String,
}

impl AddressSummary {
    /// One line per difference, or one saying the addresses agree.
    pub fn lines(&self) -> Vec<String> {
        if self.differences.is_empty() {
            return vec![format!(
                "all {} addresses of {} answer alike",
                self.addresses.len(),
                self.target
            )];
        }
        self.differences.iter().map(|d| d.text.clone()).collect()
    }
}

/// Compares `backends` (at least two make a comparison; one yields no difference).
pub fn summarize(target: &str, backends: &[Backend]) -> AddressSummary {
    let n = backends.len();
    let mut differences = Vec::new();
    let none = || "none".to_string();
    type Field = (&'static str, &'static str, fn(&Backend) -> Option<String>);
    let fields: [Field; 4] = [
        ("outcome", "answer", |b| Some(b.outcome.clone())),
        ("version", "negotiate version", |b| b.version.clone()),
        ("cipher", "negotiate cipher", |b| b.cipher.clone()),
        ("leaf_sha256", "serve leaf certificate sha256", |b| {
            b.leaf_sha256.clone()
        }),
    ];
    for (field, verb, get) in fields {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for b in backends {
            groups
                .entry(get(b).unwrap_or_else(none))
                .or_default()
                .push(b.address.clone());
        }
        if groups.len() < 2 {
            continue;
        }
        // The largest group is the norm; every other group is named (ties: all named but
        // the first largest).
        let norm = groups
            .iter()
            .max_by_key(|(v, a)| (a.len(), std::cmp::Reverse((*v).clone())))
            .map(|(v, _)| v.clone())
            .unwrap_or_default();
        for (value, addresses) in groups.into_iter().filter(|(v, _)| *v != norm) {
            differences.push(Difference {
                field,
                text: format!(
                    "{} of {n} addresses {verb} {value} (the others {norm}): {}",
                    addresses.len(),
                    addresses.join(", ")
                ),
                value,
                addresses,
            });
        }
    }
    let mut causes: Vec<&String> = backends.iter().flat_map(|b| &b.causes).collect();
    causes.sort();
    causes.dedup();
    for cause in causes {
        let with: Vec<String> = backends
            .iter()
            .filter(|b| b.causes.contains(cause))
            .map(|b| b.address.clone())
            .collect();
        if with.len() == n {
            continue;
        }
        let (addresses, text) = if with.len() * 2 <= n {
            (
                with.clone(),
                format!(
                    "{} of {n} addresses have cause {cause}: {}",
                    with.len(),
                    with.join(", ")
                ),
            )
        } else {
            let without: Vec<String> = backends
                .iter()
                .filter(|b| !b.causes.contains(cause))
                .map(|b| b.address.clone())
                .collect();
            let text = format!(
                "{} of {n} addresses lack cause {cause} the others have: {}",
                without.len(),
                without.join(", ")
            );
            (without, text)
        };
        differences.push(Difference {
            field: "cause",
            value: cause.clone(),
            addresses,
            text,
        });
    }
    AddressSummary {
        schema_version: SchemaVersion,
        kind: "address_summary",
        target: target.to_string(),
        addresses: backends.iter().map(|b| b.address.clone()).collect(),
        failed: backends
            .iter()
            .filter(|b| b.failed)
            .map(|b| b.address.clone())
            .collect(),
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(addr: &str, leaf: &str, causes: &[&str]) -> Backend {
        Backend {
            address: addr.into(),
            outcome: "server_hello".into(),
            version: Some("TLS 1.3".into()),
            cipher: Some("TLS_AES_128_GCM_SHA256".into()),
            leaf_sha256: Some(leaf.into()),
            causes: causes.iter().map(|c| c.to_string()).collect(),
            failed: !causes.is_empty(),
        }
    }

    #[test]
    fn the_odd_backend_is_named() {
        let s = summarize(
            "a.test:443",
            &[
                backend("10.0.0.1", "aa", &[]),
                backend("10.0.0.2", "bb", &["certificate_expired"]),
                backend("10.0.0.3", "aa", &[]),
            ],
        );
        assert_eq!(s.failed, ["10.0.0.2"]);
        let texts = s.lines();
        assert!(
            texts
                .iter()
                .any(|t| t == "1 of 3 addresses have cause certificate_expired: 10.0.0.2"),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("1 of 3 addresses serve leaf"))
        );
        let same = summarize(
            "a.test:443",
            &[backend("x", "aa", &[]), backend("y", "aa", &[])],
        );
        assert!(same.differences.is_empty());
        assert_eq!(same.lines(), ["all 2 addresses of a.test:443 answer alike"]);
    }
}
