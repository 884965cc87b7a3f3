//! Colour for people, never for scripts: renderers mark outcomes and causes with these
//! styles, and the text sink's stream (anstream) keeps them on a terminal and strips them
//! in pipes, with `NO_COLOR`, or with `--color never`. JSON is never styled.

use anstyle::{AnsiColor, Style};
use std::fmt;

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
            write!(f, "{}{}{:#}", self.0, self.1, self.0)
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
