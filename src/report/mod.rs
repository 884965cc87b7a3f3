//! Renderers: the CLI hands the commands' results to a [`ResultSink`], which writes text for
//! people or one JSON object per line for scripts. Nothing below the CLI prints.

pub mod counts;
pub mod diff;
pub mod json;
pub mod pcap;
pub mod prometheus;
pub mod scan;
pub mod schema;
pub mod simulate;
pub mod style;
pub mod text;

use std::io::{self, Write};

/// How results are written, chosen once by the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for people.
    Text,
    /// One JSON object per line for scripts (each with `schema_version`).
    Json,
}

/// A result people can read: each result type's text renderer, in this module's
/// submodules. Renderers only render: everything they show is a field of the result.
pub trait Render {
    fn render_text(&self, out: &mut dyn Write) -> io::Result<()>;

    /// The JSON line (with its newline) written by a writer of the type's own, for results a
    /// run writes one of per connection; byte for byte what serde writes (tested). `None`:
    /// serde writes the line.
    fn render_json(&self, _out: &mut dyn Write) -> Option<io::Result<()>> {
        None
    }
}

/// The one place results are written: the format is chosen once, every result goes
/// through [`ResultSink::emit`].
pub struct ResultSink<W: Write> {
    out: W,
    format: Format,
}

impl<W: Write> ResultSink<W> {
    pub fn new(out: W, format: Format) -> Self {
        ResultSink { out, format }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes one result: a JSON line, or its text rendering.
    pub fn emit<T: serde::Serialize + Render + ?Sized>(&mut self, item: &T) -> io::Result<()> {
        match self.format {
            Format::Json => {
                if let Some(written) = item.render_json(&mut self.out) {
                    return written;
                }
                serde_json::to_writer(&mut self.out, item)?;
                self.out.write_all(b"\n")
            }
            Format::Text => item.render_text(&mut self.out),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The writer, for a caller that wraps it.
    pub fn into_inner(self) -> W {
        self.out
    }
}
