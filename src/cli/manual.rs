//! `shakedown completions SHELL` and `shakedown man [--out DIR]`: shell completions and
//! man pages generated from the same clap definitions the parser uses, so they never drift
//! from the flags.

use super::{Cli, Failure};
use clap::{Args, CommandFactory};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write shakedown.1 and one page per command (shakedown-probe.1, …) into this
    /// directory instead of printing shakedown.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Prints the completion script for `a.shell` (e.g. `shakedown completions bash >
/// /etc/bash_completion.d/shakedown`).
pub fn completions(a: &CompletionsArgs, out: &mut impl Write) -> Result<i32, Failure> {
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "shakedown", &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(0)
}

/// Prints shakedown.1, or writes every page into `--out`.
pub fn man(a: &ManArgs, out: &mut impl Write) -> Result<i32, Failure> {
    let cmd = Cli::command();
    match &a.out {
        None => {
            clap_mangen::Man::new(cmd).render(out)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::Usage(format!("--out {}: {e}", dir.display())))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| Failure::Usage(format!("--out {}: {e}", dir.display())))?;
        }
    }
    Ok(0)
}
