//! Archive bytes -> install into a temp root: never a panic, never a write outside the root,
//! and never a link left in the root that resolves outside it.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use builder::build::archive::{install, ArchiveLimits};
use builder::build::install::Rootfs;
use builder::profile::{Lookup, Profile};
use libfuzzer_sys::fuzz_target;

/// One artifact installed from a .tar.gz and one from a .tar, each with a folder rule, a
/// nested glob and a single-file rule.
fn profile() -> &'static Profile {
    static P: OnceLock<Profile> = OnceLock::new();
    P.get_or_init(|| {
        let pin = "0".repeat(64);
        let rules = r#"install = [
  { from = "*", to = "/opt/a/", mode = "0755" },
  { from = "bin/*", to = "/usr/local/bin/", mode = "0755" },
  { from = "etc/one", to = "/etc/one.conf", mode = "0644" },
]"#;
        let text = format!(
            "schema = 1\nname = \"f\"\nkubernetes = \"1.36\"\nruntime = \"containerd\"\narch = [\"amd64\"]\n\
             [[artifact]]\nname = \"gz\"\nversion = \"1.0.0\"\nurl = \"https://example.invalid/a.tar.gz\"\nsha256 = \"{pin}\"\n{rules}\n\
             [[artifact]]\nname = \"tar\"\nversion = \"1.0.0\"\nurl = \"https://example.invalid/a.tar\"\nsha256 = \"{pin}\"\n{rules}\n"
        );
        Lookup {
            local_dir: "/nonexistent".into(),
        }
        .load_text("fuzz.toml", &text)
        .expect("the fuzz profile loads")
    })
}

/// Every path under `dir`, links not followed.
fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            walk(&p, out);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let artifact = &profile().artifacts[usize::from(which & 1)];
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("artifact");
    std::fs::write(&file, bytes).unwrap();
    let sha = builder::util::digest::Sha256::of(bytes);
    let (root, beside) = (work.path().join("root"), work.path().join("beside"));
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&beside).unwrap();
    let rootfs = Rootfs::new(&root);
    let limits = ArchiveLimits {
        max_bytes: 64 << 20,
        max_members: 10_000,
    };
    let ok = install(artifact, &artifact.url, &file, &sha, &rootfs, &limits).is_ok();
    // Nothing outside the root, whatever happened.
    assert!(std::fs::read_dir(&beside).unwrap().next().is_none());
    let mut names: Vec<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["artifact", "beside", "root"]);
    // Everything on disk is in the ledger, and no link escapes.
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    for p in paths {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if !meta.is_dir() {
            let rel = format!("/{}", p.strip_prefix(&root).unwrap().display());
            assert!(
                rootfs.get(&rel).is_some(),
                "{rel} is on disk but not in the ledger"
            );
        }
    }
    if ok {
        assert_eq!(rootfs.escaping_link(), None);
    }
});
