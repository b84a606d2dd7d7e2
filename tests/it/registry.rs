//! `builder push`, `builder pull` and `render --overlay-url oci://` against the real CNCF
//! Distribution registry v3.1.2 on loopback (TLS with a test CA; htpasswd or token auth), with
//! the real oras v1.3.6 and crane v0.22.1 reading what builder pushed: `oras manifest fetch`,
//! `oras discover` (the SBOMs, provenance and signature as referrers), `oras pull` (byte-identical
//! files), `crane validate`. The negative controls: a blob tampered with in the registry's
//! storage is refused by `builder pull`, by crane and oras, and by the fetch-mode node script.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::registry::{Auth, TestRegistry, PASSWORD, USER};
use crate::common::*;

fn oras() -> Option<PathBuf> {
    consumer("oras (BUILDER_ORAS)", env_path("BUILDER_ORAS"))
}

fn crane() -> Option<PathBuf> {
    consumer("crane (BUILDER_CRANE)", env_path("BUILDER_CRANE"))
}

/// A workspace with both shipped profiles on loopback, each rendered for amd64: containerd
/// (gzip, signed with a minisign key) and cri-dockerd (zstd). Returns the public key.
fn rendered(up: &Upstream, ws: &Workspace) -> PathBuf {
    ws.write_profile(
        "containerd-loopback",
        &shipped_on_loopback(
            "containerd",
            &up.containerd_profile("node", "2.2.7", "1.36"),
            &[("containerd", "2.3.4")],
        ),
    );
    ws.write_profile(
        "cri-dockerd-loopback",
        &shipped_on_loopback("cri-dockerd", &up.cri_dockerd_profile("dock", "1.36"), &[]),
    );
    let (sk, pk) = minisign_keys(ws.path(), "release", None);
    assert_ok(&ws.render("containerd-loopback", &["--sign-key", sk.to_str().unwrap()]));
    assert_ok(&ws.render("cri-dockerd-loopback", &["--compression", "zstd"]));
    pk
}

/// A registry, and profile `node` rendered for amd64 into dist/node/amd64.
fn node_rendered(auth: Auth) -> Option<(TestRegistry, Upstream, Workspace)> {
    let reg = TestRegistry::start(auth)?;
    let (up, ws) = node_setup();
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    Some((reg, up, ws))
}

/// Two arch folders hold the same `names` and the same rootfs/.
fn same_output(a: &Path, b: &Path, names: &[String]) {
    for n in names {
        let (x, y) = (
            std::fs::read(a.join(n)).unwrap(),
            std::fs::read(b.join(n)).unwrap(),
        );
        assert!(
            x == y,
            "{n} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
    assert_eq!(
        files_under(&a.join("rootfs")),
        files_under(&b.join("rootfs"))
    );
}

/// `builder ARGS` with the registry's CA and credentials (docker config.json).
fn run(ws: &Workspace, reg: &TestRegistry, args: &[&str]) -> Output {
    ws.run_env(
        args,
        &[
            ("DOCKER_CONFIG", reg.docker_config.to_str().unwrap()),
            ("BUILDER_REGISTRY_CA", reg.ca.to_str().unwrap()),
        ],
    )
}

/// oras with the CA and the credentials.
fn oras_cmd(oras: &Path, reg: &TestRegistry, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(oras);
    cmd.args(args)
        .arg("--ca-file")
        .arg(&reg.ca)
        .arg("--registry-config")
        .arg(reg.docker_config.join("config.json"));
    run_text(&mut cmd)
}

/// crane with the CA (Go reads SSL_CERT_FILE) and the credentials.
fn crane_cmd(crane: &Path, reg: &TestRegistry, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(crane);
    cmd.args(args)
        .env("SSL_CERT_FILE", &reg.ca)
        .env("DOCKER_CONFIG", &reg.docker_config);
    run_text(&mut cmd)
}

/// The digest `builder push` printed, after checking its two lines.
fn pushed_digest(o: &Output, host: &str, repo: &str) -> String {
    assert_ok(o);
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let digest = lines[0]
        .strip_prefix("sha256:")
        .expect("a digest line")
        .to_string();
    assert_eq!(digest.len(), 64);
    assert_eq!(
        lines[1],
        format!("--overlay-url oci://{host}/{repo}@sha256:{digest}")
    );
    assert!(!out.contains(PASSWORD) && !stderr(o).contains(PASSWORD));
    digest
}

fn json(text: &str) -> serde_json::Value {
    let start = text
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {text}"));
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn pushed_outputs_read_back_with_oras_crane_and_pull() {
    let Some(reg) = TestRegistry::start(Auth::Basic) else {
        return;
    };
    let (Some(oras), Some(crane)) = (oras(), crane()) else {
        return;
    };
    let up = Upstream::start();
    let ws = Workspace::new();
    let pk = rendered(&up, &ws);
    for (profile, overlay, signed) in [
        ("containerd-loopback", "overlay.tar.gz", true),
        ("cri-dockerd-loopback", "overlay.tar.zst", false),
    ] {
        let dist = ws.out().join(profile).join("amd64");
        let repo = format!("nodes/{profile}");
        let reference = format!("{}/{repo}:1.36", reg.host);
        let dir = ws.out().join(profile);
        let first = run(&ws, &reg, &["push", dir.to_str().unwrap(), &reference]);
        let digest = pushed_digest(&first, &reg.host, &repo);
        // The same output pushes to the same digest, and nothing is sent twice.
        let again = run(&ws, &reg, &["push", dir.to_str().unwrap(), &reference]);
        assert_eq!(pushed_digest(&again, &reg.host, &repo), digest);
        assert!(
            stderr(&again).contains(": 0 blobs uploaded"),
            "{}",
            stderr(&again)
        );

        // oras: the manifest as builder documents it.
        let (ok, text) = oras_cmd(&oras, &reg, &["manifest", "fetch", &reference]);
        assert!(ok, "oras manifest fetch: {text}");
        let m = json(&text);
        assert_eq!(m["artifactType"], "application/vnd.builder.node.v1", "{m}");
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.builder.manifest.v1+json"
        );
        let titles: BTreeSet<&str> = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["annotations"]["org.opencontainers.image.title"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        let sums = format!("{overlay}.sha256");
        assert_eq!(
            titles,
            BTreeSet::from([overlay, sums.as_str(), "SHA256SUMS"])
        );
        assert_eq!(
            sha256_hex(text.trim().as_bytes()),
            digest,
            "oras fetched other bytes"
        );

        // oras discover: the SBOMs, the provenance and (signed) the signature as referrers.
        let (ok, text) = oras_cmd(&oras, &reg, &["discover", "--format", "json", &reference]);
        assert!(ok, "oras discover: {text}");
        let d = json(&text);
        let kinds: BTreeSet<&str> = d["referrers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["artifactType"].as_str().unwrap())
            .collect();
        let mut want = BTreeSet::from([
            "application/spdx+json",
            "application/vnd.cyclonedx+json",
            "application/vnd.in-toto+json",
        ]);
        if signed {
            want.insert("application/vnd.builder.signature.v1");
        }
        assert_eq!(kinds, want, "{text}");

        // oras pull: the node and each referrer give back the rendered files, byte for byte.
        let pulled = tempfile::tempdir().unwrap();
        let o = pulled.path().to_str().unwrap();
        let (ok, text) = oras_cmd(&oras, &reg, &["pull", "-o", o, &reference]);
        assert!(ok, "oras pull: {text}");
        for r in d["referrers"].as_array().unwrap() {
            let at = format!("{}/{repo}@{}", reg.host, r["digest"].as_str().unwrap());
            let (ok, text) = oras_cmd(&oras, &reg, &["pull", "-o", o, &at]);
            assert!(ok, "oras pull {at}: {text}");
        }
        let mut names: Vec<String> = std::fs::read_dir(pulled.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected = vec![
            overlay.to_string(),
            sums.clone(),
            "SHA256SUMS".into(),
            "manifest.json".into(),
        ];
        expected.extend(
            ["provenance.intoto.json", "sbom.cdx.json", "sbom.spdx.json"].map(String::from),
        );
        if signed {
            expected.push("SHA256SUMS.minisig".into());
        }
        expected.sort();
        assert_eq!(names, expected);
        for n in &names {
            assert_eq!(
                std::fs::read(pulled.path().join(n)).unwrap(),
                std::fs::read(dist.join(n)).unwrap(),
                "{profile}: oras pull gave another {n}"
            );
        }

        // crane validate: the manifest, config and every layer's digest and size.
        let (ok, text) = crane_cmd(&crane, &reg, &["validate", "--remote", &reference]);
        assert!(ok && text.contains("PASS"), "crane validate: {text}");

        // builder pull, by digest, with the signature required where there is one.
        let at = format!("{}/{repo}@sha256:{digest}", reg.host);
        let mut args = vec!["pull", at.as_str(), "pulled"];
        if signed {
            args.extend(["--key", pk.to_str().unwrap()]);
        }
        let o = run(&ws, &reg, &args);
        assert_ok(&o);
        assert!(
            stdout(&o).contains("verified: every check holds"),
            "{}",
            stdout(&o)
        );
        let back = ws.path().join("pulled").join(profile).join("amd64");
        same_output(&back, &dist, &names);
        let v = ws.run(&["verify", back.to_str().unwrap()]);
        assert_ok(&v);
        assert!(stdout(&v).contains("user-data absent"), "{}", stdout(&v));
    }
}

#[test]
fn both_arches_push_as_an_index_and_pull_one_arch() {
    let Some(reg) = TestRegistry::start(Auth::Basic) else {
        return;
    };
    let Some(crane) = crane() else {
        return;
    };
    let (_up, ws) = node_setup();
    assert_ok(&ws.render("node", &[]));
    let reference = format!("{}/nodes/node:multi", reg.host);
    let o = run(
        &ws,
        &reg,
        &["push", ws.out().join("node").to_str().unwrap(), &reference],
    );
    let digest = pushed_digest(&o, &reg.host, "nodes/node");
    let (ok, text) = crane_cmd(&crane, &reg, &["manifest", &reference]);
    assert!(ok, "{text}");
    let index = json(&text);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let arches: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"]);
    let (ok, text) = crane_cmd(&crane, &reg, &["validate", "--remote", &reference]);
    assert!(
        ok && text.contains("PASS"),
        "crane validate of the index: {text}"
    );
    let at = format!("{}/nodes/node@sha256:{digest}", reg.host);
    assert_ok(&run(&ws, &reg, &["pull", &at, "one", "--arch", "arm64"]));
    assert!(ws.path().join("one/node/arm64/overlay.tar.gz").is_file());
    assert!(!ws.path().join("one/node/amd64").exists());
}

/// `builder render --profile node --arch amd64 --out OUT --overlay-url URL EXTRA...` with the
/// registry's CA and credentials.
fn render_fetch(
    ws: &Workspace,
    reg: &TestRegistry,
    out: &str,
    url: &str,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "render",
        "--profile",
        "node",
        "--arch",
        "amd64",
        "--out",
        out,
        "--overlay-url",
        url,
    ];
    args.extend_from_slice(extra);
    run(ws, reg, &args)
}

/// The fetch-mode script from user-data: the lines under its `content: |`.
fn fetch_script(user_data: &Path) -> String {
    let text = read(user_data);
    let start = text
        .find("- path: '/usr/local/sbin/builder-fetch-overlay'")
        .expect("the fetch script in user-data");
    let body = &text[start..];
    let body = &body[body.find("content: |\n").unwrap() + "content: |\n".len()..];
    let mut out = String::new();
    for line in body.lines() {
        if !line.is_empty() && !line.starts_with("    ") {
            break;
        }
        out.push_str(line.strip_prefix("    ").unwrap_or(""));
        out.push('\n');
    }
    out
}

/// Runs the fetch script into a fresh root; returns (success, messages, root).
fn run_fetch(
    script: &str,
    reg: &TestRegistry,
    auth: Option<&Path>,
) -> (bool, String, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(".fetch.sh");
    std::fs::write(&path, script).unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg(&path)
        .env("BUILDER_ROOT", root.path())
        .env("BUILDER_CONSOLE", "")
        .env("BUILDER_FETCH_ATTEMPTS", "1")
        .env("CURL_CA_BUNDLE", &reg.ca)
        .env(
            "BUILDER_REGISTRY_AUTH",
            auth.map_or_else(|| root.path().join("none"), Path::to_path_buf),
        );
    let (ok, text) = run_text(&mut cmd);
    std::fs::remove_file(&path).unwrap();
    (ok, text, root)
}

#[test]
fn a_node_fetches_its_overlay_from_the_registry_and_refuses_a_tampered_blob() {
    let (Some(crane), Some(oras)) = (crane(), oras()) else {
        return;
    };
    let Some((reg, _up, ws)) = node_rendered(Auth::Basic) else {
        return;
    };
    let reference = format!("{}/nodes/node:fetch", reg.host);
    let o = run(
        &ws,
        &reg,
        &["push", ws.out().join("node").to_str().unwrap(), &reference],
    );
    let digest = pushed_digest(&o, &reg.host, "nodes/node");
    let url = format!("oci://{}/nodes/node@sha256:{digest}", reg.host);
    // A mirror that is down comes first: the node goes on to the registry.
    let mirror = format!("https://{}", dead_addr());
    assert_ok(&render_fetch(
        &ws,
        &reg,
        "fetch",
        &url,
        &["--overlay-mirror", &mirror],
    ));
    let dist = ws.out().join("node/amd64");
    let script = fetch_script(&ws.path().join("fetch/node/amd64/user-data"));
    assert!(
        script.contains(&format!("ENDPOINTS='{mirror} https://{}'", reg.host)),
        "{script}"
    );
    // The credentials the image carries: one user:password line.
    let auth = ws.path().join("registry-auth");
    std::fs::write(&auth, format!("{USER}:{PASSWORD}\n")).unwrap();
    let (ok, text, root) = run_fetch(&script, &reg, Some(&auth));
    assert!(ok, "the node script: {text}");
    assert!(!text.contains(PASSWORD));
    assert_eq!(files_under(root.path()), files_under(&dist.join("rootfs")));
    // Without the credentials the registry refuses, and the root stays empty.
    let (ok, text, root) = run_fetch(&script, &reg, None);
    assert!(!ok && text.contains("asks for credentials"), "{text}");
    assert!(files_under(root.path()).is_empty());

    // A digest the registry does not hold for this render is refused at render time.
    let other = format!("oci://{}/nodes/node@sha256:{}", reg.host, "0".repeat(64));
    let o = render_fetch(&ws, &reg, "x", &other, &[]);
    assert!(
        !o.status.success() && stderr(&o).contains("no such manifest"),
        "{}",
        stderr(&o)
    );
    // Offline, the render asks no registry: it says so and pins the overlay it made.
    let o = render_fetch(&ws, &reg, "off", &other, &["--offline"]);
    assert_ok(&o);
    assert!(stderr(&o).contains("does not check"), "{}", stderr(&o));
    let overlay = sha256_hex(&std::fs::read(dist.join("overlay.tar.gz")).unwrap());
    let offline = fetch_script(&ws.path().join("off/node/amd64/user-data"));
    assert!(offline.contains(&overlay), "{offline}");
    let tag = format!("oci://{}/nodes/node:fetch", reg.host);
    let o = render_fetch(&ws, &reg, "x", &tag, &[]);
    assert!(
        !o.status.success() && stderr(&o).contains("not pinned"),
        "{}",
        stderr(&o)
    );

    // Tamper with the overlay blob in the registry's storage (same size, one byte flipped).
    let blob = reg.blob_file(&overlay);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let (ok, text, root) = run_fetch(&script, &reg, Some(&auth));
    assert!(
        !ok && text.contains("checksum mismatch"),
        "the node took a tampered overlay: {text}"
    );
    assert!(
        files_under(root.path()).is_empty(),
        "a refused overlay left files"
    );
    let at = format!("{}/nodes/node@sha256:{digest}", reg.host);
    let o = run(&ws, &reg, &["pull", &at, "tampered"]);
    assert!(!o.status.success(), "pull took a tampered blob");
    assert!(stderr(&o).contains("corrupt or tampered"), "{}", stderr(&o));
    assert!(
        !ws.path().join("tampered/node").exists(),
        "a refused pull left its folder"
    );
    let (ok, text) = crane_cmd(&crane, &reg, &["validate", "--remote", &at]);
    assert!(
        !ok && text.contains("FAIL") && text.contains("checksum"),
        "crane validated a tampered blob: {text}"
    );
    let out = tempfile::tempdir().unwrap();
    let (ok, text) = oras_cmd(
        &oras,
        &reg,
        &["pull", "-o", out.path().to_str().unwrap(), &at],
    );
    assert!(!ok, "oras pulled a tampered blob: {text}");
}

#[test]
fn bearer_tokens_for_push_and_anonymous_pulls() {
    let Some((reg, _up, ws)) = node_rendered(Auth::Token) else {
        return;
    };
    let dir = ws.out().join("node");
    let reference = format!("{}/nodes/node:token", reg.host);
    let ca = reg.ca.to_str().unwrap();
    let empty = ws.path().join("no-docker");
    std::fs::create_dir(&empty).unwrap();
    let env_creds = [
        ("BUILDER_REGISTRY_USERNAME", USER),
        ("BUILDER_REGISTRY_PASSWORD", PASSWORD),
        ("BUILDER_REGISTRY_CA", ca),
        ("DOCKER_CONFIG", empty.to_str().unwrap()),
    ];
    // Anonymous: the token grants pull only, so the registry refuses the push.
    let o = ws.run_env(
        &["push", dir.to_str().unwrap(), &reference],
        &env_creds[2..],
    );
    assert!(!o.status.success(), "an anonymous push went through");
    assert!(
        stderr(&o).contains("refused anonymous access to push"),
        "{}",
        stderr(&o)
    );
    let o = ws.run_env(&["push", dir.to_str().unwrap(), &reference], &env_creds);
    let digest = pushed_digest(&o, &reg.host, "nodes/node");
    assert!(
        reg.token_log()
            .contains(&format!("{USER} nodes/node:pull,push")),
        "{}",
        reg.token_log()
    );
    // Nodes and pulls go anonymous: a pull token.
    let url = format!("oci://{}/nodes/node@sha256:{digest}", reg.host);
    assert_ok(&ws.run_env(
        &[
            "render",
            "--profile",
            "node",
            "--arch",
            "amd64",
            "--out",
            "fetch",
            "--overlay-url",
            &url,
        ],
        &env_creds[2..],
    ));
    let script = fetch_script(&ws.path().join("fetch/node/amd64/user-data"));
    let (ok, text, root) = run_fetch(&script, &reg, None);
    assert!(ok, "anonymous node fetch with a token: {text}");
    assert_eq!(
        files_under(root.path()),
        files_under(&ws.out().join("node/amd64/rootfs"))
    );
    assert!(
        reg.token_log().contains("anonymous nodes/node:pull"),
        "{}",
        reg.token_log()
    );
    let at = format!("{}/nodes/node@sha256:{digest}", reg.host);
    assert_ok(&ws.run_env(&["pull", &at, "back"], &env_creds[2..]));
    // Wrong credentials: the token service says no, and the password is not printed.
    let wrong = [
        ("BUILDER_REGISTRY_USERNAME", USER),
        ("BUILDER_REGISTRY_PASSWORD", "wrong-pw-3f9"),
        env_creds[2],
        env_creds[3],
    ];
    let o = ws.run_env(&["push", dir.to_str().unwrap(), &reference], &wrong);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("refused a token")
            && e.contains("BUILDER_REGISTRY_USERNAME")
            && !e.contains("wrong-pw-3f9"),
        "{e}"
    );
}

#[test]
fn registry_errors_say_what_to_do() {
    let Some((reg, _up, ws)) = node_rendered(Auth::Basic) else {
        return;
    };
    let dir = ws.out().join("node");
    let dir = dir.to_str().unwrap();
    let reference = format!("{}/nodes/node:e", reg.host);
    let ca = reg.ca.to_str().unwrap();
    let empty = ws.path().join("no-docker");
    std::fs::create_dir(&empty).unwrap();
    // No credentials anywhere.
    let o = ws.run_env(
        &["push", dir, &reference],
        &[
            ("BUILDER_REGISTRY_CA", ca),
            ("DOCKER_CONFIG", empty.to_str().unwrap()),
        ],
    );
    assert!(
        stderr(&o).contains("asks for credentials"),
        "{}",
        stderr(&o)
    );
    // A wrong password in an auth file: named by its file, never printed.
    let auth = ws.path().join("auth.json");
    let b64 = {
        use base64ct::Encoding;
        base64ct::Base64::encode_string(format!("{USER}:wrong-pw-77").as_bytes())
    };
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{}":{{"auth":"{b64}"}}}}}}"#, reg.host),
    )
    .unwrap();
    let o = ws.run_env(
        &["push", dir, &reference],
        &[
            ("BUILDER_REGISTRY_CA", ca),
            ("REGISTRY_AUTH_FILE", auth.to_str().unwrap()),
        ],
    );
    let e = stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("refused the credentials from")
            && e.contains("auth.json"),
        "{e}"
    );
    assert!(!e.contains("wrong-pw-77"));
    // No CA: TLS fails, and says which registry.
    let o = ws.run_env(
        &["push", dir, &reference],
        &[("DOCKER_CONFIG", reg.docker_config.to_str().unwrap())],
    );
    assert!(
        !o.status.success()
            && stderr(&o).contains(&format!("cannot reach the registry {}", reg.host)),
        "{}",
        stderr(&o)
    );
    // Bad references and folders.
    let o = run(&ws, &reg, &["push", dir, "nodes/node:1"]);
    assert!(
        !o.status.success() && stderr(&o).contains("REGISTRY/REPOSITORY"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &ws,
        &reg,
        &["push", ws.path().to_str().unwrap(), &reference],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("no output here"),
        "{}",
        stderr(&o)
    );
    // A folder that does not verify is not pushed.
    std::fs::write(ws.out().join("node/amd64/rootfs/etc/extra"), "x").unwrap();
    let o = run(&ws, &reg, &["push", dir, &reference]);
    assert!(
        !o.status.success() && stderr(&o).contains("does not verify"),
        "{}",
        stderr(&o)
    );
    // Pulling what is not there.
    let o = run(
        &ws,
        &reg,
        &["pull", &format!("{}/nodes/none:1", reg.host), "x"],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("has no manifest"),
        "{}",
        stderr(&o)
    );
    assert!(reg.log().len() < 1_000_000);
}

/// `render --output-cache-url`: a runner that builds pushes its output under the input digest;
/// another runner (its own download and output caches) takes it from the registry without a
/// download, byte-identical; a tampered entry is refused (a warning) and the arch is built.
#[test]
fn a_second_runner_takes_its_output_from_the_registry_cache() {
    let Some((reg, up, ws)) = node_rendered(Auth::Basic) else {
        return;
    };
    let url = format!("oci://{}/cache/node", reg.host);
    let profile = read(ws.path().join("profiles/node.toml"));
    let runner = |out: &str| {
        let w = Workspace::new();
        w.write_profile("node", &profile);
        let o = run(
            &w,
            &reg,
            &[
                "render",
                "--profile",
                "node",
                "--arch",
                "amd64",
                "--out",
                out,
                "--output-cache-url",
                &url,
            ],
        );
        (w, o)
    };
    let (first, o) = runner("one");
    assert_ok(&o);
    assert!(!stderr(&o).contains("reused"), "{}", stderr(&o));
    let built = first.path().join("one/node/amd64");
    let m = read_json(built.join("manifest.json"));
    let tag = format!(
        "{}/cache/node:in-sha256-{}",
        reg.host,
        m["input_sha256"].as_str().unwrap()
    );
    assert_ok(&run(&first, &reg, &["pull", &tag, "pulled"]));

    let hits = up.server.total_hits();
    let (second, o) = runner("two");
    assert_ok(&o);
    assert!(
        stderr(&o).contains("reused   amd64: overlay.tar.gz from the registry cache"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        up.server.total_hits(),
        hits,
        "a registry cache hit downloaded artifacts"
    );
    let taken = second.path().join("two/node/amd64");
    let names = [
        "SHA256SUMS",
        "overlay.tar.gz",
        "manifest.json",
        "user-data",
        "sbom.spdx.json",
    ];
    same_output(&taken, &built, &names.map(String::from));
    assert_ok(&second.run(&["verify", taken.to_str().unwrap()]));

    // The entry's overlay tampered with in the registry: refused, and the arch is built.
    let overlay = sha256_hex(&std::fs::read(built.join("overlay.tar.gz")).unwrap());
    let blob = reg.blob_file(&overlay);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&blob, bytes).unwrap();
    let (third, o) = runner("three");
    assert_ok(&o);
    let e = stderr(&o);
    assert!(
        e.contains("registry cache entry")
            && e.contains("was not used")
            && e.contains("building it"),
        "{e}"
    );
    assert!(
        up.server.total_hits() > hits,
        "the refused entry's arch was not built"
    );
    let rebuilt = third.path().join("three/node/amd64");
    assert_eq!(
        read(rebuilt.join("SHA256SUMS")),
        read(built.join("SHA256SUMS"))
    );

    // Only a repository: builder names the tags.
    let o = run(
        &ws,
        &reg,
        &[
            "render",
            "--profile",
            "node",
            "--out",
            "x",
            "--output-cache-url",
            &format!("{url}:v1"),
        ],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("name the repository only"),
        "{}",
        stderr(&o)
    );
}
