//! Renderers: commands hand their results to a [`Sink`], which writes text for people or
//! one JSON object per line for scripts. Nothing below the commands prints.

pub mod diff;
pub mod json;
pub mod pcap;
pub mod scan;
pub mod simulate;
pub mod text;

use crate::commands::probe::ProbeResult;
use std::io::{self, Write};

/// Where results go.
pub trait Sink {
    fn probe(&mut self, result: &ProbeResult) -> io::Result<()>;
}

/// Text or JSON lines to a writer.
pub struct WriterSink<W: Write> {
    pub out: W,
    pub json: bool,
}

impl<W: Write> Sink for WriterSink<W> {
    fn probe(&mut self, result: &ProbeResult) -> io::Result<()> {
        if self.json {
            writeln!(self.out, "{}", json::probe(result))?;
        } else {
            text::probe(&mut self.out, result)?;
        }
        self.out.flush()
    }
}
