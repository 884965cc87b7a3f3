//! `diff` on the command line: its flags and the validated [`DiffConfig`] (each side a
//! capture connection or a target).

use super::{ConnectArgs, Failure};
use crate::commands::ConnectConfig;
use crate::commands::capture_ref::ConnRef;
use crate::commands::diff::{self, DiffConfig, DiffSide};
use crate::report::ResultSink;
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// FILE#N, FILE#ADDR:PORT (a capture connection) or a TARGET to probe.
    pub a: String,
    /// FILE#N, FILE#ADDR:PORT (a capture connection) or a TARGET to probe.
    pub b: String,
    #[command(flatten)]
    pub connecting: ConnectArgs,
}

/// A side of the diff: a capture connection when the text names an existing file before its
/// `#`, else a target.
fn side(arg: &str, connecting: &ConnectConfig) -> Result<DiffSide, String> {
    if let Some((file, _)) = arg.rsplit_once('#')
        && std::path::Path::new(file).is_file()
    {
        return ConnRef::parse(arg, None).map(DiffSide::Capture);
    }
    connecting
        .first_target(arg)
        .map(DiffSide::Probe)
        .map_err(|e| {
            format!(
                "{arg:?}: neither FILE#N / FILE#ADDR:PORT of an existing capture nor a target ({e})"
            )
        })
}

/// Validated `diff` options.
pub fn diff_config(a: &DiffArgs) -> Result<DiffConfig, String> {
    let connecting = a.connecting.validate()?;
    Ok(DiffConfig {
        a: side(&a.a, &connecting)?,
        b: side(&a.b, &connecting)?,
        connecting,
    })
}

/// Exit code 1 when the two differ, else 0.
pub fn run(a: &DiffArgs, mut sink: ResultSink<impl Write>) -> Result<i32, Failure> {
    let cfg = diff_config(a)?;
    let report = diff::run(&cfg)?;
    sink.emit(&report)?;
    sink.flush()?;
    Ok(if report.first_difference.is_some() {
        1
    } else {
        0
    })
}
