//! Owns the crate's layering rules, checked on the source text of `builder/`.
//!
//! The rules: no import cycles between modules; only `main.rs` imports `cli`; clap argument
//! structs (`derive(Parser | Args | Subcommand)`, `#[arg]`, `#[command]`) live only in `cli.rs`;
//! no source file is over 800 lines (`tests.rs` files exempt).
//!
//! Std only and independent of the crate itself. Each file is lexed (comments, string, raw
//! string and char literals are dropped, lifetimes kept apart from chars), `#[cfg(test)]` items
//! are skipped, and every module path in the remaining code (`use` trees, inline
//! `crate::a::b::f(..)`, `super::`, `self::`, paths starting with a child declared by `mod x;`)
//! is resolved to the longest prefix that names a module file. One file is one node: `lib.rs`
//! is `crate`, `main.rs` is `main` (its `builder::` paths count as `crate::`), `x.rs` and
//! `x/mod.rs` are `x`, `x/y.rs` is `x::y`. `parser_self_test` pins down what the scanner sees;
//! `ARCHTEST_DUMP=1 ... --nocapture real_graph_is_plausible` prints the whole graph.
//!
//! Limits: no macro expansion or name resolution. Re-exports are not followed (`crate::Error`
//! is an edge to `crate`, not to `error`), names brought in by a `use` are not tracked (the
//! `use` itself is the edge), `#[path]` attributes and `mod x;` inside inline modules are not
//! understood, and only the exact attribute `#[cfg(test)]` marks test code.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

const MAX_LINES: usize = 800;
/// Derives that make a clap argument struct (`ValueEnum` is allowed anywhere).
const CLAP_DERIVES: &[&str] = &["Parser", "Args", "Subcommand"];
/// Attributes that only clap's derives read.
const CLAP_ATTRS: &[&str] = &["arg", "command", "group", "clap"];
/// The module whose file may hold clap argument structs and which only `main` may import.
const CLI: &str = "cli";
/// How `main.rs` appears as a node.
const BINARY: &str = "main";
/// How `lib.rs` appears as a node.
const ROOT: &str = "crate";

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

#[test]
fn no_import_cycles_between_modules() {
    let report = cycle_report(&real().graph);
    assert!(
        report.is_empty(),
        "import cycles between modules (each import shown where it is first written):\n{report}"
    );
}

#[test]
fn only_the_binary_imports_cli() {
    let report = cli_import_report(&real().graph);
    assert!(
        report.is_empty(),
        "only main.rs may import `{CLI}` (the command line is the binary's business; \
         pass plain arguments down instead):\n{report}"
    );
}

#[test]
fn clap_argument_structs_only_in_cli_rs() {
    let report = clap_report(&real().files);
    assert!(
        report.is_empty(),
        "clap argument structs (derive Parser/Args/Subcommand, #[arg]/#[command] attributes) \
         belong in builder/{CLI}.rs only:\n{report}"
    );
}

#[test]
fn no_source_file_over_800_lines() {
    let report = size_report(&real().files);
    assert!(
        report.is_empty(),
        "source files over {MAX_LINES} lines (tests.rs files are exempt; inline test \
         modules count, move them to a tests.rs):\n{report}"
    );
}

/// Guards against the checks passing because the scanner found nothing.
#[test]
fn real_graph_is_plausible() {
    let a = real();
    if std::env::var_os("ARCHTEST_DUMP").is_some() {
        eprintln!("{}", a.graph.dump());
    }
    assert!(
        a.files.len() > 10,
        "only {} source files found under builder/",
        a.files.len()
    );
    let n = a.graph.edges.len();
    assert!(
        n > 20,
        "only {n} module edges found; the scanner is probably broken:\n{}",
        a.graph.dump()
    );
    assert!(
        a.graph
            .edges
            .contains_key(&("render".to_string(), "profile".to_string())),
        "expected an edge render -> profile; found:\n{}",
        a.graph.dump()
    );
    assert!(
        a.graph.edges.keys().any(|(from, _)| from == BINARY),
        "expected edges from main.rs (`builder::...` paths); found:\n{}",
        a.graph.dump()
    );
}

/// A lexer that lost track of a string or char literal would unbalance the delimiters.
#[test]
fn lexer_balances_every_real_file() {
    let mut bad = String::new();
    for src in load_sources() {
        let mut stack: Vec<(char, usize)> = Vec::new();
        for t in lex(&src.text) {
            match t.tok {
                Tok::Punct(c @ ('(' | '[' | '{')) => stack.push((c, t.line)),
                Tok::Punct(c @ (')' | ']' | '}')) => {
                    let want = match c {
                        ')' => '(',
                        ']' => '[',
                        _ => '{',
                    };
                    if stack.pop().map(|(o, _)| o) != Some(want) {
                        let _ = writeln!(bad, "  {}:{}: unexpected {c}", src.rel, t.line);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some((open, line)) = stack.last() {
            let _ = writeln!(bad, "  {}:{line}: {open} never closed", src.rel);
        }
    }
    assert!(bad.is_empty(), "the lexer misread these files:\n{bad}");
}

// ---------------------------------------------------------------------------------------------
// Loading and analysis
// ---------------------------------------------------------------------------------------------

/// One source file, path relative to the package root (`builder/render/mod.rs`).
struct Source {
    rel: String,
    text: String,
}

struct FileInfo {
    rel: String,
    /// Module path (`[]` for lib.rs and main.rs).
    module: Vec<String>,
    binary: bool,
    /// Declared only under `#[cfg(test)]` (or inside such a file, or `#![cfg(test)]`).
    test_only: bool,
    lines: usize,
    /// `(line, what)` for each clap derive or attribute.
    clap: Vec<(usize, String)>,
}

impl FileInfo {
    fn node(&self) -> String {
        if self.binary {
            BINARY.to_string()
        } else {
            node_name(&self.module)
        }
    }

    fn name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }
}

fn node_name(module: &[String]) -> String {
    if module.is_empty() {
        ROOT.to_string()
    } else {
        module.join("::")
    }
}

#[derive(Default)]
struct Graph {
    nodes: BTreeSet<String>,
    /// `(from, to)` -> every `file:line` where the edge occurs, in file order.
    edges: BTreeMap<(String, String), Vec<String>>,
}

impl Graph {
    fn successors(&self, node: &str) -> Vec<&String> {
        self.edges
            .keys()
            .filter(|(f, _)| f == node)
            .map(|(_, t)| t)
            .collect()
    }

    fn where_(&self, from: &str, to: &str) -> String {
        let locs = &self.edges[&(from.to_string(), to.to_string())];
        match locs.len() {
            1 => locs[0].clone(),
            n => format!("{} (+{} more)", locs[0], n - 1),
        }
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        for (from, to) in self.edges.keys() {
            let _ = writeln!(s, "  {from} -> {to}  {}", self.where_(from, to));
        }
        s
    }
}

struct Analysis {
    files: Vec<FileInfo>,
    graph: Graph,
}

fn real() -> &'static Analysis {
    static REAL: OnceLock<Analysis> = OnceLock::new();
    REAL.get_or_init(|| analyze(&load_sources()))
}

fn load_sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    walk(root, &root.join("builder"), &mut out);
    assert!(
        !out.is_empty(),
        "no .rs files under {}",
        root.join("builder").display()
    );
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Source>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push(Source { rel, text });
        }
    }
}

/// `builder/lib.rs` -> `([], false)`, `builder/main.rs` -> `([], true)`,
/// `builder/x/mod.rs` and `builder/x.rs` -> `[x]`, `builder/x/y.rs` -> `[x, y]`.
fn module_of(rel: &str) -> (Vec<String>, bool) {
    let inner = rel.strip_prefix("builder/").unwrap_or(rel);
    match inner {
        "lib.rs" => return (vec![], false),
        "main.rs" => return (vec![], true),
        _ => {}
    }
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    let last = parts.pop().unwrap();
    if last != "mod.rs" {
        parts.push(last.trim_end_matches(".rs").to_string());
    }
    (parts, false)
}

fn analyze(sources: &[Source]) -> Analysis {
    let mut files = Vec::new();
    let mut scans = Vec::new();
    for s in sources {
        let (module, binary) = module_of(&s.rel);
        let tokens = lex(&s.text);
        let sc = scan(&tokens, &module);
        files.push(FileInfo {
            rel: s.rel.clone(),
            module,
            binary,
            test_only: sc.test_only,
            lines: s.text.lines().count(),
            clap: clap_findings(&tokens),
        });
        scans.push(sc);
    }

    // A module is test code when its parent declares it only under #[cfg(test)], or when its
    // parent is test code. Parents come first in order of module depth.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| files[i].module.len());
    for &i in &order {
        let f = &files[i];
        if f.binary || f.module.is_empty() {
            continue;
        }
        let parent = &f.module[..f.module.len() - 1];
        let parent_idx = (0..files.len()).find(|&j| !files[j].binary && files[j].module == parent);
        if let Some(p) = parent_idx {
            let declared_for_tests = scans[p].test_children.contains(&f.module)
                && !scans[p].children.contains(&f.module);
            if declared_for_tests || files[p].test_only {
                files[i].test_only = true;
            }
        }
    }

    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .filter(|f| !f.binary && !f.test_only)
        .map(|f| f.module.clone())
        .collect();
    let mut graph = Graph::default();
    for (f, sc) in files.iter().zip(&scans) {
        if f.test_only {
            continue;
        }
        let from = f.node();
        graph.nodes.insert(from.clone());
        for r in &sc.refs {
            let Some(target) = resolve(f, &sc.children, r, &modules) else {
                continue;
            };
            let to = node_name(&target);
            if to != from {
                let loc = format!("{}:{}", f.rel, r.line);
                graph.edges.entry((from.clone(), to)).or_default().push(loc);
            }
        }
    }
    Analysis { files, graph }
}

/// The module file a path lands in, or `None` for paths outside the crate (std, other crates,
/// local names).
fn resolve(
    file: &FileInfo,
    children: &BTreeSet<Vec<String>>,
    r: &PathRef,
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let segs = &r.segs;
    let (base, rest): (Vec<String>, &[String]) = match segs[0].as_str() {
        "crate" => (vec![], &segs[1..]),
        "builder" if file.binary => (vec![], &segs[1..]),
        _ if file.binary => return None,
        "self" => (r.scope.clone(), &segs[1..]),
        "super" => {
            let mut base = r.scope.clone();
            let mut k = 0;
            while segs.get(k).is_some_and(|s| s == "super") {
                base.pop()?;
                k += 1;
            }
            (base, &segs[k..])
        }
        first => {
            let mut child = r.scope.clone();
            child.push(first.to_string());
            if !children.contains(&child) {
                return None;
            }
            (r.scope.clone(), &segs[..])
        }
    };
    let full: Vec<String> = base.into_iter().chain(rest.iter().cloned()).collect();
    (0..=full.len())
        .rev()
        .map(|k| full[..k].to_vec())
        .find(|p| modules.contains(p))
}

// ---------------------------------------------------------------------------------------------
// Lexer: just enough Rust to never see code inside comments and literals
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
    /// Any literal: string, raw string, byte string, char, byte, number.
    Lit,
    Lifetime,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        let start_line = line;
        let tok;
        if ch == '\n' {
            line += 1;
            i += 1;
            continue;
        } else if ch.is_whitespace() {
            i += 1;
            continue;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += (c[i] == '\n') as usize;
                    i += 1;
                }
            }
            continue;
        } else if ch == '"' {
            i = skip_string(&c, i + 1, &mut line);
            tok = Tok::Lit;
        } else if ch == '\'' {
            (i, tok) = lex_quote(&c, i);
        } else if is_ident_start(ch) {
            let s = i;
            while is_ident_char(at(i)) {
                i += 1;
            }
            let word: String = c[s..i].iter().collect();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            let hashes = (i..).take_while(|&k| at(k) == '#').count();
            if raw_prefix && at(i + hashes) == '"' {
                i = skip_raw_string(&c, i + hashes + 1, hashes, &mut line);
                tok = Tok::Lit;
            } else if word == "r" && hashes == 1 && is_ident_start(at(i + 1)) {
                // Raw identifier `r#type`.
                let s = i + 1;
                i = s;
                while is_ident_char(at(i)) {
                    i += 1;
                }
                tok = Tok::Ident(c[s..i].iter().collect());
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                i = skip_string(&c, i + 1, &mut line);
                tok = Tok::Lit;
            } else if word == "b" && at(i) == '\'' {
                (i, tok) = lex_quote(&c, i);
            } else {
                tok = Tok::Ident(word);
            }
        } else if ch.is_ascii_digit() {
            while is_ident_char(at(i)) || (at(i) == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
            tok = Tok::Lit;
        } else if ch == ':' && at(i + 1) == ':' {
            i += 2;
            tok = Tok::Sep;
        } else {
            i += 1;
            tok = Tok::Punct(ch);
        }
        out.push(Token {
            tok,
            line: start_line,
        });
    }
    out
}

/// From just after the opening `"`; returns the index after the closing one.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => {
                *line += (c.get(i + 1) == Some(&'\n')) as usize;
                i += 2;
            }
            '"' => return i + 1,
            ch => {
                *line += (ch == '\n') as usize;
                i += 1;
            }
        }
    }
    i
}

/// From just after the opening `"` of `r##"`; ends at `"` followed by `hashes` `#`s.
fn skip_raw_string(c: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < c.len() {
        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        *line += (c[i] == '\n') as usize;
        i += 1;
    }
    i
}

/// At a `'`: a char literal (`'a'`, `'\n'`, `'\u{7f}'`, `'\''`) or a lifetime/label (`'a`).
fn lex_quote(c: &[char], i: usize) -> (usize, Tok) {
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    if at(i + 1) == '\\' {
        let mut j = i + 3; // past `'`, `\` and the escaped char
        while j < c.len() && c[j] != '\'' && c[j] != '\n' {
            j += 1;
        }
        (j + 1, Tok::Lit)
    } else if at(i + 2) == '\'' {
        (i + 3, Tok::Lit)
    } else {
        let mut j = i + 1;
        while is_ident_char(at(j)) {
            j += 1;
        }
        (j, Tok::Lifetime)
    }
}

// ---------------------------------------------------------------------------------------------
// Scanner: module paths, `mod` declarations and test code in one file's tokens
// ---------------------------------------------------------------------------------------------

/// A path as written, with the module it was written in (file module plus inline `mod`s).
#[derive(Debug)]
struct PathRef {
    scope: Vec<String>,
    segs: Vec<String>,
    line: usize,
}

#[derive(Default)]
struct Scan {
    refs: Vec<PathRef>,
    /// `mod x;` and `mod x { .. }` outside test code, as full module paths.
    children: BTreeSet<Vec<String>>,
    /// `#[cfg(test)] mod x;`
    test_children: BTreeSet<Vec<String>>,
    /// The file starts with `#![cfg(test)]`.
    test_only: bool,
}

const ITEM_KEYWORDS: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "union",
    "mod",
    "impl",
    "use",
    "const",
    "static",
    "type",
    "trait",
    "unsafe",
    "async",
    "extern",
    "macro_rules",
];

fn ident(t: &[Token], i: usize) -> Option<&str> {
    match t.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is_punct(t: &[Token], i: usize, c: char) -> bool {
    t.get(i).is_some_and(|t| t.tok == Tok::Punct(c))
}

fn is_sep(t: &[Token], i: usize) -> bool {
    t.get(i).is_some_and(|t| t.tok == Tok::Sep)
}

/// Index of the delimiter closing the one at `open`.
fn matching(t: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, tok) in t.iter().enumerate().skip(open) {
        match tok.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    t.len()
}

/// At `#`: `Some((inner, open_bracket_index))` when an attribute starts here.
fn attribute_at(t: &[Token], i: usize) -> Option<(bool, usize)> {
    if !is_punct(t, i, '#') {
        return None;
    }
    let inner = is_punct(t, i + 1, '!');
    let open = i + 1 + inner as usize;
    is_punct(t, open, '[').then_some((inner, open))
}

fn is_cfg_test(attr: &[Token]) -> bool {
    let toks: Vec<&Tok> = attr.iter().map(|t| &t.tok).collect();
    matches!(
        toks.as_slice(),
        [Tok::Ident(cfg), Tok::Punct('('), Tok::Ident(test), Tok::Punct(')')]
            if cfg == "cfg" && test == "test"
    )
}

fn scan(t: &[Token], module: &[String]) -> Scan {
    let mut out = Scan::default();
    let mut scope = module.to_vec();
    // Brace depth at which each open inline `mod` started.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < t.len() {
        if let Some((inner, open)) = attribute_at(t, i) {
            let close = matching(t, open);
            if is_cfg_test(&t[open + 1..close]) {
                if !inner {
                    i = skip_item(t, close + 1, &scope, &mut out.test_children);
                    continue;
                }
                if depth == 0 {
                    out.test_only = true;
                    return out;
                }
            }
            // Other attributes are code: `default_value_t = crate::x::Y` is a dependency.
            i = open + 1;
            continue;
        }
        match &t[i].tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if inline_mods.last() == Some(&depth) {
                    inline_mods.pop();
                    scope.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let Some(name) = ident(t, i + 1) {
                    let mut child = scope.clone();
                    child.push(name.to_string());
                    out.children.insert(child);
                    if is_punct(t, i + 2, '{') {
                        depth += 1;
                        inline_mods.push(depth);
                        scope.push(name.to_string());
                        i += 3;
                        continue;
                    }
                }
            }
            // A `use` item (not the `use<'a>` of precise capturing).
            Tok::Ident(kw) if kw == "use" && !is_punct(t, i + 1, '<') => {
                let mut paths = Vec::new();
                let mut j = use_tree(t, i + 1, &[], &mut paths);
                while j < t.len() && !is_punct(t, j, ';') {
                    j += 1;
                }
                for (segs, line) in paths {
                    out.refs.push(PathRef {
                        scope: scope.clone(),
                        segs,
                        line,
                    });
                }
                i = j + 1;
                continue;
            }
            // The start of a path (not a segment after `::`, as in `Vec::<u8>::new`).
            Tok::Ident(first) if !(i > 0 && is_sep(t, i - 1)) => {
                let mut segs = vec![first.clone()];
                let mut j = i + 1;
                while is_sep(t, j) {
                    let Some(next) = ident(t, j + 1) else { break };
                    segs.push(next.to_string());
                    j += 2;
                }
                if segs.len() > 1 {
                    out.refs.push(PathRef {
                        scope: scope.clone(),
                        segs,
                        line: t[i].line,
                    });
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Skips the item after a `#[cfg(test)]` (its other attributes, then up to its `;` or the end
/// of its first `{ .. }` block; a field or match arm also ends at `,`). Records `mod x;`.
fn skip_item(
    t: &[Token],
    mut j: usize,
    scope: &[String],
    test_children: &mut BTreeSet<Vec<String>>,
) -> usize {
    while let Some((_, open)) = attribute_at(t, j) {
        j = matching(t, open) + 1;
    }
    let mut k = j;
    if ident(t, k) == Some("pub") {
        k += 1;
        if is_punct(t, k, '(') {
            k = matching(t, k) + 1;
        }
    }
    if ident(t, k) == Some("mod") && is_punct(t, k + 2, ';') {
        if let Some(name) = ident(t, k + 1) {
            let mut child = scope.to_vec();
            child.push(name.to_string());
            test_children.insert(child);
            return k + 3;
        }
    }
    let is_item = ident(t, k).is_some_and(|w| ITEM_KEYWORDS.contains(&w));
    let mut depth = 0usize;
    while j < t.len() {
        match t[j].tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(c @ (')' | ']' | '}')) => {
                if depth == 0 {
                    return j; // the enclosing block ends: leave its `}` to the caller
                }
                depth -= 1;
                if depth == 0 && c == '}' {
                    return j + 1;
                }
            }
            Tok::Punct(';') if depth == 0 => return j + 1,
            Tok::Punct(',') if depth == 0 && !is_item => return j + 1,
            _ => {}
        }
        j += 1;
    }
    j
}

/// Parses a use tree from `i`, pushing each full path (`self` in braces means the prefix; a
/// glob stands for its prefix; `as` renames are dropped) with the line of its last segment.
fn use_tree(
    t: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, usize)>,
) -> usize {
    let mut segs = prefix.to_vec();
    if is_sep(t, i) {
        segs.push("::".to_string()); // `use ::name`: an extern crate, never a module of ours
        i += 1;
    }
    loop {
        let line = t.get(i).map_or(0, |t| t.line);
        match t.get(i).map(|t| &t.tok) {
            Some(Tok::Ident(name)) => {
                segs.push(name.clone());
                i += 1;
                if is_sep(t, i) {
                    i += 1;
                    continue;
                }
                if ident(t, i) == Some("as") {
                    i += 2;
                }
                if name == "self" && segs.len() > 1 {
                    segs.pop();
                }
                out.push((segs, line));
                return i;
            }
            Some(Tok::Punct('*')) => {
                if !segs.is_empty() {
                    out.push((segs, line));
                }
                return i + 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                while i < t.len() && !is_punct(t, i, '}') {
                    let before = i;
                    i = use_tree(t, i, &segs, out);
                    if is_punct(t, i, ',') {
                        i += 1;
                    } else if i == before {
                        i += 1; // malformed: make progress
                    }
                }
                return i + 1;
            }
            _ => return i,
        }
    }
}

/// Clap derives and attributes anywhere in the file (test code included).
fn clap_findings(t: &[Token]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let Some((_, open)) = attribute_at(t, i) else {
            i += 1;
            continue;
        };
        let close = matching(t, open);
        let attr = &t[open + 1..close.min(t.len())];
        let line = t[i].line;
        for (k, tok) in attr.iter().enumerate() {
            let Tok::Ident(name) = &tok.tok else { continue };
            let opens_group = is_punct(attr, k + 1, '(');
            // `arg(` as the attribute itself, or as an item of `cfg_attr(.., arg(..))`.
            let attr_position = k == 0 || is_punct(attr, k - 1, ',');
            if name == "derive" && opens_group {
                let end = matching(attr, k + 1);
                for d in k + 2..end {
                    if let Some(n) = ident(attr, d) {
                        if CLAP_DERIVES.contains(&n) && !is_sep(attr, d + 1) {
                            out.push((line, format!("derive({n})")));
                        }
                    }
                }
            } else if CLAP_ATTRS.contains(&name.as_str()) && opens_group && attr_position {
                out.push((line, format!("#[{name}(..)]")));
            }
        }
        i = close + 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reports (empty when the rule holds)
// ---------------------------------------------------------------------------------------------

/// Each strongly connected component with more than one module, shown as a few short cycles
/// that together use every edge inside it.
fn cycle_report(g: &Graph) -> String {
    let mut s = String::new();
    for comp in strongly_connected(g).into_iter().filter(|c| c.len() > 1) {
        let _ = writeln!(
            s,
            "\n{} modules depend on each other: {}",
            comp.len(),
            comp.join(", ")
        );
        let inside = |n: &String| comp.contains(n);
        let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
        for (from, to) in g.edges.keys().filter(|(f, t)| inside(f) && inside(t)) {
            if covered.contains(&(from.clone(), to.clone())) {
                continue;
            }
            let mut cycle = vec![from.clone()];
            cycle.extend(shortest_path(g, to, from, &comp));
            let _ = writeln!(s, "  {}", cycle.join(" -> "));
            for w in cycle.windows(2) {
                let _ = writeln!(
                    s,
                    "      {} -> {}  at {}",
                    w[0],
                    w[1],
                    g.where_(&w[0], &w[1])
                );
                covered.insert((w[0].clone(), w[1].clone()));
            }
        }
    }
    s
}

fn cli_import_report(g: &Graph) -> String {
    let in_cli = |n: &str| n == CLI || n.starts_with(&format!("{CLI}::"));
    let mut s = String::new();
    for ((from, to), locs) in &g.edges {
        if in_cli(to) && !in_cli(from) && from != BINARY {
            let _ = writeln!(s, "  {from} -> {to}  at {}", locs.join(", "));
        }
    }
    s
}

fn clap_report(files: &[FileInfo]) -> String {
    let mut s = String::new();
    for f in files.iter().filter(|f| f.binary || f.module != [CLI]) {
        if f.clap.is_empty() {
            continue;
        }
        let mut by_what: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (line, what) in &f.clap {
            by_what.entry(what).or_default().push(line.to_string());
        }
        let _ = writeln!(s, "  {}:", f.rel);
        for (what, lines) in by_what {
            let _ = writeln!(s, "      {what} at line {}", lines.join(", "));
        }
    }
    s
}

fn size_report(files: &[FileInfo]) -> String {
    let mut s = String::new();
    for f in files
        .iter()
        .filter(|f| f.name() != "tests.rs" && f.lines > MAX_LINES)
    {
        let _ = writeln!(s, "  {}: {} lines", f.rel, f.lines);
    }
    s
}

/// Tarjan's algorithm; components and their members in sorted order.
fn strongly_connected(g: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(st: &mut State<'g>, v: &'g str) {
        let n = st.index.len();
        st.index.insert(v, n);
        st.low.insert(v, n);
        st.stack.push(v);
        st.on_stack.insert(v);
        for w in st.g.successors(v) {
            if !st.index.contains_key(w.as_str()) {
                visit(st, w);
                let lw = st.low[w.as_str()];
                let lv = st.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if st.on_stack.contains(w.as_str()) {
                let iw = st.index[w.as_str()];
                let lv = st.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = st.stack.pop().unwrap();
                st.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            comp.sort();
            st.out.push(comp);
        }
    }
    let mut st = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    let all: BTreeSet<&str> = g
        .nodes
        .iter()
        .map(String::as_str)
        .chain(g.edges.keys().map(|(_, t)| t.as_str()))
        .collect();
    for v in all {
        if !st.index.contains_key(v) {
            visit(&mut st, v);
        }
    }
    st.out.sort();
    st.out
}

/// Breadth-first path `from ..= to` staying inside `comp` (which guarantees one exists).
fn shortest_path(g: &Graph, from: &str, to: &str, comp: &[String]) -> Vec<String> {
    let mut prev: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = VecDeque::from([from.to_string()]);
    let mut seen = BTreeSet::from([from.to_string()]);
    while let Some(v) = queue.pop_front() {
        if v == to {
            break;
        }
        for w in g.successors(&v) {
            if comp.contains(w) && seen.insert(w.clone()) {
                prev.insert(w.clone(), v.clone());
                queue.push_back(w.clone());
            }
        }
    }
    let mut path = vec![to.to_string()];
    while let Some(p) = prev.get(path.last().unwrap()) {
        path.push(p.clone());
    }
    path.reverse();
    path
}

// ---------------------------------------------------------------------------------------------
// The scanner on sources whose answer is known
// ---------------------------------------------------------------------------------------------

const SAMPLE: &[(&str, &str)] = &[
    (
        "builder/lib.rs",
        r##"//! crate::cli::InADocComment
pub mod alpha;
pub mod beta;
pub mod cli;
pub mod gamma;
pub use alpha::Thing;
pub const V: &str = "crate::beta::InAString";
"##,
    ),
    (
        "builder/main.rs",
        r##"fn main() {
    builder::cli::run();
    let _ = builder::alpha::f("x");
}
"##,
    ),
    (
        "builder/alpha.rs",
        r###"use std::fmt;
use crate::{beta::{self, Inner as Renamed}, gamma::deep::{X, Y}};
/* crate::cli::InAComment /* nested */ crate::cli::StillInTheComment */
pub struct Thing<'a>(&'a str);
pub fn f<'a>(s: &'a str) -> char {
    let _ = "crate::cli::InAString \" crate::cli::AfterAnEscape";
    let _ = r#"a "crate::cli::InARawString" b"#;
    let _ = br##"c "# crate::cli::InRawBytes "##;
    let c = '{'; let q = '\''; let n = '\n'; let u = '\u{7f}'; let b = b'"';
    let r#type = crate::ROOT_ITEM;
    'outer: loop { break 'outer; }
    let _ = it(s);
    if c == '"' { beta::g() }
    c
}
fn it<'a>(s: &'a str) -> impl Iterator<Item = char> + use<'a> {
    crate::gamma::h();
    s.chars()
}
#[cfg(test)]
mod tests {
    use crate::cli::InTests;
    fn t() { crate::cli::run(); }
}
#[cfg(test)]
pub(crate) fn helper() -> Vec<u8> { crate::cli::in_test_fn(); vec![] }
"###,
    ),
    (
        "builder/beta.rs",
        r##"pub fn g() {}
pub struct Inner;
#[derive(Debug, clap::Args)]
pub struct BadArgs {
    #[arg(long)]
    x: bool,
}
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Mode { A }
fn uses_cli() {
    let _ = crate::cli::Cli::parse();
}
"##,
    ),
    (
        "builder/cli.rs",
        r##"use clap::Parser;
#[derive(Parser)]
pub struct Cli {
    #[command(subcommand)]
    c: u8,
}
pub fn run() { crate::beta::g(); }
"##,
    ),
    (
        "builder/gamma/mod.rs",
        r##"mod deep;
mod util;
pub use deep::X;
pub fn h() { util::go(); let util = 1; let _ = Vec::<u8>::new(); }
pub(crate) fn shared() {}
#[cfg(test)]
mod tests;
"##,
    ),
    (
        "builder/gamma/deep.rs",
        r##"use super::util::Helper;
pub struct X; pub struct Y;
pub fn d() { super::shared(); }
mod inner {
    pub fn z() { super::d(); self::w(); }
    pub fn w() {}
}
"##,
    ),
    (
        "builder/gamma/util.rs",
        r##"pub struct Helper;
pub fn go() { let x = 'a'; let y: &'static str = "}"; crate::beta::g(); }
"##,
    ),
    (
        "builder/gamma/tests.rs",
        r##"use super::*;
use crate::cli::FromATestFile;
"##,
    ),
];

fn sample() -> Analysis {
    let sources: Vec<Source> = SAMPLE
        .iter()
        .map(|(rel, text)| Source {
            rel: rel.to_string(),
            text: text.to_string(),
        })
        .collect();
    analyze(&sources)
}

#[test]
fn parser_self_test() {
    let a = sample();
    let found: BTreeSet<String> = a
        .graph
        .edges
        .keys()
        .map(|(f, t)| format!("{f} -> {t}"))
        .collect();
    let expected: BTreeSet<String> = [
        "crate -> alpha",       // bare child path in lib.rs: `pub use alpha::Thing`
        "alpha -> beta",        // nested braces, `self`, `as`; then `beta::g()`
        "alpha -> gamma::deep", // longest module prefix of `crate::gamma::deep::X`
        "alpha -> crate",       // `crate::ROOT_ITEM` lands in lib.rs
        "alpha -> gamma",       // after `+ use<'a>`, which is not a `use` item
        "beta -> cli",          // inline path in an expression
        "cli -> beta",
        "gamma -> gamma::deep",       // `pub use deep::X` after `mod deep;`
        "gamma -> gamma::util",       // `util::go()`
        "gamma::deep -> gamma::util", // `super::util::Helper`
        "gamma::deep -> gamma",       // `super::shared()`
        "gamma::util -> beta",
        "main -> alpha", // `builder::` in main.rs
        "main -> cli",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        found,
        expected,
        "\nmissing: {:?}\nunexpected: {:?}\n{}",
        expected.difference(&found).collect::<Vec<_>>(),
        found.difference(&expected).collect::<Vec<_>>(),
        a.graph.dump()
    );

    // Lines are reported where the path is written.
    assert_eq!(
        a.graph.edges[&("beta".into(), "cli".into())],
        ["builder/beta.rs:11"]
    );
    assert_eq!(
        a.graph.edges[&("gamma::deep".into(), "gamma".into())],
        ["builder/gamma/deep.rs:3"]
    );
    // `#[cfg(test)] mod tests;` makes gamma/tests.rs test code: no node, no edges.
    assert!(a
        .files
        .iter()
        .any(|f| f.rel == "builder/gamma/tests.rs" && f.test_only));
    assert!(!a.graph.nodes.contains("gamma::tests"));

    let cycles = cycle_report(&a.graph);
    for cycle in [
        "alpha -> crate -> alpha",
        "beta -> cli -> beta",
        "gamma -> gamma::deep -> gamma",
    ] {
        assert!(cycles.contains(cycle), "{cycle:?} not in:\n{cycles}");
    }
    assert_eq!(
        cycles.matches("modules depend on each other").count(),
        3,
        "{cycles}"
    );
    assert!(
        cycles.contains("beta -> cli  at builder/beta.rs:11"),
        "{cycles}"
    );

    assert_eq!(
        cli_import_report(&a.graph),
        "  beta -> cli  at builder/beta.rs:11\n"
    );
    assert_eq!(
        clap_report(&a.files),
        "  builder/beta.rs:\n      #[arg(..)] at line 5\n      derive(Args) at line 3\n"
    );
}

#[test]
fn lexer_keeps_literals_and_lifetimes_apart() {
    let toks = lex(
        r####"a '{' '\'' '\u{7b}' b'}' 'x: <'static> r#"}"# br##"{"##  "\"{" r#fn /* { */ z"####,
    );
    let kinds: Vec<Tok> = toks.into_iter().map(|t| t.tok).collect();
    use Tok::*;
    assert_eq!(
        kinds,
        [
            Ident("a".into()),
            Lit,
            Lit,
            Lit,
            Lit,
            Lifetime,
            Punct(':'),
            Punct('<'),
            Lifetime,
            Punct('>'),
            Lit,
            Lit,
            Lit,
            Ident("fn".into()),
            Ident("z".into()),
        ]
    );
}
