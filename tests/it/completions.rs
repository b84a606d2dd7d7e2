//! `builder completions SHELL` and `builder manpage`: generated from clap's definitions, so the
//! subcommands checked here are clap's own list (a new subcommand is checked without a change
//! here). Scripts are parsed by the real shells, bash's and fish's are run; man pages are typeset
//! by groff with every warning on. Each check has a control that must fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use builder::cmd::Cli;
use clap::{CommandFactory, ValueEnum};

use crate::common::*;

/// The visible subcommands, as clap defines them.
fn subcommands() -> Vec<String> {
    let cmd = Cli::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    // The list is real: it holds what this branch knows of, whatever others add.
    for known in ["render", "detect", "diff", "completions", "manpage"] {
        assert!(names.iter().any(|n| n == known), "{names:?}");
    }
    names
}

fn completions(ws: &Workspace, shell: &str) -> String {
    let o = ws.run(&["completions", shell]);
    assert_ok(&o);
    stdout(&o)
}

/// Runs `program args` and returns (success, stdout + stderr).
fn run(program: &Path, args: &[&str]) -> (bool, String) {
    run_text(Command::new(program).args(args))
}

fn write(ws: &Workspace, name: &str, text: &str) -> PathBuf {
    let p = ws.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    let ws = Workspace::new();
    let subs = subcommands();
    for shell in clap_complete::Shell::value_variants() {
        let name = shell.to_possible_value().unwrap().get_name().to_string();
        let script = completions(&ws, &name);
        assert!(script.len() > 200, "{name}: {script}");
        for sub in &subs {
            assert!(script.contains(sub.as_str()), "{name} script lacks {sub}");
        }
        // Flags of a subcommand are there too (fish spells them `-l output`).
        assert!(script.contains("output"), "{name}");
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(
            clap_complete::Shell::from_str(shell, true).is_ok(),
            "{shell}"
        );
    }
    let o = ws.run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("possible values"), "{}", stderr(&o));
}

#[test]
fn bash_parses_and_completes_subcommands_and_values() {
    let ws = Workspace::new();
    let script = write(&ws, "builder.bash", &completions(&ws, "bash"));
    let bash = which("bash").expect("bash");
    let (ok, out) = run(&bash, &["-n", script.to_str().unwrap()]);
    assert!(ok, "bash -n: {out}");
    // Control: the same script cut short is refused.
    let text = std::fs::read_to_string(&script).unwrap();
    let broken = write(&ws, "broken.bash", &text[..text.len() / 2]);
    assert!(!run(&bash, &["-n", broken.to_str().unwrap()]).0);

    // The script really completes: what bash offers after `builder ` and `builder diff -o `.
    let complete = |words: &str| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _builder builder \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let (ok, out) = run(&bash, &["-c", &program]);
        assert!(ok, "{out}");
        out.lines().map(str::to_string).collect::<Vec<_>>()
    };
    let offered = complete("builder ''");
    for sub in subcommands() {
        assert!(offered.contains(&sub), "{sub} not offered: {offered:?}");
    }
    assert_eq!(complete("builder diff -o ''"), ["text", "json"]);
    assert_eq!(complete("builder render --arch a"), ["amd64", "arm64"]);
    // --profile completes the profile names (built in, and ./profiles when the script was made).
    assert_eq!(
        complete("builder render --profile c"),
        ["containerd", "cri-dockerd"]
    );
    assert_eq!(complete("builder show -p cri"), ["cri-dockerd"]);
    let (_up, node) = node_setup();
    let script = write(&node, "node.bash", &completions(&node, "bash"));
    let program = format!(
        "source {}; COMP_WORDS=(builder pin --profile n); COMP_CWORD=3; \
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
         _builder builder n --profile; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let (ok, out) = run(&bash, &["-c", &program]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["node"], "{out}");
    // Control: the parser still takes a path, which is no listed name.
    assert!(!offered.is_empty());
    let o = node.run(&["show", "--profile", "profiles/node.toml"]);
    assert_ok(&o);
}

#[test]
fn zsh_and_fish_parse_their_scripts() {
    let ws = Workspace::new();
    for (shell, check) in [("zsh", "-n"), ("fish", "--no-execute")] {
        let Some(program) = consumer(shell, which(shell)) else {
            continue;
        };
        let text = completions(&ws, shell);
        let script = write(&ws, &format!("builder.{shell}"), &text);
        let (ok, out) = run(&program, &[check, script.to_str().unwrap()]);
        assert!(ok, "{shell} {check}: {out}");
        // Control: an unclosed block is refused.
        let broken = write(
            &ws,
            &format!("broken.{shell}"),
            &format!("{text}\nif true\n"),
        );
        let (ok, out) = run(&program, &[check, broken.to_str().unwrap()]);
        assert!(!ok, "{shell} accepted a broken script: {out}");
    }
    // fish runs its script: the subcommands it offers after `builder `.
    if let Some(fish) = consumer("fish", which("fish")) {
        let script = write(&ws, "run.fish", &completions(&ws, "fish"));
        let (ok, out) = run(
            &fish,
            &[
                "-c",
                &format!("source {}; complete -C 'builder '", script.display()),
            ],
        );
        assert!(ok, "{out}");
        let offered: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
        for sub in subcommands() {
            assert!(offered.contains(&sub.as_str()), "{sub}: {offered:?}");
        }
    }
}

/// groff's warnings (every one enabled) for a page; empty when clean.
fn groff_warnings(groff: &Path, page: &Path) -> String {
    let o = Command::new(groff)
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page)
        .output()
        .unwrap();
    assert_ok(&o);
    stderr(&o)
}

#[test]
fn man_pages_cover_every_subcommand_and_typeset_without_warnings() {
    let ws = Workspace::new();
    let dir = ws.path().join("man/man1");
    assert_ok(&ws.run(&["manpage", "--dir", "man/man1"]));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = subcommands()
        .iter()
        .map(|s| format!("builder-{s}.1"))
        .collect();
    want.push("builder.1".into());
    want.sort();
    assert_eq!(names, want);
    // Without --dir: builder.1 on stdout, the same bytes.
    let o = ws.run(&["manpage"]);
    assert_ok(&o);
    assert_eq!(o.stdout, std::fs::read(dir.join("builder.1")).unwrap());
    let top = read(dir.join("builder.1"));
    for sub in subcommands() {
        assert!(
            top.contains(&format!("builder\\-{sub}(1)")),
            "builder.1 lacks {sub}"
        );
    }
    let render = read(dir.join("builder-render.1"));
    assert!(render.contains("Example: builder render"), "{render}");
    assert!(render.contains("\\-\\-output"), "{render}");
    // EXIT STATUS and ENVIRONMENT, which clap_mangen does not write: each page's own.
    for name in &names {
        let page = read(dir.join(name));
        assert!(page.contains(".SH \"EXIT STATUS\""), "{name}");
        assert!(page.contains(".SH ENVIRONMENT"), "{name}");
    }
    let detect = read(dir.join("builder-detect.1"));
    assert!(detect.contains("Affected nodes found"), "{detect}");
    assert!(!render.contains("Affected nodes found"), "{render}");
    for var in [
        "BUILDER_KUBERNETES",
        "BUILDER_OFFLINE",
        "BUILDER_SIGN_PASSPHRASE",
        "BUILDER_MIRROR",
    ] {
        assert!(render.contains(var), "builder-render.1 lacks {var}");
        assert!(top.contains(var), "builder.1 lacks {var}");
    }
    assert!(!detect.contains("BUILDER_SIGN_PASSPHRASE"), "{detect}");

    let Some(groff) = consumer("groff", which("groff")) else {
        return;
    };
    for name in &names {
        let page = dir.join(name);
        assert_eq!(groff_warnings(&groff, &page), "", "{name}");
        // What a reader sees: the page's name and its synopsis.
        let o = Command::new(&groff)
            .args(["-man", "-Tutf8", "-P-cbou"])
            .arg(&page)
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        assert_ok(&o);
        let shown = stdout(&o);
        let title = name.trim_end_matches(".1");
        assert!(
            shown.contains("\nNAME\n")
                && shown.contains(&format!("\n       {title} "))
                && shown.contains("\nSYNOPSIS\n")
                && shown.contains("\nEXIT STATUS\n")
                && shown.contains("\nENVIRONMENT\n"),
            "{shown}"
        );
    }
    // Control: a page with an undefined macro is warned about.
    let broken = write(&ws, "broken.1", &render.replacen(".SH ", ".SHX ", 1));
    let w = groff_warnings(&groff, &broken);
    assert!(w.contains("macro 'SHX' not defined"), "{w:?}");

    // A file where the folder should be: exit 1, nothing written.
    std::fs::write(ws.path().join("taken"), "").unwrap();
    let o = ws.run(&["manpage", "--dir", "taken"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("creating the man page folder taken"),
        "{}",
        stderr(&o)
    );
}
