//! Colour for people, never for scripts: renderers mark outcomes and causes with these
//! styles on a terminal (or with `--color always`); in pipes, with `NO_COLOR` or with
//! `--color never` they write no escape codes at all. JSON is never styled.
//!
//! Whether to colour is decided once, by the CLI before anything is rendered
//! ([`set_enabled`]). Not writing the codes is cheaper than stripping them afterwards: a
//! stripping stream scans every byte of the report, 6 % of a large `pcap` text report's
//! instructions.

use anstyle::{AnsiColor, Style};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once at start-up; on by default so that a renderer used without the CLI keeps its
/// styles (a stripping stream behind it still removes them).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Whether renderers write escape codes (the CLI's one decision, made before rendering).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether renderers write escape codes.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A handshake that went on.
pub const GOOD: Style = AnsiColor::Green.on_default();
/// A step worth a look (a HelloRetryRequest, a weak suite).
pub const NOTE: Style = AnsiColor::Yellow.on_default();
/// A failure and its causes.
pub const BAD: Style = AnsiColor::Red.on_default().bold();

/// `text` in `style`.
pub fn paint<T: fmt::Display>(style: Style, text: T) -> impl fmt::Display {
    struct Painted<T>(Style, T);
    impl<T: fmt::Display> fmt::Display for Painted<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if enabled() {
                write!(f, "{}{}{:#}", self.0, self.1, self.0)
            } else {
                write!(f, "{}", self.1)
            }
        }
    }
    Painted(style, text)
}

/// The style of a probe's outcome word.
pub fn of_outcome(outcome: &str) -> Style {
    match outcome {
        "server_hello" | "established" => GOOD,
        "hello_retry_request" => NOTE,
        _ => BAD,
    }
}
