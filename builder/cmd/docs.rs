//! `builder completions` and `builder manpage`: shell completion scripts and man pages,
//! generated from the command-line definitions. The caller hands in that definition
//! (`Cli::command()`), so this file needs nothing from `cmd/mod.rs`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use crate::util::error::Error;

/// Options of `builder completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Options of `builder manpage`.
#[derive(Debug, Args)]
pub struct ManpageArgs {
    /// Write builder.1 and builder-SUBCOMMAND.1 into this folder (created if missing) instead of builder.1 to stdout
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `builder completions SHELL`: the script for the command line `cli`.
pub(super) fn completions(args: &CompletionsArgs, mut cli: clap::Command) -> Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "builder", &mut script);
    crate::util::stdout::print_text(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// Every man page of the command line `cli`: (file name, roff text), builder.1 first, then one
/// per visible subcommand (global options included in each).
fn man_pages(cli: clap::Command) -> Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = cli.disable_help_subcommand(true);
    cmd.build();
    let page = |cmd: clap::Command| -> Result<(String, Vec<u8>)> {
        let man = clap_mangen::Man::new(cmd);
        let mut roff = Vec::new();
        man.render(&mut roff)
            .map_err(|e| Error::Internal(format!("cannot render a man page: {e}")))?;
        Ok((man.get_filename(), roff))
    };
    let mut pages = vec![page(cmd.clone())?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(page(sub.clone())?);
    }
    Ok(pages)
}

/// `builder manpage [--dir DIR]`: the pages of the command line `cli`.
pub(super) fn manpage(args: &ManpageArgs, cli: clap::Command) -> Result<u8> {
    write_man_pages(cli, args.dir.as_deref())?;
    Ok(0)
}

/// Each page is written beside its final name and renamed into place, so a failure never
/// leaves a half-written page.
fn write_man_pages(cli: clap::Command, dir: Option<&Path>) -> Result<()> {
    let pages = man_pages(cli)?;
    let Some(dir) = dir else {
        return crate::util::stdout::print_text(&String::from_utf8_lossy(&pages[0].1));
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the man page folder {}", dir.display()))?;
    for (name, roff) in &pages {
        let path = dir.join(name);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        std::io::Write::write_all(&mut tmp, roff)
            .with_context(|| format!("writing {}", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        // NamedTempFile is created 0600; a man page is for everyone to read.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(())
}
