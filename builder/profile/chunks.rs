//! Parsing a big profile a table at a time: the text is cut before each `[[artifact]]` header,
//! the head (everything before the first) and every piece are parsed on their own, and the
//! artifacts are joined with their spans moved back to the whole file's offsets. A TOML
//! document of every artifact is never held, so a profile of 100,000 artifacts costs its
//! artifacts, not its syntax tree (ci/bench/profile.sh).
//!
//! Only a file of the usual shape is cut: after the first `[[artifact]]`, every table header
//! is an artifact's (`[[artifact]]`, `[artifact.…]`, `[[artifact.…]]`), and the head holds no
//! `artifact` key. Anything else, and any piece that does not parse, gives `None`: the caller
//! parses the whole text, whose errors (and their positions) are then exactly as they were.

use std::ops::Range;

use toml::Spanned;

use super::raw::{RawArtifact, RawProfile};

/// Files smaller than this are parsed whole (cutting buys nothing).
const MIN_BYTES: usize = 64 * 1024;

/// The profile of `text` parsed piece by piece, or `None` to parse it whole.
pub(super) fn parse(text: &str) -> Option<RawProfile> {
    if text.len() < MIN_BYTES {
        return None;
    }
    cut(text)
}

fn cut(text: &str) -> Option<RawProfile> {
    let cuts = artifact_starts(text)?;
    let first = *cuts.first()?;
    // The head may not give `artifact` itself (`artifact = []` and then `[[artifact]]` is an
    // error of the whole file, which an empty list would hide).
    let head: toml::Table = toml::from_str(&text[..first]).ok()?;
    if head.contains_key("artifact") {
        return None;
    }
    let mut profile: RawProfile = toml::from_str(&text[..first]).ok()?;
    let ends = cuts.iter().skip(1).copied().chain([text.len()]);
    for (start, end) in cuts.iter().copied().zip(ends) {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Piece {
            artifact: Vec<RawArtifact>,
        }
        let piece: Piece = toml::from_str(&text[start..end]).ok()?;
        profile
            .artifacts
            .extend(piece.artifact.into_iter().map(|a| moved(a, start)));
    }
    Some(profile)
}

/// Where each line that is exactly an `[[artifact]]` header starts (outside strings), if the
/// file has the usual shape (see the module's note); `None` otherwise.
fn artifact_starts(text: &str) -> Option<Vec<usize>> {
    let mut starts = Vec::new();
    let mut lexer = Lexer::default();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if lexer.in_multiline.is_none() {
            let header = header_of(line);
            match header.as_deref() {
                Some("[[artifact]]") => starts.push(at),
                Some(h) if !starts.is_empty() && !of_an_artifact(h) => return None,
                _ => {}
            }
        }
        lexer.line(line)?;
        at += line.len();
    }
    lexer.in_multiline.is_none().then_some(starts)
}

/// Is this header one of an artifact's own tables (`[artifact.sha256]`, `[[artifact.install]]`)?
fn of_an_artifact(header: &str) -> bool {
    header.starts_with("[artifact.") || header.starts_with("[[artifact.")
}

/// A table header on this line (whitespace removed, comment dropped), if the line is one.
fn header_of(line: &str) -> Option<String> {
    let t = line.trim_start_matches([' ', '\t']);
    if !t.starts_with('[') {
        return None;
    }
    let code = t.split('#').next().unwrap_or(t);
    Some(code.chars().filter(|c| !c.is_whitespace()).collect())
}

/// Just enough of TOML's lexing to know whether a line starts inside a multi-line string.
#[derive(Default)]
struct Lexer {
    /// `"""` or `'''` while inside one.
    in_multiline: Option<&'static str>,
}

impl Lexer {
    /// Follows one line; `None` for anything it does not follow (a quote it cannot place).
    fn line(&mut self, line: &str) -> Option<()> {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if let Some(close) = self.in_multiline {
                if close == "\"\"\"" && b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i..].starts_with(close.as_bytes()) {
                    // A closing delimiter may take up to two more quotes of its kind.
                    i += 3;
                    while i < b.len() && b[i] == close.as_bytes()[0] {
                        i += 1;
                    }
                    self.in_multiline = None;
                    continue;
                }
                i += 1;
                continue;
            }
            match b[i] {
                b'#' => return Some(()),
                b'"' if b[i..].starts_with(b"\"\"\"") => {
                    self.in_multiline = Some("\"\"\"");
                    i += 3;
                }
                b'\'' if b[i..].starts_with(b"'''") => {
                    self.in_multiline = Some("'''");
                    i += 3;
                }
                b'"' => i = close_basic(b, i + 1)?,
                b'\'' => i = b[i + 1..].iter().position(|&c| c == b'\'')? + i + 2,
                _ => i += 1,
            }
        }
        Some(())
    }
}

/// The index after the `"` that closes a basic string whose text starts at `i`.
fn close_basic(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// `a` with every span moved `by` bytes on (from its piece's offsets to the file's).
fn moved(a: RawArtifact, by: usize) -> RawArtifact {
    fn shift<T>(v: Spanned<T>, by: usize) -> Spanned<T> {
        let Range { start, end } = v.span();
        Spanned::new(start + by..end + by, v.into_inner())
    }
    RawArtifact {
        name: shift(a.name, by),
        version: a.version.map(|v| shift(v, by)),
        url: a.url.map(|v| shift(v, by)),
        sha256: a.sha256,
        install: a
            .install
            .map(|rules| rules.into_iter().map(|r| shift(r, by)).collect()),
        remove: a.remove,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every profile file of the repository (valid, invalid, shipped) and a big generated one:
    /// where the cut parse answers, the whole parse answers the same, spans included.
    #[test]
    fn a_cut_parse_is_the_whole_parse() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        for dir in [
            "tests/fixtures/profiles/valid",
            "tests/fixtures/profiles/invalid",
            "profiles",
        ] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = e.unwrap().path();
                if path.extension().is_some_and(|x| x == "toml") {
                    texts.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut big =
            String::from("schema = 1\nname = \"big\"\n[containerd]\nsystemd_cgroup = true\n");
        for i in 0..300 {
            big += &format!(
                "\n[[artifact]] # {i}\nname = \"a{i}\"\nurl = \"https://x.invalid/{{arch}}\"\n\
                 [artifact.sha256]\namd64 = \"{}\"\n[[artifact.install]]\nto = \"/opt/a{i}\"\n",
                "ab".repeat(32)
            );
        }
        texts.push(big);
        let (mut cut_some, mut total) = (0, 0);
        for text in &texts {
            total += 1;
            let whole = toml::from_str::<RawProfile>(text);
            if let Some(p) = cut(text) {
                cut_some += 1;
                assert_eq!(format!("{p:?}"), format!("{:?}", whole.unwrap()), "{text}");
            }
        }
        assert!(
            cut_some * 2 > total,
            "only {cut_some} of {total} files were cut"
        );
    }

    fn starts(text: &str) -> Option<Vec<usize>> {
        artifact_starts(text)
    }

    #[test]
    fn cuts_only_at_real_headers() {
        let text = "schema = 1\n[[artifact]]\nname = \"a\"\n[artifact.sha256]\namd64 = \"x\"\n\
                    [[artifact.install]]\nto = \"/a\"\n  [[artifact]]  # b\nname = \"b\"\n";
        assert_eq!(
            starts(text),
            Some(vec![11, text.find("  [[artifact]]").unwrap()])
        );
        // Inside multi-line strings (with escaped and doubled quotes), a comment or a string.
        let hidden = "d = \"\"\"\n[[artifact]]\n\\\"\"\" \"\"\"\"\ne = '''\n[[artifact]]\n'''\n\
                      f = \"# [[artifact]]\" # \"\"\"\ng = 'x\"'\n[[artifact]]\n";
        assert_eq!(
            starts(hidden),
            Some(vec![hidden.rfind("[[artifact]]").unwrap()])
        );
    }

    #[test]
    fn unusual_shapes_are_left_to_the_whole_parse() {
        // A table that is not an artifact's after the first artifact.
        assert_eq!(starts("[[artifact]]\nname = \"a\"\n[containerd]\n"), None);
        assert_eq!(starts("[[artifact]]\n[\"artifact\".x]\n"), None);
        // An unterminated string or multi-line string.
        assert_eq!(starts("a = \"x\n[[artifact]]\n"), None);
        assert_eq!(starts("a = \"\"\"x\n[[artifact]]\n"), None);
        // Tables before the artifacts are fine.
        assert_eq!(starts("[containerd]\n[[artifact]]\n"), Some(vec![13]));
        // The head giving `artifact` too: an error of the whole file, so not cut.
        let both = "schema = 1\nname = \"t\"\nartifact = []\n[[artifact]]\nname = \"a\"\n";
        assert!(toml::from_str::<RawProfile>(both).is_err());
        assert!(cut(both).is_none());
    }
}
