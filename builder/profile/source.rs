//! Where profiles come from: finding one by name or path (./profiles, then built in), the
//! text it was read from, locations (`file:line:column`) inside it, and the listing of
//! shipped profiles.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use include_dir::{include_dir, Dir};
use toml::Spanned;

use crate::util::error::Error;
use crate::util::read::{self, Kind};

/// Profiles shipped inside the binary, so `--profile containerd` works from any folder.
static BUILTIN_PROFILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/profiles");

/// A profile's text and the name to show for it.
#[derive(Debug)]
pub struct Source {
    /// Which file this is, whatever path named it (`a/../a/p.toml` and `a/p.toml` are one):
    /// the canonical path, or `<built-in>/NAME.toml`.
    pub id: String,
    /// A path as given, or `<built-in>/NAME.toml`.
    pub name: String,
    /// The folder relative paths in it (`extends = "./base.toml"`) are resolved from.
    pub dir: Option<PathBuf>,
    pub text: String,
    /// Where it was found.
    pub origin: Origin,
    /// The name it was found by, for a profile that ships with builder (built in, or the
    /// unchanged copy in `./profiles`): errors in it say to extend it rather than edit it.
    pub shipped: Option<String>,
}

/// Where a profile comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Built into the binary (`<built-in>/NAME.toml`).
    BuiltIn,
    /// `./profiles/NAME.toml`, byte for byte the built-in profile of that name: the copy that
    /// ships in builder's `profiles` folder.
    Shipped,
    /// `./profiles/NAME.toml`, found by name, that is not a shipped copy: the user's own (or a
    /// changed copy of a shipped one, which then replaces the built-in profile of that name).
    Local,
    /// A path given on the command line or in `extends`.
    Path,
}

impl Origin {
    /// Where from, as a predicate, for `builder show`.
    fn describe(self) -> &'static str {
        match self {
            Origin::BuiltIn => "is built into builder",
            Origin::Shipped => "ships with builder (this copy in ./profiles is the built-in one)",
            Origin::Local => "is your own (./profiles)",
            Origin::Path => "is the file given",
        }
    }
}

impl Source {
    /// One line saying where this profile comes from and whether to edit it, for `builder show`
    /// (on stderr: stdout is the resolved text, whose digest the manifest records).
    pub fn origin_note(&self) -> String {
        let advice = match (&self.shipped, self.origin) {
            (Some(name), _) => format!(
                ": do not edit it, extend it in a profile of your own (`builder init` writes one \
                 with `extends = \"{name}\"`)"
            ),
            (None, Origin::Local) if self.replaces_builtin() => {
                ", and replaces the built-in profile of the same name".to_string()
            }
            (None, _) => String::new(),
        };
        format!("{} {}{advice}", self.name, self.origin.describe())
    }

    /// A local profile named like a built-in one (and so found instead of it).
    fn replaces_builtin(&self) -> bool {
        Path::new(&self.name)
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|stem| builtin_text(stem).is_some())
    }
}

/// The text of the built-in profile NAME.
fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN_PROFILES
        .get_file(format!("{name}.toml"))
        .and_then(|f| f.contents_utf8())
}

const BUILTIN_PREFIX: &str = "<built-in>/";

/// A span inside a source: renders as `file:line:column`.
#[derive(Debug, Clone)]
pub struct Loc {
    pub src: Arc<Source>,
    pub span: Range<usize>,
}

impl Loc {
    pub(super) fn new<T>(src: &Arc<Source>, v: &Spanned<T>) -> Loc {
        Loc {
            src: src.clone(),
            span: v.span(),
        }
    }

    /// 1-based line and column of the span's start.
    pub fn line_col(&self) -> (usize, usize) {
        crate::util::error::line_col(&self.src.text, self.span.start)
    }

    /// An error at this location: `file:line:col: what`. In a profile that ships with builder
    /// (built in, or its unchanged copy in ./profiles), the fix goes into a profile that extends
    /// it, and the message says how; in the user's own profile, the fix goes right there.
    pub fn error(&self, what: impl fmt::Display) -> anyhow::Error {
        let extend = match &self.src.shipped {
            Some(name) => {
                let what_it_is = if self.src.origin == Origin::BuiltIn {
                    "is built into builder"
                } else {
                    "is a shipped profile"
                };
                format!(
                    "; {} {what_it_is}, so do not edit it: put the change in your own profile \
                     (`extends = \"{name}\"` plus only what differs; for an [[artifact]], its `name` and the \
                     changed keys) and pass that file to --profile",
                    self.src.name
                )
            }
            None => String::new(),
        };
        Error::Profile(format!("{self}: {what}{extend}")).into()
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.line_col();
        write!(f, "{}:{line}:{col}", self.src.name)
    }
}

/// Where a profile is looked up.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// `./profiles` (relative to the working directory).
    pub local_dir: PathBuf,
}

impl Default for Lookup {
    fn default() -> Self {
        Lookup {
            local_dir: PathBuf::from("profiles"),
        }
    }
}

/// A profile file's text: a regular file (not a device or a FIFO, which could be endless),
/// of bounded size ([`Kind::Profile`]), in UTF-8.
fn read_profile(path: &Path) -> Result<String> {
    read::read_to_string(path, Kind::Profile).map_err(|e| {
        let why = match &e {
            read::ReadError::NotRegular { .. } => format!("{}; name a .toml file", e.reason()),
            _ => e.reason(),
        };
        Error::Profile(format!("cannot read profile {}: {why}", path.display())).into()
    })
}

/// The identity of a file that was just read: its canonical path (the path as given if that
/// fails, which it does not for a file that could be read).
fn file_id(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn is_path_like(spec: &str) -> bool {
    spec.ends_with(".toml") || spec.contains('/') || spec.contains(std::path::MAIN_SEPARATOR)
}

/// A profile, artifact or overlay name: lowercase letters, digits, '-', '_', '.' (not first).
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
        && !name.starts_with('.')
}

impl Lookup {
    /// Finds a profile's text: a path, `./profiles/NAME.toml`, or the built-in NAME.
    pub fn find(&self, spec: &str, relative_to: Option<&Path>) -> Result<Arc<Source>> {
        if is_path_like(spec) {
            let path = match relative_to {
                Some(dir) if Path::new(spec).is_relative() => dir.join(spec),
                _ => PathBuf::from(spec),
            };
            let text = read_profile(&path)?;
            return Ok(Arc::new(Source {
                id: file_id(&path),
                name: path.display().to_string(),
                dir: path.parent().map(Path::to_path_buf),
                text,
                origin: Origin::Path,
                shipped: None,
            }));
        }
        if !valid_name(spec) {
            return Err(Error::Profile(format!(
                "{spec:?} is neither a profile name (lowercase letters, digits, '-', '_') nor a path to a .toml file"
            ))
            .into());
        }
        let local = self.local_dir.join(format!("{spec}.toml"));
        if local.is_file() {
            let text = read_profile(&local)?;
            let origin = local_origin(spec, &text);
            return Ok(Arc::new(Source {
                id: file_id(&local),
                name: local.display().to_string(),
                dir: local.parent().map(Path::to_path_buf),
                text,
                origin,
                shipped: (origin == Origin::Shipped).then(|| spec.to_string()),
            }));
        }
        if let Some(file) = BUILTIN_PROFILES.get_file(format!("{spec}.toml")) {
            let text = file
                .contents_utf8()
                .ok_or_else(|| Error::Internal(format!("built-in profile {spec} is not UTF-8")))?;
            return Ok(Arc::new(Source {
                id: format!("{BUILTIN_PREFIX}{spec}.toml"),
                name: format!("{BUILTIN_PREFIX}{spec}.toml"),
                dir: None,
                text: text.to_string(),
                origin: Origin::BuiltIn,
                shipped: Some(spec.to_string()),
            }));
        }
        let known: Vec<String> = list(self)?.into_iter().map(|p| p.name).collect();
        Err(Error::Profile(format!(
            "no profile named {spec:?} in {} or built in (known: {}); pass a path to a .toml file or see `builder profiles`",
            self.local_dir.display(),
            known.join(", ")
        ))
        .into())
    }
}

/// A profile found by name in ./profiles: the shipped copy when it is byte for byte the
/// built-in profile of that name, else the user's own.
fn local_origin(name: &str, text: &str) -> Origin {
    if builtin_text(name) == Some(text) {
        Origin::Shipped
    } else {
        Origin::Local
    }
}

/// A profile in the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub description: String,
    /// Where it comes from: built in, or its file in ./profiles.
    pub origin: Origin,
    /// `<built-in>/NAME.toml` or the file's path.
    pub file: String,
}

fn description_of(text: &str) -> String {
    text.parse::<toml::Table>()
        .ok()
        .and_then(|t| {
            t.get("description")
                .and_then(|d| d.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Local profiles (shadowing built-in ones of the same name), then the rest of the built-ins.
pub fn list(lookup: &Lookup) -> Result<Vec<Listed>> {
    let mut out: BTreeMap<String, Listed> = BTreeMap::new();
    for file in BUILTIN_PROFILES.files() {
        let path = file.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        out.insert(
            name.clone(),
            Listed {
                file: format!("{BUILTIN_PREFIX}{name}.toml"),
                description: description_of(file.contents_utf8().unwrap_or("")),
                origin: Origin::BuiltIn,
                name,
            },
        );
    }
    if let Ok(entries) = std::fs::read_dir(&lookup.local_dir) {
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", lookup.local_dir.display()))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let text = read_profile(&path)?;
            out.insert(
                name.clone(),
                Listed {
                    origin: local_origin(&name, &text),
                    description: description_of(&text),
                    file: path.display().to_string(),
                    name,
                },
            );
        }
    }
    Ok(out.into_values().collect())
}
