//! `render --format sysext` with the real consumers of its outputs: both shipped profiles,
//! rendered from loopback artifacts, give a system extension image that `unsquashfs`
//! (squashfs-tools) lists and reads and `systemd-dissect` (systemd 252) recognises as an
//! extension for the system, with an extension-release that names the arch in systemd's
//! spelling; an `ignition.json` that Ignition's own `ignition-validate` (v2.26.0) accepts; and
//! a `butane.yaml` that the real Butane (v0.29.0, `--strict`) translates into that same JSON
//! (both built by ci/consumers/build.sh). Each check has a negative control that must fail: a
//! truncated image, an image whose extension-release names another arch, a config Ignition
//! refuses, a Butane file with one mode changed.
//!
//! Tools: BUILDER_IGNITION_VALIDATE, BUILDER_BUTANE, BUILDER_UNSQUASHFS, BUILDER_MKSQUASHFS
//! (each else the program on PATH), `systemd-dissect` on PATH. Missing: SKIP, or a failure
//! under BUILDER_REQUIRE_CONSUMERS=1.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const URL: &str = "http://127.0.0.1:9/sysext/{arch}/node.raw";

/// The program in the variable `env`, else `name` on PATH, or None after a SKIP.
fn tool(env: &str, name: &str) -> Option<PathBuf> {
    consumer(name, env_path(env).or_else(|| which(name)))
}

struct Rendered {
    _up: Upstream,
    ws: Workspace,
    dir: PathBuf,
    manifest: serde_json::Value,
}

impl Rendered {
    fn image(&self) -> PathBuf {
        self.dir
            .join(self.manifest["sysext"]["file"].as_str().unwrap())
    }
}

/// A shipped profile on loopback, rendered with --format sysext and join parameters.
fn render(shipped: &str) -> Rendered {
    let up = Upstream::start();
    let ws = Workspace::new();
    let test = match shipped {
        "containerd" => up.containerd_profile("node", "2.2.7", "1.36"),
        _ => up.cri_dockerd_profile("node", "1.36"),
    };
    ws.write_profile("node", &shipped_on_loopback(shipped, &test, &[]));
    let join = fixture("cloudinit/join.toml");
    let out = ws.render(
        "node",
        &[
            "--format",
            "overlay,sysext",
            "--sysext-url",
            URL,
            "--join-config",
            join.to_str().unwrap(),
        ],
    );
    assert_ok(&out);
    let dir = ws.out().join(format!("{shipped}-loopback/amd64"));
    let manifest = read_json(dir.join("manifest.json"));
    Rendered {
        _up: up,
        ws,
        dir,
        manifest,
    }
}

/// `unsquashfs -lln`: the image's paths (without the squashfs-root prefix), or the error.
fn unsquashfs_list(unsquashfs: &Path, image: &Path) -> Result<Vec<String>, String> {
    let (ok, out) = run_text(Command::new(unsquashfs).arg("-lln").arg(image));
    if !ok {
        return Err(out);
    }
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(" squashfs-root"))
        .map(|(_, p)| p.split(" -> ").next().unwrap_or(p).to_string())
        .filter(|p| !p.is_empty())
        .collect())
}

/// The extension-release of `image` (read with `unsquashfs -cat`), checked: ID and
/// ARCHITECTURE as expected. Returns the text or why it is wrong.
fn release_ok(unsquashfs: &Path, image: &Path, name: &str, arch: &str) -> Result<String, String> {
    let (ok, text) = run_text(Command::new(unsquashfs).arg("-cat").arg(image).arg(format!(
        "usr/lib/extension-release.d/extension-release.{name}"
    )));
    if !ok {
        return Err(text);
    }
    let fields: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('='))
        .collect();
    let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    if get("ID") != Some("_any") {
        return Err(format!("ID is {:?}: {text}", get("ID")));
    }
    if get("ARCHITECTURE") != Some(arch) {
        return Err(format!(
            "ARCHITECTURE is {:?}, not {arch}: {text}",
            get("ARCHITECTURE")
        ));
    }
    Ok(text)
}

/// `systemd-dissect --json=short`: an extension for the system, with its extension-release.
fn dissect_ok(image: &Path, arch: &str) -> Result<(), String> {
    let Some(dissect) = which("systemd-dissect") else {
        return Err("no systemd-dissect".into());
    };
    let (ok, out) = run_text(Command::new(dissect).arg("--json=short").arg(image));
    if !ok {
        return Err(out);
    }
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("{e}: {out}"))?;
    let release: Vec<&str> = v["extensionRelease"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    if v["useSystemExtension"] != true
        || !release.contains(&format!("ARCHITECTURE={arch}").as_str())
    {
        return Err(format!("not a system extension for {arch}: {out}"));
    }
    Ok(())
}

fn ignition_validate() -> Option<PathBuf> {
    tool("BUILDER_IGNITION_VALIDATE", "ignition-validate")
}

fn butane() -> Option<PathBuf> {
    tool("BUILDER_BUTANE", "butane")
}

/// `butane --strict` turns `butane` into Ignition JSON, which must equal `ignition` once both
/// are normalised: key order does not count (serde_json's maps are ordered by key), and each
/// `data:` URL is compared by the bytes it carries (Butane chooses its own encoding and may
/// gzip, so `compression` goes too). Returns Butane's error or the first differing file/unit.
fn butane_matches(butane: &Path, file: &Path, ignition: &Path) -> Result<(), String> {
    let o = Command::new(butane)
        .arg("--strict")
        .arg(file)
        .output()
        .unwrap();
    let out = stdout(&o);
    if !o.status.success() {
        return Err(format!(
            "butane --strict refused {}: {}",
            file.display(),
            stderr(&o)
        ));
    }
    let translated: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("butane printed no JSON ({e}): {out}"))?;
    let rendered: serde_json::Value = serde_json::from_str(&read(ignition)).unwrap();
    let (a, b) = (normalise(translated), normalise(rendered));
    if a == b {
        return Ok(());
    }
    for key in ["ignition", "storage", "systemd", "passwd"] {
        if a.get(key) != b.get(key) {
            return Err(format!(
                "{key} differs:\nbutane: {}\nrendered: {}",
                a.get(key).map(|v| v.to_string()).unwrap_or_default(),
                b.get(key).map(|v| v.to_string()).unwrap_or_default()
            ));
        }
    }
    Err(format!("the configs differ:\nbutane: {a}\nrendered: {b}"))
}

/// Every `contents` of a file with a `data:` source becomes {"bytes": [decoded bytes]}.
fn normalise(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(files) = v
        .pointer_mut("/storage/files")
        .and_then(|f| f.as_array_mut())
    {
        for f in files {
            let Some(c) = f.get_mut("contents") else {
                continue;
            };
            let Some(src) = c["source"].as_str().filter(|s| s.starts_with("data:")) else {
                continue;
            };
            let bytes = data_url_bytes(src, c["compression"].as_str());
            *c = serde_json::json!({ "bytes": bytes, "verification": c.get("verification") });
        }
    }
    v
}

/// The bytes of a `data:` URL (RFC 2397: base64 or percent-encoded), gunzipped when
/// `compression` is "gzip".
fn data_url_bytes(url: &str, compression: Option<&str>) -> Vec<u8> {
    use base64ct::Encoding;
    use std::io::Read;
    let (head, body) = url.split_once(',').expect("a data URL has a comma");
    let raw = if head.ends_with(";base64") {
        base64ct::Base64::decode_vec(body).expect("base64 in a data URL")
    } else {
        percent_decode(body)
    };
    match compression {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .expect("gzip in a data URL");
            out
        }
        _ => raw,
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn check_profile(shipped: &str) {
    let r = render(shipped);
    let m = &r.manifest["sysext"];
    let name = m["name"].as_str().unwrap();
    assert!(
        name.starts_with(&format!("{shipped}-loopback-")) && name.ends_with("-amd64"),
        "{m}"
    );
    assert_eq!(m["architecture"], "x86-64");
    let image = r.image();
    let bytes = std::fs::read(&image).unwrap();
    assert_eq!(sha256_hex(&bytes), m["sha256"].as_str().unwrap());
    let sums = read(r.dir.join("SHA256SUMS"));
    for f in [m["file"].as_str().unwrap(), "ignition.json", "butane.yaml"] {
        assert!(
            sums.lines().any(|l| l.ends_with(&format!("  {f}"))),
            "{f} not in SHA256SUMS:\n{sums}"
        );
    }

    // Same inputs, same bytes.
    let again = r.ws.run(&[
        "render",
        "--profile",
        "node",
        "--out",
        "dist2",
        "--format",
        "sysext",
        "--sysext-url",
        URL,
    ]);
    assert_ok(&again);
    let other =
        r.ws.path()
            .join(format!("dist2/{shipped}-loopback/amd64"))
            .join(m["file"].as_str().unwrap());
    assert!(
        std::fs::read(&other).unwrap() == bytes,
        "the image differs between two renders"
    );

    // The token is in the JoinConfiguration's contents only.
    let json = read(r.dir.join("ignition.json"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let holders: Vec<&str> = v["storage"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.to_string().contains(TOKEN))
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["/etc/kubernetes/builder-join.yaml"]);
    assert_eq!(json.matches(TOKEN).count(), 1);

    if let Some(unsquashfs) = tool("BUILDER_UNSQUASHFS", "unsquashfs") {
        let listed = unsquashfs_list(&unsquashfs, &image).unwrap();
        // Every /usr and /opt path of the rootfs, the enable links beside the units, the
        // extension-release; nothing from /etc or /var.
        for f in r.manifest["files"].as_array().unwrap() {
            let p = f["path"].as_str().unwrap();
            let want = p.starts_with("/usr/") || p.starts_with("/opt/");
            assert_eq!(
                listed.iter().any(|l| l == p),
                want,
                "{p} in the image: {listed:?}"
            );
        }
        // Every enable link of the overlay (/etc/systemd/system/T.wants/U) is beside its unit.
        let enabled: Vec<String> = r.manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["path"].as_str())
            .filter_map(|p| p.strip_prefix("/etc/systemd/system/"))
            .filter(|p| p.contains(".wants/"))
            .map(|p| format!("/usr/local/lib/systemd/system/{p}"))
            .collect();
        let want_min = if shipped == "containerd" { 1 } else { 5 };
        assert!(enabled.len() >= want_min, "{enabled:?}");
        for w in &enabled {
            assert!(
                listed.iter().any(|l| l == w),
                "{w} not in the image: {listed:?}"
            );
        }
        release_ok(&unsquashfs, &image, name, "x86-64").unwrap();

        // Negative controls: a truncated image, and one whose extension-release names arm64.
        // squashfs keeps its tables at the end of the used bytes (superblock offset 40).
        let used = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
        assert!(used <= bytes.len(), "bytes_used {used} > {}", bytes.len());
        let cut = r.ws.path().join("cut.raw");
        std::fs::write(&cut, &bytes[..used / 2]).unwrap();
        assert!(
            unsquashfs_list(&unsquashfs, &cut).is_err(),
            "a truncated image was listed"
        );
        if let Some(mksquashfs) = tool("BUILDER_MKSQUASHFS", "mksquashfs") {
            let tree = r.ws.path().join("tree");
            let (ok, out) = run_text(Command::new(&unsquashfs).arg("-d").arg(&tree).arg(&image));
            assert!(ok, "{out}");
            let rel = tree.join(format!(
                "usr/lib/extension-release.d/extension-release.{name}"
            ));
            std::fs::write(
                &rel,
                read(&rel).replace("ARCHITECTURE=x86-64", "ARCHITECTURE=arm64"),
            )
            .unwrap();
            let wrong = r.ws.path().join(format!("{name}.raw"));
            let (ok, out) = run_text(Command::new(mksquashfs).arg(&tree).arg(&wrong).args([
                "-noappend",
                "-all-root",
                "-quiet",
                "-no-progress",
            ]));
            assert!(ok, "{out}");
            let e = release_ok(&unsquashfs, &wrong, name, "x86-64").unwrap_err();
            assert!(e.contains("ARCHITECTURE is Some(\"arm64\")"), "{e}");
            if which("systemd-dissect").is_some() {
                // systemd-dissect shows the arch but does not judge it (systemd-sysext does:
                // the VM test in ci/e2e/run.sh proves the refusal); the check above must.
                assert!(dissect_ok(&wrong, "x86-64").is_err());
            }
        }
        if which("systemd-dissect").is_some() {
            dissect_ok(&image, "x86-64").unwrap();
            assert!(
                dissect_ok(&cut, "x86-64").is_err(),
                "a truncated image was dissected"
            );
        } else {
            skip_or_fail("systemd-dissect not found (Debian: systemd-container)");
        }
    }

    if let Some(validate) = ignition_validate() {
        let (ok, out) = run_text(Command::new(&validate).arg(r.dir.join("ignition.json")));
        assert!(ok, "ignition-validate refused ignition.json: {out}");
        // The control: a relative path, which Ignition refuses.
        let bad = r.ws.path().join("bad.json");
        std::fs::write(
            &bad,
            json.replace("\"/etc/crictl.yaml\"", "\"etc/crictl.yaml\""),
        )
        .unwrap();
        let (ok, out) = run_text(Command::new(&validate).arg(&bad));
        assert!(!ok && out.contains("path not absolute"), "{out}");
    }

    if let Some(butane) = butane() {
        let json = r.dir.join("ignition.json");
        butane_matches(&butane, &r.dir.join("butane.yaml"), &json).unwrap();
        // The control: one file's mode changed in butane.yaml.
        let drifted = r.ws.path().join("drifted.yaml");
        let yaml = read(r.dir.join("butane.yaml"));
        assert!(yaml.contains("mode: 0644"), "{yaml}");
        std::fs::write(&drifted, yaml.replacen("mode: 0644", "mode: 0600", 1)).unwrap();
        let e = butane_matches(&butane, &drifted, &json).unwrap_err();
        assert!(e.contains("storage differs"), "{e}");
    }
}

#[test]
fn containerd_sysext_and_ignition_pass_the_real_tools() {
    check_profile("containerd");
}

#[test]
fn cri_dockerd_sysext_and_ignition_pass_the_real_tools() {
    check_profile("cri-dockerd");
}

#[test]
fn embedded_image_and_flag_errors() {
    // The loopback artifacts are small, so the image fits into ignition.json as a data URL
    // (the unit tests check the error for one that does not fit).
    let (_up, ws) = node_setup();
    assert_ok(&ws.render("node", &["--format", "sysext"]));
    let dir = ws.out().join("node/amd64");
    let json = read(dir.join("ignition.json"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let image = v["storage"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .starts_with("/var/lib/extensions/")
        })
        .unwrap();
    assert!(
        image["contents"]["source"]
            .as_str()
            .unwrap()
            .starts_with("data:;base64,aHNxc"),
        "{image}"
    );
    if let Some(validate) = ignition_validate() {
        let (ok, out) = run_text(Command::new(&validate).arg(dir.join("ignition.json")));
        assert!(ok, "{out}");
    }
    if let Some(butane) = butane() {
        let (yaml, json) = (dir.join("butane.yaml"), dir.join("ignition.json"));
        butane_matches(&butane, &yaml, &json).unwrap();
    }
    let out = ws.render("node", &["--sysext-url", "https://h/x.raw"]);
    assert!(
        stderr(&out).contains("add --format sysext"),
        "{}",
        stderr(&out)
    );
    let out = ws.render(
        "node",
        &["--format", "sysext", "--sysext-url", "file:///{arch}/x.raw"],
    );
    assert!(
        stderr(&out).contains("cannot read file://"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_image_that_cannot_fit_embedded_is_refused_before_any_download() {
    // runc 2 MB: its image could never fit the AWS limit as a data URL. The sizes come from
    // HEAD requests; nothing is downloaded and nothing is written.
    let (mut up, ws) = node_setup();
    let big: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    up.serve("runc", "amd64", "/runc/v1.4.3/runc.amd64", big);
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    let out = ws.render(
        "node",
        &["--format", "sysext", "--cloud", "aws", "--arch", "amd64"],
    );
    let e = stderr(&out);
    assert!(!out.status.success(), "{e}");
    assert!(
        e.contains("profile node (amd64): without --sysext-url"),
        "{e}"
    );
    assert!(
        e.contains("runc 1.4.3 2.0 MB") && e.contains("Give --sysext-url"),
        "{e}"
    );
    assert_eq!(up.server.hits("/runc/v1.4.3/runc.amd64"), 0, "downloaded");
    assert_eq!(up.server.hits("HEAD /runc/v1.4.3/runc.amd64"), 1);
    assert!(!ws.out().join("node").exists(), "{e}");
    // Negative control: with --sysext-url the same render goes on and builds.
    assert_ok(&ws.render(
        "node",
        &[
            "--format",
            "sysext",
            "--cloud",
            "aws",
            "--arch",
            "amd64",
            "--sysext-url",
            "https://h/{arch}.raw",
        ],
    ));
}

#[test]
fn a_runtime_unit_under_etc_is_refused_naming_the_rule_before_any_download() {
    let (up, ws) = node_setup();
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace("/usr/local/lib/systemd/system/", "/etc/systemd/system/");
    assert!(text.contains("/etc/systemd/system/"), "{text}");
    ws.write_profile("node", &text);
    let out = ws.render("node", &["--format", "sysext"]);
    let e = stderr(&out);
    assert!(!out.status.success(), "{e}");
    assert!(
        e.contains("node.toml:") && e.contains("is installed at /etc/systemd/system/"),
        "{e}"
    );
    assert!(
        e.contains("`to` to \"/usr/local/lib/systemd/system/"),
        "{e}"
    );
    assert_eq!(up.server.total_hits(), 0, "{e}");
    // The overlay alone does not care where the unit is.
    assert_ok(&ws.render("node", &[]));
}
