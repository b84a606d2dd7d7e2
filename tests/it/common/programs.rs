//! The programs the tests run besides builder: found on PATH or through a BUILDER_* variable
//! (else SKIP, or a failure under BUILDER_REQUIRE_CONSUMERS), run for a verdict and what they
//! said, and the runs several areas share: `sha256sum -c`, `ci/examples/bake-chroot.sh`, key
//! pairs made by `minisign -G` and `ssh-keygen`, a small tmpfs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{assert_ok, stderr, stdout};

/// A program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A consumer check cannot run: with BUILDER_REQUIRE_CONSUMERS set (ci/test.sh) that is a
/// failure; otherwise the test says SKIP and the caller returns.
pub fn skip_or_fail(what: &str) {
    if std::env::var_os("BUILDER_REQUIRE_CONSUMERS").is_some() {
        panic!("{what}, and BUILDER_REQUIRE_CONSUMERS is set; run ci/test.sh");
    }
    // Straight to the stderr handle: libtest's capture would hide an eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "SKIP: {what}; run ci/test.sh for the consumer checks"
    );
}

/// The consumer's path, or None (after `skip_or_fail`) when it is not there.
pub fn consumer(what: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    match path {
        Some(p) if p.exists() => Some(p),
        _ => {
            skip_or_fail(&format!("{what} not found"));
            None
        }
    }
}

/// The path in the environment variable `var`, if set (checked by [`consumer`]).
pub fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from)
}

/// Runs `cmd`; returns (success, stdout + stderr).
pub fn run_text(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().unwrap();
    (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
}

/// Runs `cmd` with `stdin`; returns (success, stdout + stderr).
pub fn run_text_with_stdin(cmd: &mut Command, stdin: &[u8]) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    (out.status.success(), text)
}

/// `sha256sum -c SUMS` in `dir` passes.
#[track_caller]
pub fn assert_sha256sum_c(dir: &Path, sums: &str) {
    let check = Command::new("sha256sum")
        .args(["-c", sums])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_ok(&check);
}

/// `ci/examples/bake-chroot.sh RENDER_DIR ROOT` (the README's Packer recipe).
pub fn bake_chroot(render_dir: &Path, root: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/examples/bake-chroot.sh");
    Command::new("bash")
        .arg(script)
        .arg(render_dir)
        .arg(root)
        .output()
        .unwrap()
}

/// `minisign` or `ssh-keygen` on PATH, or None after `skip_or_fail`.
pub fn signing_tool(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if found.is_none() {
        skip_or_fail(&format!(
            "{name} not found on PATH (Debian: apt-get install minisign openssh-client)"
        ));
    }
    found
}

/// `minisign -G` into DIR/NAME.key and DIR/NAME.pub: encrypted with `pass` (fed on stdin,
/// twice), or `-W` (unencrypted) without.
pub fn minisign_keys(dir: &Path, name: &str, pass: Option<&str>) -> (PathBuf, PathBuf) {
    let (sk, pk) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    );
    let mut cmd = Command::new("minisign");
    cmd.arg("-G").arg("-p").arg(&pk).arg("-s").arg(&sk);
    let stdin = match pass {
        Some(p) => format!("{p}\n{p}\n"),
        None => {
            cmd.arg("-W");
            String::new()
        }
    };
    let (ok, text) = run_text_with_stdin(&mut cmd, stdin.as_bytes());
    assert!(ok, "minisign -G: {text}");
    (sk, pk)
}

/// `ssh-keygen -t ed25519` into DIR/NAME and DIR/NAME.pub (`pass` "" for unencrypted).
pub fn ssh_keys(dir: &Path, name: &str, pass: &str) -> (PathBuf, PathBuf) {
    ssh_keys_of(dir, name, "ed25519", pass)
}

/// `ssh-keygen -t KIND` into DIR/NAME and DIR/NAME.pub (`pass` "" for unencrypted).
pub fn ssh_keys_of(dir: &Path, name: &str, kind: &str, pass: &str) -> (PathBuf, PathBuf) {
    let sk = dir.join(name);
    let (ok, text) = run_text_with_stdin(
        Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-C", "builder-test", "-N", pass, "-f"])
            .arg(&sk),
        b"",
    );
    assert!(ok, "ssh-keygen: {text}");
    (sk.clone(), dir.join(format!("{name}.pub")))
}

/// A small tmpfs at `dir`, unmounted when dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts one (`size` as mount's `size=`), or None when mounting is not allowed (not root).
    pub fn mount(dir: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
