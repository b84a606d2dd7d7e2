//! `builder diff` on two hand-made renders: every kind of change once, its text and JSON
//! against golden files (`BUILDER_UPDATE_GOLDEN=1` rewrites them).

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::node::assert_golden;
use crate::outputs::manifest::{ArtifactRef, FileRef, Manifest, OverlayRef, ProfileRef};
use crate::util::digest::{Recorded, Sha256};
use crate::util::model::{Arch, Runtime};

fn art(name: &str, version: &str) -> ArtifactRef {
    ArtifactRef {
        name: name.into(),
        version: version.into(),
        url: format!("https://example.com/{name}/v{version}/{name}.tgz"),
        sha256: Sha256::of(format!("{name}{version}").as_bytes()).into(),
    }
}

/// A file entry, and its bytes written under `root` (links are only listed).
fn file(root: &Path, path: &str, mode: &str, source: &str, body: Result<&str, &str>) -> FileRef {
    match body {
        Ok(text) => {
            let on_disk = root.join(&path[1..]);
            fs::create_dir_all(on_disk.parent().unwrap()).unwrap();
            fs::write(on_disk, text).unwrap();
            FileRef {
                path: path.into(),
                mode: mode.into(),
                size: Some(text.len() as u64),
                sha256: Some(Sha256::of(text.as_bytes()).into()),
                link: None,
                source: source.into(),
            }
        }
        Err(target) => FileRef {
            path: path.into(),
            mode: mode.into(),
            size: None,
            sha256: None,
            link: Some(target.into()),
            source: source.into(),
        },
    }
}

fn render(dir: &Path, kube: &str, artifacts: Vec<ArtifactRef>, files: Vec<FileRef>) {
    let m = Manifest {
        builder_version: "VERSION".into(),
        profile: ProfileRef {
            name: "p".into(),
            sha256: Sha256::of(kube.as_bytes()).into(),
        },
        kubernetes: kube.into(),
        runtime: Runtime::Containerd,
        arch: Arch::Amd64,
        source_date_epoch: 0,
        input_sha256: Recorded::default(),
        artifacts,
        overlay: OverlayRef {
            file: "overlay.tar.gz".into(),
            sha256: "0".repeat(64).into(),
            size: 1,
            sha256_file: "overlay.tar.gz.sha256".into(),
        },
        sysext: None,
        files,
        documents: Vec::new(),
    };
    fs::write(dir.join("manifest.json"), m.to_json().unwrap()).unwrap();
}

/// Two arch folders under `d`: old/ and new/, one change of each kind between them.
fn pair(d: &Path) -> (PathBuf, PathBuf) {
    let (old, new) = (d.join("old"), d.join("new"));
    let (ro, rn) = (old.join("rootfs"), new.join("rootfs"));
    fs::create_dir_all(&ro).unwrap();
    fs::create_dir_all(&rn).unwrap();
    let conf = "a = 1\nb = 2\nc = 3\nd = 4\n";
    render(
        &old,
        "1.35",
        vec![art("gone", "1.0"), art("tool", "1.0")],
        vec![
            file(&ro, "/etc/app.conf", "0644", "template:app", Ok(conf)),
            file(&ro, "/etc/link", "0777", "template:app", Err("/x")),
            file(&ro, "/etc/old.conf", "0644", "template:old", Ok("old\n")),
            file(&ro, "/usr/bin/tool", "0755", "artifact:tool", Ok("bin1")),
            file(&ro, "/usr/bin/same", "0755", "artifact:tool", Ok("same")),
        ],
    );
    render(
        &new,
        "1.36",
        vec![art("added", "2.0"), art("tool", "1.1")],
        vec![
            file(
                &rn,
                "/etc/app.conf",
                "0644",
                "template:app",
                Ok(&conf.replace("c = 3", "c = 30")),
            ),
            file(&rn, "/etc/link", "0777", "template:app", Err("/y")),
            file(&rn, "/etc/new.conf", "0644", "overlay:base", Ok("new\n")),
            file(&rn, "/usr/bin/tool", "0700", "artifact:tool", Ok("bin2")),
            file(&rn, "/usr/bin/same", "0755", "artifact:tool", Ok("same")),
        ],
    );
    (old, new)
}

fn opts(old: &Path, new: &Path) -> Options {
    Options {
        old: old.to_path_buf(),
        new: new.to_path_buf(),
        json: false,
    }
}

#[test]
fn every_kind_of_change_reads_as_the_golden_files() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = pair(d.path());
    let report = compare(&opts(&old, &new)).unwrap();
    assert!(!report.identical);
    let text = text::render(&report).replace(&d.path().display().to_string(), "TMP");
    assert_golden("diff.txt", &text);
    let json = crate::util::stdout::json_string(&report)
        .unwrap()
        .replace(&d.path().display().to_string(), "TMP");
    assert_golden("diff.json", &json);
    // The same pair, the other way round: every change reversed.
    let back = compare(&opts(&new, &old)).unwrap();
    let changes = |r: &Report| -> Vec<String> {
        r.arches[0]
            .files
            .iter()
            .map(|f| format!("{}{:?}", f.path, f.change))
            .collect()
    };
    assert_eq!(
        changes(&back),
        [
            "/etc/app.confChanged",
            "/etc/linkChanged",
            "/etc/new.confRemoved",
            "/etc/old.confAdded",
            "/usr/bin/toolChanged"
        ]
    );
}

#[test]
fn a_folder_compared_with_itself_is_identical() {
    let d = tempfile::tempdir().unwrap();
    let (old, _) = pair(d.path());
    let report = compare(&opts(&old, &old)).unwrap();
    assert!(report.identical);
    assert_eq!(report.arches[0].status, Status::Same);
    assert!(text::render(&report).ends_with("\nno differences (1 arch(es) compared)\n"));
}

#[test]
fn a_digest_that_is_not_one_is_compared_as_written_and_an_unknown_arch_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = pair(d.path());
    // An edited manifest: its overlay digest is not a sha256. It is still read, and the
    // difference shows what it says.
    let path = new.join("manifest.json");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace(&"0".repeat(64), "not-a-digest")).unwrap();
    let report = compare(&opts(&old, &new)).unwrap();
    let field = report.arches[0]
        .fields
        .iter()
        .find(|f| f.field == "overlay.sha256")
        .unwrap();
    assert_eq!(
        (field.old.as_str(), field.new.as_str()),
        (&*"0".repeat(64), "not-a-digest")
    );
    // An arch builder does not know: a clear input error, not a panic.
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("\"amd64\"", "\"sparc\"")).unwrap();
    let e = compare(&opts(&old, &new)).unwrap_err();
    assert!(matches!(e.downcast_ref(), Some(Error::Input(_))), "{e:#}");
    let e = format!("{e:#}");
    assert!(
        e.contains(
            "is not a builder manifest.json (unknown variant `sparc`, expected one of `amd64`"
        ),
        "{e}"
    );
}

#[test]
fn control_characters_from_a_manifest_are_escaped_in_the_text_only() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = pair(d.path());
    // An edited NEW: a generated file whose path forges a listing line and clears the screen,
    // an artifact, a mode, a link and a source holding control characters and a bidi override.
    let rn = new.join("rootfs");
    let forged = "/etc/a\n    + /etc/forged\x1b[2J";
    let mut evil = vec![
        file(&rn, forged, "0644", "overlay:x", Ok("k = 1\x1b]0;t\x07\n")),
        file(
            &rn,
            "/etc/l2",
            "06\r44",
            "overlay:\u{202e}x",
            Err("/t\x1b[0m"),
        ),
    ];
    let path = new.join("manifest.json");
    let mut m: Manifest = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    m.files.append(&mut evil);
    m.artifacts.push(art("ev\u{9b}il", "1.0\n    ~ forged"));
    fs::write(&path, m.to_json().unwrap()).unwrap();
    let report = compare(&opts(&old, &new)).unwrap();
    let text = text::render(&report);
    for bad in ['\x1b', '\r', '\u{9b}', '\u{202e}', '\x07'] {
        assert!(!text.contains(bad), "{bad:?} printed raw");
    }
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("+ /etc/forged")
                || l.trim_start().starts_with("~ forged")),
        "a forged line"
    );
    for shown in [
        "    + /etc/a\\n    + /etc/forged\\u{1b}[2J (0644, 12 bytes",
        "+++ b/etc/a\\n    + /etc/forged\\u{1b}[2J\n",
        "+k = 1\\u{1b}]0;t\\u{7}\n",
        "+ /etc/l2 (06\\r44, link to /t\\u{1b}[0m, overlay:\\u{202e}x)",
        "+ ev\\u{9b}il 1.0\\n    ~ forged\n",
    ] {
        assert!(text.contains(shown), "missing {shown:?}");
    }
    // Ordinary paths are printed as they are.
    assert!(text.contains("+ /etc/new.conf (0644"));
    // JSON keeps the strings (JSON escapes them itself).
    let f = &report.arches[0].files;
    assert!(f.iter().any(|f| f.path == forged));
    let diff = f.iter().find(|f| f.path == forged).unwrap().diff.as_deref();
    assert!(diff.unwrap().contains("+k = 1\x1b]0;t\x07\n"));
}
