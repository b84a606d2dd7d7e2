//! Rebuild when the profiles or overlays built into the binary (include_dir!) change, and
//! stamp `--version` with the commit when built from a git checkout (BUILDER_COMMIT).
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=profiles");
    println!("cargo:rerun-if-changed=overlays");
    println!("cargo:rerun-if-changed=builder/profile/data");
    commit();
}

/// BUILDER_COMMIT: the checkout's commit (12 hex digits), or empty outside a git checkout or
/// without git. Reruns when HEAD or the branch it names moves.
fn commit() {
    let git = Path::new(".git");
    for watched in ["HEAD", "packed-refs"] {
        if git.join(watched).exists() {
            println!("cargo:rerun-if-changed=.git/{watched}");
        }
    }
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        if let Some(branch) = head.trim().strip_prefix("ref: ") {
            if git.join(branch).exists() {
                println!("cargo:rerun-if-changed=.git/{branch}");
            }
        }
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success() && git.exists())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_default();
    println!("cargo:rustc-env=BUILDER_COMMIT={commit}");
}
