//! The pure core: no sockets, files, clock or randomness — they come in as values.
//! Inside it, arrows point down: `assess` → {`cert`, `fingerprint`} → `session` →
//! `crypto` → `wire` → `datetime` → {`flow`, `cause`, `decimal`}.

pub mod assess;
pub mod cause;
pub mod cert;
pub mod crypto;
pub mod datetime;
pub mod decimal;
pub mod fingerprint;
pub mod flow;
pub mod session;
pub mod wire;
