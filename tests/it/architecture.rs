//! Owns the crate's architecture rules, checked on the source of `builder/` parsed with `syn`.
//!
//! Rules: (1) no import cycles between modules; (2) only `main.rs` imports the command layer
//! `CMD`; (3) clap argument structs (derive Parser/Args/Subcommand, `#[arg]`, `#[command]`,
//! `#[group]`, `#[clap]`) live only in the command layer (its file or any file under its
//! folder); (4) no source file over 800 lines; (5) at most 12 top-level modules in `lib.rs`;
//! (6) no function over 100 lines, signature to closing brace. `tests.rs` files are exempt from
//! 4 and 6; test code (`#[cfg(test)]` items, files only test code or no `mod` declares) from 1,
//! 2 and 6.
//!
//! Model: one file is one node: `lib.rs` is `crate`, `main.rs` is `main` (its `builder::` paths
//! count as `crate::`), `x.rs` and `x/mod.rs` are `x`, `x/y.rs` is `x::y`. Every module path
//! (use trees, inline `crate::a::b::f(..)`, `super::`, `self::`, paths starting with a child
//! declared by `mod x;`, and `a::b` token runs inside macro calls and attribute arguments)
//! resolves to the longest prefix that names a module file.
//!
//! Limits: no macro expansion or name resolution: re-exports are not followed (`crate::Error`
//! is an edge to `crate`, not `error`), names brought in by a `use` are not tracked (the `use`
//! is the edge), `#[path]` and `mod x;` inside inline modules are not understood, and only the
//! exact `#[cfg(test)]` on items, impl/trait members, fields, variants, match arms and `let`s
//! marks test code. `ARCHTEST_DUMP=1 cargo test --test architecture -- --nocapture` prints the
//! graph.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Attribute, Block, Ident, ImplItem, Item, Meta, Signature, Token, TraitItem, UseTree};

/// The command layer (`builder/<CMD>.rs` or `builder/<CMD>/`): the only home of clap argument
/// structs, and imported only by `main.rs`.
const CMD: &str = "cmd";
const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 100;
const MAX_TOP_MODULES: usize = 12;
/// Derives that make a clap argument struct (`ValueEnum` is allowed anywhere).
const CLAP_DERIVES: &[&str] = &["Parser", "Args", "Subcommand"];
/// Attributes that only clap's derives read.
const CLAP_ATTRS: &[&str] = &["arg", "command", "group", "clap"];
/// How `main.rs` appears as a node.
const BINARY: &str = "main";
/// How `lib.rs` appears as a node.
const ROOT: &str = "crate";

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

fn check(report: String, what: &str) {
    assert!(report.is_empty(), "{what}:\n{report}");
}

#[test]
fn no_import_cycles_between_modules() {
    let what = "import cycles between modules (each import shown where it is first written)";
    check(cycle_report(&real().graph), what);
}

#[test]
fn only_the_binary_imports_the_command_layer() {
    let what = format!(
        "only main.rs may import `{CMD}` (the command line is the binary's business; \
         pass plain arguments down instead)"
    );
    check(cmd_import_report(&real().graph), &what);
}

#[test]
fn clap_argument_structs_only_in_the_command_layer() {
    let what = format!(
        "clap argument structs (derive Parser/Args/Subcommand, #[arg]/#[command]/#[group]/\
         #[clap] attributes) belong in builder/{CMD}.rs or builder/{CMD}/ only"
    );
    check(clap_report(&real().files), &what);
}

#[test]
fn no_source_file_over_800_lines() {
    let what = format!(
        "source files over {MAX_FILE_LINES} lines (tests.rs files are exempt; inline test \
         modules count, move them to a tests.rs)"
    );
    check(size_report(&real().files), &what);
}

#[test]
fn at_most_12_top_level_modules() {
    let what =
        format!("more than {MAX_TOP_MODULES} top-level modules; group related ones under a parent");
    check(module_count_report(&real().files), &what);
}

#[test]
fn no_function_over_100_lines() {
    let what = format!("functions over {MAX_FN_LINES} lines (signature to closing brace)");
    check(fn_report(&real().files), &what);
}

/// Guards against the checks passing because the scanner found nothing.
#[test]
fn real_graph_is_plausible() {
    let a = real();
    let dump = a.graph.dump();
    if std::env::var_os("ARCHTEST_DUMP").is_some() {
        eprintln!("{dump}");
    }
    let n = a.files.len();
    assert!(n > 10, "only {n} source files found under builder/");
    let n = a.graph.edges.len();
    assert!(
        n > 20,
        "only {n} edges; the scanner is probably broken:\n{dump}"
    );
    let render_profile = ("render::prepare".to_string(), "profile".to_string());
    assert!(
        a.graph.edges.contains_key(&render_profile),
        "expected an edge render::prepare -> profile; found:\n{dump}"
    );
    assert!(
        a.graph.edges.keys().any(|(from, _)| from == BINARY),
        "expected edges from main.rs (`builder::...` paths); found:\n{dump}"
    );
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
    /// The graph node: `main`, `crate` or the module path (`x::y`).
    node: String,
    /// Module path (`[]` for lib.rs and main.rs).
    module: Vec<String>,
    /// Test code or not compiled: `#![cfg(test)]`, declared only under `#[cfg(test)]` or by no
    /// one, or under such a module.
    test_only: bool,
    lines: usize,
    /// `(line, what)` for each clap derive or attribute, test code included.
    clap: Vec<(usize, String)>,
    scan: Scan,
}

fn node_name(module: &[String]) -> String {
    if module.is_empty() {
        ROOT.to_string()
    } else {
        module.join("::")
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
        "no .rs files under {}/builder",
        root.display()
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
            let rel = path.strip_prefix(root).unwrap().to_string_lossy();
            let rel = rel.replace('\\', "/");
            out.push(Source { rel, text });
        }
    }
}

/// Module path and node: `builder/lib.rs` -> `[]`, `crate`; `builder/main.rs` -> `[]`, `main`;
/// `builder/x.rs` and `builder/x/mod.rs` -> `[x]`, `x`; `builder/x/y.rs` -> `[x, y]`, `x::y`.
fn module_of(rel: &str) -> (Vec<String>, String) {
    let inner = rel.strip_prefix("builder/").unwrap_or(rel);
    if inner == "main.rs" {
        return (vec![], BINARY.to_string());
    }
    let mut parts: Vec<String> = inner
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts == ["lib"] || parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    let node = node_name(&parts);
    (parts, node)
}

/// Parses every file (a file syn rejects fails the test, named) and builds the graph.
fn analyze(sources: &[Source]) -> Analysis {
    let mut errors = String::new();
    let mut files = Vec::new();
    for s in sources {
        match parse_source(s) {
            Ok(f) => files.push(f),
            Err(e) => errors.push_str(&e),
        }
    }
    assert!(errors.is_empty(), "syn could not parse:\n{errors}");
    mark_test_only(&mut files);
    let graph = build_graph(&files);
    Analysis { files, graph }
}

/// Every span is turned into a line number here: spans are only valid on the parsing thread.
fn parse_source(s: &Source) -> Result<FileInfo, String> {
    let ast = syn::parse_file(&s.text).map_err(|e| {
        let at = e.span().start();
        format!("  {}:{}:{}: {e}\n", s.rel, at.line, at.column + 1)
    })?;
    let (module, node) = module_of(&s.rel);
    let test_only = is_cfg_test(&ast.attrs);
    let mut scan = Scan {
        scope: module.clone(),
        ..Scan::default()
    };
    if !test_only {
        scan.visit_file(&ast);
        scan.refs.sort_by_key(|r| r.line);
    }
    let mut clap = ClapFinder::default();
    clap.visit_file(&ast);
    Ok(FileInfo {
        rel: s.rel.clone(),
        node,
        module,
        test_only,
        lines: s.text.lines().count(),
        clap: clap.0,
        scan,
    })
}

/// A module file is test code unless its parent declares it outside `#[cfg(test)]` (a file no
/// one declares is not compiled at all) and is not test code itself. Parents come first.
fn mark_test_only(files: &mut [FileInfo]) {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| files[i].module.len());
    for i in order {
        let Some((_, parent)) = files[i].module.split_last() else {
            continue;
        };
        let p = files
            .iter()
            .find(|p| p.node != BINARY && p.module == parent);
        let declared =
            p.is_some_and(|p| !p.test_only && p.scan.children.contains(&files[i].module));
        files[i].test_only |= !declared;
    }
}

fn build_graph(files: &[FileInfo]) -> Graph {
    let modules: BTreeSet<&[String]> = files
        .iter()
        .filter(|f| f.node != BINARY && !f.test_only)
        .map(|f| f.module.as_slice())
        .collect();
    let mut graph = Graph::default();
    for f in files.iter().filter(|f| !f.test_only) {
        let from = f.node.clone();
        graph.nodes.insert(from.clone());
        for r in &f.scan.refs {
            let Some(to) = resolve(f, r, &modules).map(node_name) else {
                continue;
            };
            if to != from {
                let loc = format!("{}:{}", f.rel, r.line);
                let locs = graph.edges.entry((from.clone(), to)).or_default();
                if locs.last() != Some(&loc) {
                    locs.push(loc);
                }
            }
        }
    }
    graph
}

/// The module file a path lands in, or `None` for paths outside the crate (std, other crates,
/// local names).
fn resolve<'m>(
    f: &FileInfo,
    r: &PathRef,
    modules: &BTreeSet<&'m [String]>,
) -> Option<&'m [String]> {
    let segs = &r.segs;
    let (base, rest): (Vec<String>, &[String]) = match segs[0].as_str() {
        "crate" => (vec![], &segs[1..]),
        "builder" if f.node == BINARY => (vec![], &segs[1..]),
        _ if f.node == BINARY => return None,
        "self" => (r.scope.clone(), &segs[1..]),
        "super" => {
            let ups = segs.iter().take_while(|s| *s == "super").count();
            let keep = r.scope.len().checked_sub(ups)?;
            (r.scope[..keep].to_vec(), &segs[ups..])
        }
        first => {
            let child = [r.scope.as_slice(), &[first.to_string()]].concat();
            if !f.scan.children.contains(&child) {
                return None;
            }
            (r.scope.clone(), &segs[..])
        }
    };
    let full = [base.as_slice(), rest].concat();
    (0..=full.len())
        .rev()
        .find_map(|k| modules.get(&full[..k]).copied())
}

// ---------------------------------------------------------------------------------------------
// The syn visitors
// ---------------------------------------------------------------------------------------------

/// A path as written, with the module it was written in (file module plus inline `mod`s).
#[derive(Debug)]
struct PathRef {
    scope: Vec<String>,
    segs: Vec<String>,
    line: usize,
}

/// Module paths, `mod` declarations and function lengths of one file's non-test code.
#[derive(Default)]
struct Scan {
    scope: Vec<String>,
    refs: Vec<PathRef>,
    /// `mod x;` and `mod x { .. }` outside test code, as full module paths.
    children: BTreeSet<Vec<String>>,
    /// `(line of the signature, name, lines)` of each function with a body.
    fns: Vec<(usize, String, usize)>,
}

impl Scan {
    fn child(&self, name: &Ident) -> Vec<String> {
        [self.scope.as_slice(), &[name.to_string()]].concat()
    }

    fn add(&mut self, paths: impl IntoIterator<Item = (Vec<String>, usize)>) {
        for (segs, line) in paths {
            let scope = self.scope.clone();
            self.refs.push(PathRef { scope, segs, line });
        }
    }

    fn add_fn(&mut self, sig: &Signature, body: &Block) {
        let first = line(sig.span());
        let last = body.brace_token.span.close().start().line;
        self.fns
            .push((first, sig.ident.to_string(), last + 1 - first));
    }
}

/// The attributes of an enum of syn nodes, listing the variants that have them.
macro_rules! attrs_of {
    ($node:expr, $enum:ident: $($variant:ident),+) => {
        match $node {
            $($enum::$variant(x) => &x.attrs[..],)+
            _ => &[],
        }
    };
}

/// Visitor hooks that do not descend into a node marked `#[cfg(test)]`.
macro_rules! skip_cfg_test {
    ($($hook:ident($node:ident: $ty:ty) => $attrs:expr;)+) => {$(
        fn $hook(&mut self, $node: &'ast $ty) {
            if !is_cfg_test($attrs) {
                visit::$hook(self, $node);
            }
        }
    )+};
}

impl<'ast> Visit<'ast> for Scan {
    skip_cfg_test! {
        visit_item(i: Item) => item_attrs(i);
        visit_impl_item(i: ImplItem) => attrs_of!(i, ImplItem: Const, Fn, Type, Macro);
        visit_trait_item(i: TraitItem) => attrs_of!(i, TraitItem: Const, Fn, Type, Macro);
        visit_field(f: syn::Field) => &f.attrs;
        visit_variant(v: syn::Variant) => &v.attrs;
        visit_arm(a: syn::Arm) => &a.attrs;
        visit_local(l: syn::Local) => &l.attrs;
    }

    fn visit_item_mod(&mut self, i: &'ast syn::ItemMod) {
        let child = self.child(&i.ident);
        self.children.insert(child.clone());
        if i.content.is_some() {
            let outer = std::mem::replace(&mut self.scope, child);
            visit::visit_item_mod(self, i);
            self.scope = outer;
        }
    }

    fn visit_item_use(&mut self, i: &'ast syn::ItemUse) {
        // `use ::name` is an extern crate, never one of our modules.
        if i.leading_colon.is_none() {
            let mut out = Vec::new();
            use_paths(&i.tree, &mut Vec::new(), &mut out);
            self.add(out);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() && p.segments.len() > 1 {
            let segs = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.add([(segs, line(p.segments[0].ident.span()))]);
        }
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        visit::visit_macro(self, m);
        self.add(token_paths(m.tokens.clone()));
    }

    /// Attribute arguments are code: `default_value_t = crate::x::Y` is a dependency.
    fn visit_attribute(&mut self, a: &'ast Attribute) {
        visit::visit_attribute(self, a);
        if let Meta::List(list) = &a.meta {
            self.add(token_paths(list.tokens.clone()));
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.add_fn(&f.sig, &f.block);
        visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.add_fn(&f.sig, &f.block);
        visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(body) = &f.default {
            self.add_fn(&f.sig, body);
        }
        visit::visit_trait_item_fn(self, f);
    }
}

fn item_attrs(i: &Item) -> &[Attribute] {
    attrs_of!(i, Item: Const, Enum, ExternCrate, Fn, ForeignMod, Impl, Macro, Mod, Static, Struct,
        Trait, TraitAlias, Type, Union, Use)
}

fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && matches!(&a.meta, Meta::List(l) if l.tokens.to_string() == "test")
    })
}

fn line(span: Span) -> usize {
    span.start().line
}

/// Each full path of a use tree with the line of its last segment: `self` in braces means the
/// prefix, a glob stands for its prefix, `as` renames are dropped.
fn use_paths(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, usize)>) {
    let mut leaf = |name: &Ident| {
        let mut segs = prefix.clone();
        if name != "self" || segs.is_empty() {
            segs.push(name.to_string());
        }
        out.push((segs, line(name.span())));
    };
    match tree {
        UseTree::Name(n) => leaf(&n.ident),
        UseTree::Rename(r) => leaf(&r.ident),
        UseTree::Glob(g) if !prefix.is_empty() => out.push((prefix.clone(), line(g.span()))),
        UseTree::Glob(_) => {}
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Group(g) => g.items.iter().for_each(|t| use_paths(t, prefix, out)),
    }
}

/// `a::b::c` runs in tokens syn leaves unparsed (macro and attribute arguments), in groups too.
fn token_paths(tokens: TokenStream) -> Vec<(Vec<String>, usize)> {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let sep = |k: usize| match (tts.get(k), tts.get(k + 1)) {
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) => {
            a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
        }
        _ => false,
    };
    let (mut out, mut i) = (Vec::new(), 0);
    while i < tts.len() {
        match &tts[i] {
            TokenTree::Group(g) => out.extend(token_paths(g.stream())),
            // The start of a path, not a segment after `::` (as in `Vec::<u8>::new`).
            TokenTree::Ident(first) if !(i >= 2 && sep(i - 2)) => {
                let mut segs = vec![first.to_string()];
                while let (true, Some(TokenTree::Ident(next))) = (sep(i + 1), tts.get(i + 3)) {
                    segs.push(next.to_string());
                    i += 3;
                }
                if segs.len() > 1 {
                    out.push((segs, line(first.span())));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Clap derives and attributes anywhere in a file, test code included.
#[derive(Default)]
struct ClapFinder(Vec<(usize, String)>);

impl<'ast> Visit<'ast> for ClapFinder {
    fn visit_attribute(&mut self, a: &'ast Attribute) {
        clap_in_meta(&a.meta, line(a.pound_token.span), &mut self.0);
    }
}

/// `derive(.., clap::Args)`, `arg(..)` and the like, also inside `cfg_attr(.., ..)`.
fn clap_in_meta(meta: &Meta, line: usize, out: &mut Vec<(usize, String)>) {
    let path = meta.path();
    if path.is_ident("derive") {
        let parse = Punctuated::<syn::Path, Token![,]>::parse_terminated;
        let derives = meta.require_list().and_then(|l| l.parse_args_with(parse));
        for d in derives.iter().flatten() {
            let name = d.segments.last().map(|s| s.ident.to_string());
            if let Some(name) = name.filter(|n| CLAP_DERIVES.contains(&n.as_str())) {
                out.push((line, format!("derive({name})")));
            }
        }
    } else if path.is_ident("cfg_attr") {
        let parse = Punctuated::<Meta, Token![,]>::parse_terminated;
        let metas = meta.require_list().and_then(|l| l.parse_args_with(parse));
        for m in metas.iter().flatten().skip(1) {
            clap_in_meta(m, line, out);
        }
    } else if let Some(name) = CLAP_ATTRS.iter().find(|n| path.is_ident(n)) {
        out.push((line, format!("#[{name}(..)]")));
    }
}

// ---------------------------------------------------------------------------------------------
// The graph and the reports (empty when the rule holds)
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Graph {
    nodes: BTreeSet<String>,
    /// `(from, to)` -> every `file:line` where the edge occurs, in file order.
    edges: BTreeMap<(String, String), Vec<String>>,
}

impl Graph {
    fn successors<'g>(&'g self, node: &'g str) -> impl Iterator<Item = &'g String> + 'g {
        self.edges
            .keys()
            .filter(move |(f, _)| f == node)
            .map(|(_, t)| t)
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

    /// Breadth-first from `from` inside `within`: each node reached -> its predecessor.
    fn bfs(&self, from: &str, within: &BTreeSet<String>) -> BTreeMap<String, String> {
        let mut prev = BTreeMap::from([(from.to_string(), String::new())]);
        let mut queue = VecDeque::from([from.to_string()]);
        while let Some(v) = queue.pop_front() {
            for w in self.successors(&v) {
                if within.contains(w) && !prev.contains_key(w) {
                    prev.insert(w.clone(), v.clone());
                    queue.push_back(w.clone());
                }
            }
        }
        prev
    }

    /// Strongly connected components (nodes that reach each other), in sorted order.
    fn components(&self) -> Vec<BTreeSet<String>> {
        let to = self.edges.keys().map(|(_, t)| t.clone());
        let all: BTreeSet<String> = self.nodes.iter().cloned().chain(to).collect();
        let reach: BTreeMap<&String, _> = all.iter().map(|v| (v, self.bfs(v, &all))).collect();
        let mut out: Vec<BTreeSet<String>> = Vec::new();
        for v in &all {
            if !out.iter().any(|c| c.contains(v)) {
                let back = |w: &&String| reach[*w].contains_key(v);
                out.push(reach[v].keys().filter(back).cloned().collect());
            }
        }
        out
    }

    /// Shortest path `from ..= to` inside `comp` (which guarantees one exists).
    fn path(&self, from: &str, to: &str, comp: &BTreeSet<String>) -> Vec<String> {
        let prev = self.bfs(from, comp);
        let mut path = vec![to.to_string()];
        while path.last().unwrap() != from {
            path.push(prev[path.last().unwrap()].clone());
        }
        path.reverse();
        path
    }
}

/// Each component with more than one module, shown as a few short cycles that together use
/// every edge inside it.
fn cycle_report(g: &Graph) -> String {
    let mut s = String::new();
    for comp in g.components().into_iter().filter(|c| c.len() > 1) {
        let names: Vec<&str> = comp.iter().map(String::as_str).collect();
        let _ = writeln!(
            s,
            "\n{} modules depend on each other: {}",
            comp.len(),
            names.join(", ")
        );
        let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
        for (from, to) in g.edges.keys() {
            let inside = comp.contains(from) && comp.contains(to);
            if !inside || covered.contains(&(from.clone(), to.clone())) {
                continue;
            }
            let cycle = [vec![from.clone()], g.path(to, from, &comp)].concat();
            let _ = writeln!(s, "  {}", cycle.join(" -> "));
            for w in cycle.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                let _ = writeln!(s, "      {a} -> {b}  at {}", g.where_(a, b));
                covered.insert((a.clone(), b.clone()));
            }
        }
    }
    s
}

fn in_cmd(node: &str) -> bool {
    node == CMD || node.starts_with(&format!("{CMD}::"))
}

fn cmd_import_report(g: &Graph) -> String {
    let mut s = String::new();
    for ((from, to), locs) in &g.edges {
        if in_cmd(to) && !in_cmd(from) && from != BINARY {
            let _ = writeln!(s, "  {from} -> {to}  at {}", locs.join(", "));
        }
    }
    s
}

fn clap_report(files: &[FileInfo]) -> String {
    let mut s = String::new();
    let outside = |f: &&FileInfo| f.node == BINARY || f.module.first().is_none_or(|m| m != CMD);
    for f in files.iter().filter(outside).filter(|f| !f.clap.is_empty()) {
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

/// `tests.rs` files are exempt from the size rules.
fn exempt(f: &FileInfo) -> bool {
    f.rel.ends_with("/tests.rs")
}

fn size_report(files: &[FileInfo]) -> String {
    let big = files
        .iter()
        .filter(|f| !exempt(f) && f.lines > MAX_FILE_LINES);
    big.map(|f| format!("  {}: {} lines\n", f.rel, f.lines))
        .collect()
}

fn module_count_report(files: &[FileInfo]) -> String {
    let lib = files.iter().filter(|f| f.node == ROOT);
    let top: Vec<&str> = lib
        .flat_map(|f| &f.scan.children)
        .filter_map(|c| (c.len() == 1).then_some(c[0].as_str()))
        .collect();
    if top.len() <= MAX_TOP_MODULES {
        return String::new();
    }
    format!(
        "  builder/lib.rs declares {} modules: {}\n",
        top.len(),
        top.join(", ")
    )
}

fn fn_report(files: &[FileInfo]) -> String {
    let mut s = String::new();
    for f in files.iter().filter(|f| !f.test_only && !exempt(f)) {
        for (line, name, n) in f.scan.fns.iter().filter(|x| x.2 > MAX_FN_LINES) {
            let _ = writeln!(s, "  {}:{line} fn {name}: {n} lines", f.rel);
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The scanner on sources whose answer is known (`cmdl` stands for `CMD`, `//- ` starts a file)
// ---------------------------------------------------------------------------------------------

const SAMPLE: &str = r##"//- builder/lib.rs
//! crate::cmdl::InADocComment
pub mod alpha;
pub mod beta;
pub mod cmdl;
pub mod delta;
pub mod gamma;
pub use alpha::Thing; // a path starting with a child module
pub const V: &str = "crate::beta::InAString";
//- builder/main.rs
fn main() {
    builder::cmdl::run();
    let _ = builder::alpha::f("x");
}
//- builder/alpha.rs
use std::fmt;
use crate::{beta::{self, Inner as Renamed}, gamma::deep::{X, Y}}; // longest module prefix
/* crate::cmdl::InAComment */
pub struct Thing<'a>(&'a str);
pub fn f<'a>(s: &'a str) -> char {
    let _ = "crate::cmdl::InAString";
    let r#type = crate::ROOT_ITEM; // lands in lib.rs
    println!("{}", crate::gamma::h()); // inside a macro call
    if s.is_empty() { beta::g() } // `beta` is a name brought in by `use`, not an edge
    'c'
}
#[cfg(test)]
mod tests {
    use crate::cmdl::InTests;
    fn t() { crate::cmdl::run(); }
}
#[cfg(test)]
pub(crate) fn helper() -> Vec<u8> { crate::cmdl::in_test_fn(); vec![] }
struct WithTestField {
    #[cfg(test)]
    x: crate::cmdl::TestOnlyField,
}
//- builder/beta.rs
pub fn g() {}
pub struct Inner;
#[derive(Debug, clap::Args)]
pub struct BadArgs {
    #[arg(long)]
    x: bool,
}
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Mode { A }
fn uses_cmdl() {
    let _ = crate::cmdl::Cli::parse();
}
//- builder/cmdl/mod.rs
mod args;
pub use args::{run, Cli};
//- builder/cmdl/args.rs
use clap::Parser;
#[derive(Parser)]
pub struct Cli {
    #[command(subcommand)]
    c: u8,
    #[arg(long, default_value_t = crate::delta::DEFAULT)] // inside an attribute
    d: u8,
}
pub fn run() { crate::beta::g(); }
//- builder/delta.rs
pub const DEFAULT: u8 = 1;
//- builder/gamma/mod.rs
mod deep;
mod util;
pub use deep::X;
pub fn h() { util::go(); let _ = Vec::<u8>::new(); }
pub(crate) fn shared() {}
#[cfg(test)]
mod tests;
//- builder/gamma/deep.rs
use super::util::Helper;
pub struct X; pub struct Y;
pub fn d() { super::shared(); }
mod inner {
    pub fn z() { super::d(); self::w(); } // inside gamma::deep: no edge
    pub fn w() {}
}
//- builder/gamma/util.rs
#[cfg_attr(feature = "cli", derive(clap::Parser))] // clap, conditionally
pub struct Helper;
pub fn go() { crate::beta::g(); }
//- builder/gamma/tests.rs
use super::*;
use crate::cmdl::FromATestFile;
"##;

fn sub(s: &str) -> String {
    s.replace("cmdl", CMD)
}

/// Analyzes a fixture: files, each after a `//- builder/path.rs` line.
fn analyze_sample(fixture: &str) -> Analysis {
    let sources: Vec<Source> = fixture
        .split("//- ")
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| {
            let (rel, text) = chunk.split_once('\n').unwrap();
            Source {
                rel: sub(rel),
                text: sub(text),
            }
        })
        .collect();
    analyze(&sources)
}

#[test]
fn scanner_self_test_graph() {
    let a = analyze_sample(SAMPLE);
    let expected = "
  alpha -> beta  builder/alpha.rs:2
  alpha -> crate  builder/alpha.rs:7
  alpha -> gamma  builder/alpha.rs:8
  alpha -> gamma::deep  builder/alpha.rs:2
  beta -> cmdl  builder/beta.rs:11
  cmdl -> cmdl::args  builder/cmdl/mod.rs:2
  cmdl::args -> beta  builder/cmdl/args.rs:9
  cmdl::args -> delta  builder/cmdl/args.rs:6
  crate -> alpha  builder/lib.rs:7
  gamma -> gamma::deep  builder/gamma/mod.rs:3
  gamma -> gamma::util  builder/gamma/mod.rs:4
  gamma::deep -> gamma  builder/gamma/deep.rs:3
  gamma::deep -> gamma::util  builder/gamma/deep.rs:1
  gamma::util -> beta  builder/gamma/util.rs:3
  main -> alpha  builder/main.rs:3
  main -> cmdl  builder/main.rs:2
";
    assert_eq!(format!("\n{}", a.graph.dump()), sub(expected));
    // `#[cfg(test)] mod tests;` makes gamma/tests.rs test code: no node, no edges.
    let tests_rs = a.files.iter().find(|f| f.rel == "builder/gamma/tests.rs");
    assert!(tests_rs.unwrap().test_only);
    assert!(!a.graph.nodes.contains("gamma::tests"));
}

#[test]
fn scanner_self_test_reports() {
    let a = analyze_sample(SAMPLE);
    let cycles = "
2 modules depend on each other: alpha, crate
  alpha -> crate -> alpha
      alpha -> crate  at builder/alpha.rs:7
      crate -> alpha  at builder/lib.rs:7

3 modules depend on each other: beta, cmdl, cmdl::args
  beta -> cmdl -> cmdl::args -> beta
      beta -> cmdl  at builder/beta.rs:11
      cmdl -> cmdl::args  at builder/cmdl/mod.rs:2
      cmdl::args -> beta  at builder/cmdl/args.rs:9

2 modules depend on each other: gamma, gamma::deep
  gamma -> gamma::deep -> gamma
      gamma -> gamma::deep  at builder/gamma/mod.rs:3
      gamma::deep -> gamma  at builder/gamma/deep.rs:3
";
    assert_eq!(cycle_report(&a.graph), sub(cycles));
    let cmd_imports = "  beta -> cmdl  at builder/beta.rs:11\n";
    assert_eq!(cmd_import_report(&a.graph), sub(cmd_imports));
    let clap = "  builder/beta.rs:\n      #[arg(..)] at line 5\n      derive(Args) at line 3\n\
                \x20 builder/gamma/util.rs:\n      derive(Parser) at line 1\n";
    assert_eq!(clap_report(&a.files), clap);
    assert_eq!(module_count_report(&a.files), "");
    assert_eq!(fn_report(&a.files), "");
}

/// `sig { .. }` spanning exactly `lines` lines.
fn function(sig: &str, lines: usize) -> String {
    format!("{sig} {{\n{}}}\n", "    let _ = 0;\n".repeat(lines - 2))
}

fn lib_rs(modules: usize) -> String {
    let decls: String = (0..modules).map(|k| format!("pub mod m{k};\n")).collect();
    format!("//- builder/lib.rs\n{decls}#[cfg(test)]\nmod tests;\n")
}

#[test]
fn long_functions_and_too_many_modules_are_found() {
    let m0 = [
        "//- builder/m0.rs\n",
        &function("fn exactly_100()", 100),
        "struct S;\nimpl S {\n",
        &function("    pub fn method_101(&self)", 101),
        "}\n#[cfg(test)]\n",
        &function("fn test_code()", 150),
        "//- builder/m0/tests.rs\n",
        &function("fn in_tests_rs()", 150),
    ]
    .concat();
    let a = analyze_sample(&(lib_rs(12) + &m0));
    assert_eq!(module_count_report(&a.files), "");
    assert_eq!(
        fn_report(&a.files),
        "  builder/m0.rs:103 fn method_101: 101 lines\n"
    );

    let report = module_count_report(&analyze_sample(&lib_rs(13)).files);
    let want = "  builder/lib.rs declares 13 modules: m0, m1, m10, m11, m12, m2,";
    assert!(report.starts_with(want), "{report}");
}

#[test]
#[should_panic(expected = "builder/broken.rs:2:")]
fn a_file_syn_rejects_fails_naming_the_file() {
    analyze_sample(
        "//- builder/lib.rs\nmod broken;\n//- builder/broken.rs\nfn f() {\nlet = ;\n}\n",
    );
}
