//! The docs people start from (README.md and the book in docs/src/) against the code: every
//! relative link reaches a file (and its `#anchor` a heading there), every chapter of
//! SUMMARY.md exists, and every `--flag` a code block passes to a `builder` subcommand is one
//! that subcommand has (its `--help`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page of the book.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut book: Vec<PathBuf> = fs::read_dir(root().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    book.sort();
    pages.extend(book);
    pages
}

/// The `[text](target)` targets of a page, outside code blocks and code spans, with their line.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans hold example syntax, not links.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((n + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// mdBook's anchor of a heading: lower case, spaces to '-', only letters, digits, '-', '_'.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// What is wrong with one link of `page`, if anything.
fn broken(page: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (file, frag) = target.split_once('#').unwrap_or((target, ""));
    let path = if file.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().unwrap().join(file)
    };
    if !path.exists() {
        return Some(format!("{} does not exist", path.display()));
    }
    if !frag.is_empty() && path.extension().is_some_and(|e| e == "md") {
        let text = fs::read_to_string(&path).unwrap();
        if !anchors(&text).contains(frag) {
            return Some(format!("{} has no heading #{frag}", path.display()));
        }
    }
    None
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut bad = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = fs::read_to_string(&page).unwrap();
        for (line, target) in links(&text) {
            checked += 1;
            if let Some(why) = broken(&page, &target) {
                bad.push(format!("{}:{line}: ({target}): {why}", page.display()));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: the scan is broken"
    );
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
    // Control: a missing page and a missing anchor are both caught.
    let readme = root().join("README.md");
    assert!(broken(&readme, "docs/src/nowhere.md").is_some());
    assert!(broken(&readme, "docs/src/verify.md#no-such-heading").is_some());
    assert!(broken(&readme, "docs/src/verify.md").is_none());
}

#[test]
fn every_summary_chapter_exists_and_every_page_is_in_the_summary() {
    let src = root().join("docs/src");
    let summary = fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let listed: BTreeSet<String> = links(&summary).into_iter().map(|(_, t)| t).collect();
    for page in &listed {
        assert!(
            src.join(page).is_file(),
            "SUMMARY.md lists {page}, which does not exist"
        );
    }
    for page in pages().iter().skip(1) {
        let name = page.file_name().unwrap().to_string_lossy().to_string();
        if name != "SUMMARY.md" {
            assert!(
                listed.contains(&name),
                "docs/src/{name} is in no chapter of SUMMARY.md"
            );
        }
    }
}

/// The long flags `builder SUB --help` lists (global ones included).
fn flags_of(ws: &Workspace, sub: &str) -> BTreeSet<String> {
    let help = stdout(&ws.run(&[sub, "--help"]));
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .collect()
}

/// In the code blocks of the docs: `builder SUB ... --flag ...` on one line (up to a pipe,
/// `&&`, `;` or a comment), per subcommand the flags used and where.
fn flags_used(subs: &BTreeSet<String>) -> BTreeMap<String, Vec<(String, String)>> {
    let mut used: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for page in pages() {
        let text = fs::read_to_string(&page).unwrap();
        let mut fenced = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if !fenced {
                continue;
            }
            let mut words = line.split_whitespace().peekable();
            while let Some(w) = words.next() {
                if w != "builder" && !w.ends_with("/builder") {
                    continue;
                }
                let Some(sub) = words
                    .peek()
                    .filter(|s| subs.contains(**s))
                    .map(|s| s.to_string())
                else {
                    continue;
                };
                for w in words.by_ref() {
                    if ["|", "&&", ";", "#", "\\"].contains(&w) || w.starts_with('#') {
                        break;
                    }
                    if let Some(flag) = w.strip_prefix("--") {
                        let flag = flag.split('=').next().unwrap();
                        let at = format!("{}:{}", page.display(), n + 1);
                        used.entry(sub.clone())
                            .or_default()
                            .push((format!("--{flag}"), at));
                    }
                }
            }
        }
    }
    used
}

#[test]
fn every_flag_in_the_docs_code_blocks_exists() {
    let ws = Workspace::new();
    let help = stdout(&ws.run(&["--help"]));
    let subs: BTreeSet<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| s.chars().all(|c| c.is_ascii_lowercase()))
        .map(str::to_string)
        .collect();
    assert!(
        subs.contains("render") && subs.contains("detect"),
        "{subs:?}"
    );
    let used = flags_used(&subs);
    assert!(
        used.values().map(Vec::len).sum::<usize>() > 20,
        "too few flags found in code blocks: the scan is broken"
    );
    let mut bad = Vec::new();
    for (sub, uses) in &used {
        let known = flags_of(&ws, sub);
        for (flag, at) in uses {
            if !known.contains(flag) {
                bad.push(format!("{at}: builder {sub} has no {flag}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "flags the CLI does not have:\n{}",
        bad.join("\n")
    );
    // Control: the help scan knows render's flags and not a made-up one.
    let render = flags_of(&ws, "render");
    assert!(
        render.contains("--profile") && render.contains("--mirror"),
        "{render:?}"
    );
    assert!(!render.contains("--no-such-flag"));
}

/// The README's offline try-out block, run as written: `builder` is this build, /tmp/try a
/// temporary folder, port 8999 a free one; the server it starts is stopped at the end.
#[test]
fn the_readme_try_it_offline_block_runs_as_written() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("To try it without a cluster or the internet")
        .expect("the README's try-out paragraph");
    let block = &readme[start..];
    let open = block.find("```sh\n").unwrap() + "```sh\n".len();
    let body = &block[open..open + block[open..].find("```").unwrap()];
    assert!(body.contains("builder verify /tmp/try/dist"), "{body}");
    let ws = Workspace::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = ws.path().join("try");
    let script = body
        .replace("/tmp/try", tmp.to_str().unwrap())
        .replace("8999", &port.to_string())
        // detect exits 3: the fixtures have affected nodes.
        .replace(" --plan\n", " --plan || [ $? = 3 ]\n");
    let bin = env!("CARGO_BIN_EXE_builder");
    // Wait for the server before the render; stop it whatever happens.
    let script = script.replace(
        "&\n",
        &format!("&\nserver=$!; trap 'kill $server' EXIT; for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.1; done\n"),
    );
    let o = std::process::Command::new("bash")
        .args([
            "-euo",
            "pipefail",
            "-c",
            &format!("builder() {{ {bin} \"$@\"; }}\n{script}"),
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{script}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(out.contains("3 affected"), "{out}");
    assert!(out.contains("verified: every check holds"), "{out}");
}
