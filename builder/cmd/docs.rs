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

/// `builder completions SHELL`: the script for the command line `cli`. `--profile` completes
/// the profile names known when the script is made (built in, and ./profiles then), as
/// `builder profiles` lists them: the script is static, so a profile added later is typed out
/// (or the script made again).
pub(super) fn completions(args: &CompletionsArgs, cli: clap::Command) -> Result<u8> {
    let names: Vec<String> = crate::profile::list(&crate::profile::Lookup::default())?
        .into_iter()
        .map(|l| l.name)
        .collect();
    let mut cli = with_profile_names(cli, &names);
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "builder", &mut script);
    crate::util::stdout::print_text(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// `cli` with the values of every subcommand's `--profile` listed as `names` (for completion
/// scripts only: the parser itself takes any name or path).
fn with_profile_names(mut cli: clap::Command, names: &[String]) -> clap::Command {
    let subs: Vec<String> = cli
        .get_subcommands()
        .filter(|s| s.get_arguments().any(|a| a.get_id() == "profile"))
        .map(|s| s.get_name().to_string())
        .collect();
    for sub in subs {
        let names = names.to_vec();
        cli = cli.mut_subcommand(sub, move |s| {
            s.mut_arg("profile", move |a| {
                a.value_parser(clap::builder::PossibleValuesParser::new(names))
            })
        });
    }
    cli
}

/// Every man page of the command line `cli`: (file name, roff text), builder.1 first, then one
/// per visible subcommand (global options included in each).
fn man_pages(cli: clap::Command) -> Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = cli.disable_help_subcommand(true);
    cmd.build();
    let page = |cmd: clap::Command, envs: Vec<(String, String)>| -> Result<(String, Vec<u8>)> {
        let mut roff = Vec::new();
        render_page(&cmd, &envs, &mut roff)
            .map_err(|e| Error::Internal(format!("cannot render a man page: {e}")))?;
        Ok((clap_mangen::Man::new(cmd).get_filename(), roff))
    };
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let mut all_envs: Vec<(String, String)> = subs.iter().flat_map(|s| environment(s)).collect();
    all_envs.extend(environment(&cmd));
    all_envs.sort();
    all_envs.dedup_by(|a, b| a.0 == b.0);
    let mut pages = vec![page(cmd.clone(), all_envs)?];
    for sub in subs {
        let mut envs = environment(sub);
        envs.sort();
        pages.push(page(sub.clone(), envs)?);
    }
    Ok(pages)
}

/// clap_mangen's sections (under the conditions its `render` has), with EXIT STATUS and
/// ENVIRONMENT, which it does not write, after the options and subcommands, where
/// man-pages(7) puts them.
fn render_page(
    cmd: &clap::Command,
    envs: &[(String, String)],
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(w)?;
    }
    let mut roff = roff::Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit_codes(cmd.get_name()) {
        roff.control("TP", [])
            .text([roff::bold(code)])
            .text([roff::roman(meaning)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (var, meaning) in envs {
        roff.control("TP", [])
            .text([roff::bold(var.as_str())])
            .text([roff::roman(meaning.as_str())]);
    }
    roff.to_writer(w)?;
    if cmd.get_after_long_help().is_some() || cmd.get_after_help().is_some() {
        man.render_extra_section(w)?;
    }
    if cmd
        .get_version()
        .or_else(|| cmd.get_long_version())
        .is_some()
    {
        man.render_version_section(w)?;
    }
    Ok(())
}

/// The exit codes of a page's command (`builder` lists every one).
fn exit_codes(name: &str) -> Vec<(&'static str, &'static str)> {
    let mut codes = vec![
        ("0", "Success."),
        ("1", "Bad input (a flag, a profile, a file), or a fetch or a check that failed: the error names what, where and what to do."),
        ("2", "An internal error (a bug in builder: please report it)."),
    ];
    match name {
        "detect" => codes.push(("3", "Affected nodes found (nodes still on dockershim).")),
        "diff" => codes.push(("3", "The two renders differ.")),
        "builder" => codes.push((
            "3",
            "detect: affected nodes found; diff: the renders differ.",
        )),
        _ => {}
    }
    codes
}

/// The environment variables a command reads: each flag's twin (`env = ...`), and those that
/// have no flag.
fn environment(cmd: &clap::Command) -> Vec<(String, String)> {
    let mut envs: Vec<(String, String)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let var = a.get_env()?.to_string_lossy().into_owned();
            let flag = a
                .get_long()
                .map_or_else(|| a.get_id().to_string(), |l| format!("--{l}"));
            Some((var, format!("Read when {flag} is not given, as its value.")))
        })
        .collect();
    envs.push((
        "NO_COLOR".into(),
        "Set and not empty: no colour, even on a terminal (verify's ok/FAIL/skip, the -v log)."
            .into(),
    ));
    envs.push((
        "RUST_LOG".into(),
        "Without -v: a tracing filter for the log on stderr (RUST_LOG=builder=debug is -v).".into(),
    ));
    if cmd.get_arguments().any(|a| a.get_long() == Some("offline")) {
        envs.push((
            "BUILDER_OFFLINE".into(),
            "1, true or yes: as --offline (0, false, no or unset: not).".into(),
        ));
    }
    if cmd.get_name() == "render" {
        envs.push((
            crate::outputs::sign::PASSPHRASE_ENV.into(),
            "The passphrase of an encrypted --sign-key (there is no flag for it).".into(),
        ));
    }
    envs
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
