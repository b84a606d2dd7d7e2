//! Options shared by several subcommands: the download options (`FetchArgs`, turned into the
//! library's `FetchOptions`), the `--output` text/json choice and the `--mirror` parser.
//! Not the subcommands themselves: each has its own file beside this one.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, ValueEnum};

use crate::fetch::{FetchOptions, Mirror, NetLimits};
use crate::util::error::{redact_urls, Error};
use crate::util::model::Arch;
use crate::util::progress::{Mode, Progress};

/// Options of the subcommands that download (`render`): the cache, mirrors, and the bounds
/// of each download. Each has a BUILDER_ env twin where it makes sense in CI.
#[derive(Debug, Args)]
#[command(next_help_heading = "Download options")]
pub struct FetchArgs {
    /// Cache folder for verified downloads (content-addressed by sha256) [default: the user's cache dir + /builder]
    #[arg(long, env = "BUILDER_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use only the cache: never open a network connection; a missing artifact is an error.
    /// Env BUILDER_OFFLINE: 1, true or yes (0, false, no or empty: online; any case)
    #[arg(long)]
    pub offline: bool,
    /// Rewrite URLs starting with FROM to start with TO (repeatable; the longest FROM wins).
    /// Pins stay the same, so a mirror cannot change the bytes installed. Credentials in TO
    /// (https://user:token@host/) are never printed or stored; pass them through the env
    /// variable (space-separated FROM=TO pairs) to keep them off the command line
    #[arg(long = "mirror", value_name = "FROM=TO", value_parser = MirrorParser,
          env = "BUILDER_MIRROR", value_delimiter = ' ', hide_env_values = true)]
    pub mirrors: Vec<Mirror>,
    /// Attempts per download for transient failures (connection errors, 408, 429, 5xx)
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub retries: u32,
    /// Downloads to run at the same time
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=32))]
    pub jobs: u32,
    /// Seconds to open a connection (TCP and TLS) before the attempt fails
    #[arg(long, env = "BUILDER_CONNECT_TIMEOUT", default_value_t = 10,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: u64,
    /// Seconds without a byte (waiting for the response, or between two reads of the body) before the attempt fails
    #[arg(long, env = "BUILDER_READ_TIMEOUT", default_value_t = 30,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Fail an attempt whose download is slower than this many bytes a second over --speed-time (0: no check)
    #[arg(
        long,
        env = "BUILDER_SPEED_LIMIT",
        default_value_t = 1024,
        value_name = "BYTES"
    )]
    pub speed_limit: u64,
    /// The window --speed-limit is measured over, in seconds
    #[arg(long, env = "BUILDER_SPEED_TIME", default_value_t = 30,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub speed_time: u64,
}

impl FetchArgs {
    /// The library's fetch options; `quiet` is the global `-q`.
    pub fn fetch_options(&self, quiet: bool) -> Result<FetchOptions> {
        let cache_dir = match &self.cache_dir {
            Some(dir) => dir.clone(),
            None => crate::fetch::cache::default_dir()?,
        };
        let logging = tracing::dispatcher::has_been_set();
        Ok(FetchOptions {
            cache_dir,
            offline: self.offline || env_flag("BUILDER_OFFLINE")?,
            mirrors: self.mirrors.clone(),
            attempts: self.retries,
            jobs: self.jobs as usize,
            quiet,
            progress: Progress::new(Mode::for_stderr(quiet, logging)),
            limits: NetLimits {
                connect: Duration::from_secs(self.connect_timeout),
                read: Duration::from_secs(self.read_timeout),
                speed_limit: self.speed_limit,
                speed_time: Duration::from_secs(self.speed_time),
            },
        })
    }
}

/// `--output` of `render` and `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people
    Text,
    /// One JSON document on stdout, for machines
    Json,
}

/// The value parser of `--output` (`render`, `diff`, `verify`): clap's for [`Output`], with a
/// hint when the command also has `--out` and the value is not a format (`-o mydist`: the
/// short option is `--output`'s, not `--out`'s).
#[derive(Clone)]
pub(super) struct OutputParser;

impl TypedValueParser for OutputParser {
    type Value = Output;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Output, clap::Error> {
        let text = value.to_string_lossy();
        if let Ok(output) = Output::from_str(&text, false) {
            return Ok(output);
        }
        let has_out = cmd.get_arguments().any(|a| a.get_long() == Some("out"));
        let tip = has_out.then(|| {
            format!("-o is --output (text or json); to write into '{text}', use --out {text}")
        });
        Err(invalid_value(cmd, arg, &text, "text or json", tip))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        variants::<Output>()
    }
}

/// The value parser of `--arch` (`render`, `init`): Kubernetes' names, as profiles spell them;
/// a kernel name (`x86_64`, `aarch64`) is refused with the name to use instead, as the profile
/// parser does.
#[derive(Clone)]
pub(super) struct ArchParser;

impl TypedValueParser for ArchParser {
    type Value = Arch;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Arch, clap::Error> {
        let text = value.to_string_lossy();
        if let Some(arch) = Arch::parse(&text) {
            return Ok(arch);
        }
        let tip = Arch::from_uname(&text).map(|arch| {
            format!("builder takes Kubernetes' names: '{text}' is {arch} (--arch {arch})")
        });
        let expected = format!("one of {}", Arch::list());
        Err(invalid_value(cmd, arg, &text, &expected, tip))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        variants::<Arch>()
    }
}

/// clap's error for a value a parser refuses, in clap's words, with a tip line when there is
/// one.
fn invalid_value(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    text: &str,
    expected: &str,
    tip: Option<String>,
) -> clap::Error {
    let arg = arg.map_or_else(|| "the value".to_string(), |a| format!("'{a}'"));
    let tip = tip.map(|t| format!("\n  tip: {t}")).unwrap_or_default();
    clap::Error::raw(
        ErrorKind::InvalidValue,
        format!(
            "invalid value '{text}' for {arg}: expected {expected}{tip}\n\nFor more information, try '--help'.\n"
        ),
    )
    .with_cmd(cmd)
}

/// A value enum's variants, as a custom parser hands them to clap for help and completion.
fn variants<T: ValueEnum + 'static>() -> Option<Box<dyn Iterator<Item = PossibleValue>>> {
    Some(Box::new(
        T::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value),
    ))
}

/// The value parser of `--mirror` (download options and `hosts`). Not a plain function: clap
/// quotes a value a function refuses as it was given, credentials included; this quotes it
/// with them hidden.
#[derive(Clone)]
pub(super) struct MirrorParser;

impl TypedValueParser for MirrorParser {
    type Value = Mirror;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Mirror, clap::Error> {
        let text = value.to_string_lossy();
        Mirror::parse(&text).map_err(|why| {
            let arg = arg.map_or_else(|| "--mirror".to_string(), ToString::to_string);
            let shown = redact_urls(&text);
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid value '{shown}' for '{arg}': {why}\n\nFor more information, try '--help'.\n"),
            )
            .with_cmd(cmd)
        })
    }
}

/// A yes/no environment variable: 1/0, true/false, yes/no (any case); unset or empty is no.
/// A bad value is an error naming the variable (the user set it, not a flag).
fn env_flag(name: &str) -> Result<bool> {
    let Some(raw) = std::env::var_os(name) else {
        return Ok(false);
    };
    let value = raw.to_string_lossy();
    parse_flag_value(&value).ok_or_else(|| {
        Error::Input(format!(
            "environment variable {name}={value:?} is not a yes/no value; set it to 1, true or yes \
             (or 0, false, no, or unset it)"
        ))
        .into()
    })
}

fn parse_flag_value(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_no_values() {
        for v in ["1", "true", "TRUE", "Yes", " yes "] {
            assert_eq!(parse_flag_value(v), Some(true), "{v}");
        }
        for v in ["0", "false", "False", "NO", ""] {
            assert_eq!(parse_flag_value(v), Some(false), "{v}");
        }
        for v in ["2", "on", "maybe", "ture"] {
            assert_eq!(parse_flag_value(v), None, "{v}");
        }
    }
}
