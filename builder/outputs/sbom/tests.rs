use super::parts::*;
use super::*;
use crate::outputs::manifest::{ArtifactRef, FileRef};
use crate::outputs::manifest::{OverlayRef, ProfileRef};
use crate::util::digest::Recorded;
use crate::util::model::{Arch, Runtime};

fn artifact(name: &str, version: &str, url: &str, sha: &str) -> ArtifactRef {
    ArtifactRef {
        name: name.into(),
        version: version.into(),
        url: url.into(),
        sha256: sha.repeat(32).into(),
    }
}

fn file(path: &str, mode: &str, sha: Option<&str>, source: &str) -> FileRef {
    FileRef {
        path: path.into(),
        mode: mode.into(),
        size: sha.map(|_| 10),
        sha256: sha.map(|s| s.repeat(32).into()),
        link: sha
            .is_none()
            .then(|| "/usr/local/lib/systemd/system/containerd.service".into()),
        source: source.into(),
    }
}

/// A fixed manifest: GitHub release and raw files, a dl.k8s.io file, a loopback URL, a URL
/// with hidden credentials and a space, names that clean up to the same SPDX id.
pub(crate) fn manifest() -> Manifest {
    Manifest {
        builder_version: crate::VERSION.into(),
        profile: ProfileRef {
            name: "containerd".into(),
            sha256: "5c".repeat(32).into(),
        },
        kubernetes: "1.36".into(),
        runtime: Runtime::Containerd,
        arch: Arch::Amd64,
        source_date_epoch: 1_700_000_000,
        input_sha256: Recorded::default(),
        artifacts: vec![
            artifact(
                "containerd",
                "2.3.4",
                "https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz",
                "9d",
            ),
            artifact(
                "containerd-service",
                "2.3.4",
                "https://raw.githubusercontent.com/containerd/containerd/v2.3.4/containerd.service",
                "c1",
            ),
            artifact("kubectl", "1.36.0", "https://dl.k8s.io/release/v1.36.0/bin/linux/amd64/kubectl", "77"),
            artifact("a_b", "1", "http://127.0.0.1:8080/a b.bin", "ab"),
            artifact("a b", "v1+x/y", "https://ci:***@mirror.example.internal/Tools/a.bin?x=1", "ba"),
        ],
        overlay: OverlayRef {
            file: "overlay.tar.gz".into(),
            sha256: "0f".repeat(32).into(),
            size: 1234,
            sha256_file: "overlay.tar.gz.sha256".into(),
        },
        files: vec![
            file("/etc/containerd/config.toml", "0644", Some("e1"), "template:containerd-config"),
            file("/etc/modules-load.d/k8s.conf", "0644", Some("e2"), "overlay:kubernetes-node"),
            file(
                "/etc/systemd/system/multi-user.target.wants/containerd.service",
                "0777",
                None,
                "template:enable",
            ),
            file("/usr/local/bin/a_b", "0755", Some("e3"), "artifact:a_b"),
            file("/usr/local/bin/a b", "0644", Some("e4"), "artifact:a b"),
            file("/usr/local/bin/containerd", "0755", Some("e5"), "artifact:containerd"),
            file("/usr/local/bin/kubectl", "0755", Some("e6"), "artifact:kubectl"),
            file(
                "/usr/local/lib/systemd/system/containerd.service",
                "0644",
                Some("e7"),
                "artifact:containerd-service",
            ),
        ],
        documents: Vec::new(),
        sysext: None,
    }
}

pub(crate) fn sha1s_of(m: &Manifest) -> Sha1s {
    regular_files(m)
        .enumerate()
        .map(|(i, f)| (f.path.clone(), format!("{:040x}", i + 1)))
        .collect()
}

#[test]
fn sha1s_come_from_the_ledger_and_cover_the_manifest() {
    let d = tempfile::tempdir().unwrap();
    let rootfs = Rootfs::new(d.path());
    let origin = crate::build::install::Origin::Template("t");
    rootfs
        .write_bytes("/etc/a", 0o644, &origin, b"abc")
        .unwrap();
    rootfs
        .write_file("/etc/b", 0o644, &origin, &b""[..])
        .unwrap();
    rootfs.symlink("/etc/c", "a", &origin).unwrap();
    let mut m = manifest();
    m.files = crate::outputs::manifest::files_of(&rootfs);
    let got = sha1s(&rootfs, &m).unwrap();
    // FIPS 180 test vector ("abc") and the empty message.
    assert_eq!(got["/etc/a"], "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(got["/etc/b"], "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_eq!(got.len(), 2, "links have no SHA1");
    m.files
        .push(file("/etc/x", "0644", Some("ab"), "template:t"));
    let e = sha1s(&rootfs, &m).unwrap_err().to_string();
    assert!(
        e.contains("/etc/x is in the manifest, not in the rootfs"),
        "{e}"
    );
}

fn docs() -> (Manifest, Documents) {
    let m = manifest();
    let d = documents(&m, &sha1s_of(&m)).unwrap();
    (m, d)
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn goldens() {
    let (_, d) = docs();
    crate::node::assert_golden("sbom.spdx.json", &text(&d.spdx));
    crate::node::assert_golden("sbom.cdx.json", &text(&d.cyclonedx));
}

#[test]
fn the_same_manifest_gives_the_same_bytes_and_the_epoch_only_the_time() {
    let (m, a) = docs();
    let b = documents(&m, &sha1s_of(&m)).unwrap();
    assert_eq!((&a.spdx, &a.cyclonedx), (&b.spdx, &b.cyclonedx));
    let later = Manifest {
        source_date_epoch: 0,
        input_sha256: Recorded::default(),
        ..m.clone()
    };
    let c = documents(&later, &sha1s_of(&m)).unwrap();
    let (old, new) = ("2023-11-14T22:13:20Z", "1970-01-01T00:00:00Z");
    assert_eq!(text(&c.spdx), text(&a.spdx).replace(old, new));
    assert_eq!(text(&c.cyclonedx), text(&a.cyclonedx).replace(old, new));
}

#[test]
fn purls_from_urls() {
    let m = manifest();
    let p: Vec<String> = m.artifacts.iter().map(purl).collect();
    assert_eq!(p[0], "pkg:github/containerd/containerd@v2.3.4");
    assert_eq!(
        p[1],
        "pkg:github/containerd/containerd@v2.3.4#containerd.service"
    );
    assert_eq!(
        p[2],
        "pkg:generic/kubectl@1.36.0?download_url=https%3A%2F%2Fdl.k8s.io%2Frelease%2Fv1.36.0%2Fbin%2Flinux%2Famd64%2Fkubectl"
    );
    assert_eq!(
        p[4].split('?').next().unwrap(),
        "pkg:generic/a%20b@v1%2Bx%2Fy"
    );
    // Not a release download, a query, a dot segment: generic.
    for url in [
        "https://github.com/containerd/containerd/archive/v1.tar.gz",
        "https://github.com/o/r/releases/download/v1/f?x=1",
        "https://raw.githubusercontent.com/o/r/v1/../f",
        "https://github.com/o/r/releases/download//f",
    ] {
        let a = artifact("x", "", url, "00");
        assert!(purl(&a).starts_with("pkg:generic/x?download_url="), "{url}");
    }
    assert!(purl(&artifact("", "", "file:///x", "00")).starts_with("pkg:generic/artifact?"));
}

#[test]
fn timestamps_and_uuids() {
    assert_eq!(timestamp(0).unwrap(), "1970-01-01T00:00:00Z");
    assert_eq!(timestamp(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
    assert_eq!(timestamp(253_402_300_799).unwrap(), "9999-12-31T23:59:59Z");
    let e = timestamp(253_402_300_800).unwrap_err().to_string();
    assert!(e.contains("SOURCE_DATE_EPOCH 253402300800"), "{e}");
    assert!(timestamp(u64::MAX).is_err());
    let u = uuid_urn(&"ff".repeat(32));
    assert_eq!(u, "urn:uuid:ffffffff-ffff-8fff-bfff-ffffffffffff");
    // Not hex: still a UUID, still the same every time.
    assert_eq!(uuid_urn("zz"), uuid_urn("zz"));
    assert_eq!(uuid_urn("zz").len(), "urn:uuid:".len() + 36);
}

#[test]
fn ids_are_clean_and_unique() {
    let mut ids = Ids::default();
    assert_eq!(ids.take("SPDXRef-A-", "a_b"), "SPDXRef-A-a-b");
    assert_eq!(ids.take("SPDXRef-A-", "a b"), "SPDXRef-A-a-b-2");
    assert_eq!(ids.take("SPDXRef-A-", "a-b-2"), "SPDXRef-A-a-b-2-2");
    assert_eq!(ids.take("SPDXRef-A-", "ü/"), "SPDXRef-A-");
}

#[test]
fn only_urls_validators_take_are_download_locations() {
    for ok in [
        "https://github.com/a/b",
        "http://user:***@mirror.example.internal:8443/x",
    ] {
        assert_eq!(spdx::download_location(ok), ok);
    }
    for no in [
        "http://127.0.0.1:8080/a",
        "file:///srv/a.tgz",
        "https://localhost/a",
        "https://example.com/a b",
        "https://a..b.com/",
    ] {
        assert_eq!(spdx::download_location(no), "NOASSERTION", "{no}");
    }
}

#[test]
fn a_missing_sha1_is_an_error_not_a_panic() {
    let m = manifest();
    let e = documents(&m, &Sha1s::new()).err().unwrap().to_string();
    assert!(
        e.contains("no SHA1 computed for /etc/containerd/config.toml"),
        "{e}"
    );
}

#[test]
fn check_accepts_what_documents_wrote() {
    let (m, d) = docs();
    check(&m, &d.spdx, &d.cyclonedx).unwrap();
}

/// `check` with one document edited (`from` replaced by `to` once); the error it gives.
fn edited(spdx: bool, from: &str, to: &str) -> Mismatch {
    let (m, d) = docs();
    let (mut s, mut c) = (text(&d.spdx), text(&d.cyclonedx));
    let doc = if spdx { &mut s } else { &mut c };
    assert!(doc.contains(from), "{from} not in the document");
    *doc = doc.replacen(from, to, 1);
    check(&m, s.as_bytes(), c.as_bytes()).expect_err(&format!("{from} -> {to} passed"))
}

#[test]
fn check_names_the_first_disagreement() {
    let digest = |s: &str| s.repeat(32);
    for (spdx, from, to, says) in [
        (
            true,
            format!("\"checksumValue\": \"{}", digest("0f")),
            format!("\"checksumValue\": \"{}", digest("0e")),
            "the overlay's sha256",
        ),
        (
            true,
            digest("9d"),
            digest("9e"),
            "artifact \"containerd\": sha256",
        ),
        (
            true,
            "\"versionInfo\": \"2.3.4\"".into(),
            "\"versionInfo\": \"2.3.5\"".into(),
            "version",
        ),
        (
            true,
            "https://dl.k8s.io/release".into(),
            "https://dl.k8s.io/x".into(),
            "URL",
        ),
        (
            true,
            "pkg:github/containerd/containerd@v2.3.4\"".into(),
            "pkg:github/x/y@1\"".into(),
            "purl",
        ),
        (
            true,
            "\"name\": \"kubectl\"".into(),
            "\"name\": \"kubectl2\"".into(),
            "artifact \"kubectl\" is missing",
        ),
        (
            true,
            digest("e5"),
            digest("e6"),
            "file /usr/local/bin/containerd: sha256",
        ),
        (
            true,
            "./etc/modules-load.d/k8s.conf".into(),
            "./etc/modules-load.d/x.conf".into(),
            "file /etc/modules-load.d/k8s.conf is missing",
        ),
        (
            true,
            "\"CONTAINED_BY\",\n      \"relatedSpdxElement\": \"SPDXRef-Artifact-containerd\""
                .into(),
            "\"CONTAINED_BY\",\n      \"relatedSpdxElement\": \"SPDXRef-Artifact-kubectl\"".into(),
            "contained by artifact Some(\"kubectl\")",
        ),
        (
            true,
            "\"spdxVersion\"".into(),
            "\"version\"".into(),
            "not an SPDX document",
        ),
        (false, digest("0f"), digest("0e"), "the overlay's sha256"),
        (
            false,
            digest("77"),
            digest("78"),
            "artifact \"kubectl\": sha256",
        ),
        (
            false,
            "\"version\": \"1.36.0\"".into(),
            "\"version\": \"1.37.0\"".into(),
            "version",
        ),
        (
            false,
            "https://github.com/containerd".into(),
            "https://example.com/containerd".into(),
            "URL",
        ),
        (
            false,
            "\"purl\": \"pkg:github/containerd/containerd@v2.3.4\"".into(),
            "\"purl\": \"pkg:x/y\"".into(),
            "purl",
        ),
        (
            false,
            digest("e1"),
            digest("e0"),
            "file /etc/containerd/config.toml: sha256",
        ),
        (
            false,
            "\"name\": \"/usr/local/bin/kubectl\"".into(),
            "\"name\": \"/usr/local/bin/kubectl2\"".into(),
            "file /usr/local/bin/kubectl is missing",
        ),
        (
            false,
            "\"bomFormat\"".into(),
            "\"format\"".into(),
            "not a CycloneDX document",
        ),
    ] {
        let e = edited(spdx, &from, &to);
        let doc = if spdx { SBOM_SPDX } else { SBOM_CYCLONEDX };
        assert_eq!(e.document, doc, "{e}");
        assert!(e.to_string().contains(says), "{from} -> {to}: {e}");
    }
}

#[test]
fn check_finds_extra_files_and_artifacts() {
    let (mut m, d) = docs();
    let removed = m.files.remove(0);
    let e = check(&m, &d.spdx, &d.cyclonedx).unwrap_err();
    assert_eq!(
        e.what,
        format!("file {} is not in the manifest", removed.path)
    );
    let (mut m, d) = docs();
    m.artifacts.pop();
    m.files.retain(|f| f.source != "artifact:a b");
    let e = check(&m, &d.spdx, &d.cyclonedx).unwrap_err();
    assert_eq!(e.what, "artifact \"a b\" is not in the manifest");
}
