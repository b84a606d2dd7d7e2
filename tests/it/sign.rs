//! `render --sign-key`: SHA256SUMS signed with keys made by the real `minisign -G` and
//! `ssh-keygen`, checked by the real `minisign -V` and `ssh-keygen -Y verify`, and
//! `builder::outputs::sign::PublicKey` checked against signatures those tools made. Each check has a
//! negative control (tampered sums, another key, another namespace) so it can fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use builder::outputs::sign::PublicKey;

use crate::common::*;

const PASS: &str = "correct horse battery staple";

/// `builder render --profile node --arch amd64 --sign-key KEY`, with `env` on top.
fn render_signed(
    ws: &Workspace,
    key: &Path,
    env: &[(&str, &str)],
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["--arch", "amd64", "--sign-key", key.to_str().unwrap()];
    args.extend_from_slice(extra);
    ws.render_env("node", &args, env)
}

fn amd64(ws: &Workspace) -> PathBuf {
    ws.out().join("node").join("amd64")
}

/// SHA256SUMS lists the four outputs and not the signature that signs it.
fn assert_not_listed(dir: &Path, sig: &str) {
    let sums = read(dir.join("SHA256SUMS"));
    assert!(sums.contains("  overlay.tar.gz\n"), "{sums}");
    assert!(!sums.contains(sig), "{sums}");
}

/// `minisign -Vm FILE -x SIG -p PUB`.
fn minisign_verify(file: &Path, sig: &Path, public: &Path) -> (bool, String) {
    run_text_with_stdin(
        Command::new("minisign")
            .arg("-Vm")
            .arg(file)
            .arg("-x")
            .arg(sig)
            .arg("-p")
            .arg(public),
        b"",
    )
}

/// `ssh-keygen -Y verify -f allowed_signers -I builder -n NS -s SIG < FILE`, with an
/// allowed_signers file naming `public` as `builder`.
fn ssh_verify(file: &Path, sig: &Path, public: &Path, namespace: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed_signers");
    fs::write(&allowed, format!("builder {}", read(public))).unwrap();
    run_text_with_stdin(
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(&allowed)
            .args(["-I", "builder", "-n", namespace, "-s"])
            .arg(sig),
        &fs::read(file).unwrap(),
    )
}

/// A copy of SHA256SUMS with one digest changed, beside a copy of `sig`.
fn tampered(dir: &Path, sig: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let sums = read(dir.join("SHA256SUMS"));
    let first = sums.chars().next().unwrap();
    let flipped = if first == '0' { '1' } else { '0' };
    let bad = format!("{flipped}{}", &sums[1..]);
    assert_ne!(bad, sums);
    fs::write(t.path().join("SHA256SUMS"), bad).unwrap();
    fs::copy(dir.join(sig), t.path().join(sig)).unwrap();
    let (f, s) = (t.path().join("SHA256SUMS"), t.path().join(sig));
    (t, f, s)
}

/// builder's own `PublicKey` (at `public`) accepts the render's `sig_file` and refuses it for
/// the `bad` sums; a second render gives the same signature bytes.
fn builder_agrees_and_rerenders_the_same(
    ws: &Workspace,
    key: &Path,
    env: &[(&str, &str)],
    public: &Path,
    sig_file: &str,
    bad: &Path,
) {
    let dir = amd64(ws);
    let sig = fs::read(dir.join(sig_file)).unwrap();
    let public = PublicKey::load(public).unwrap();
    assert_eq!(public.signature_file(), sig_file);
    public
        .verify(&fs::read(dir.join("SHA256SUMS")).unwrap(), &sig)
        .unwrap();
    assert!(public.verify(&fs::read(bad).unwrap(), &sig).is_err());
    assert_ok(&render_signed(ws, key, env, &[]));
    assert_eq!(
        fs::read(dir.join(sig_file)).unwrap(),
        sig,
        "{sig_file} changed between two renders with {}",
        key.display()
    );
}

#[test]
fn minisign_keys_sign_what_minisign_verifies() {
    if signing_tool("minisign").is_none() {
        return;
    }
    let (_up, ws) = node_setup();
    let keys = tempfile::tempdir().unwrap();
    let (other_sk, other_pk) = minisign_keys(keys.path(), "other", None);
    drop(other_sk);
    for (name, pass) in [("plain", None), ("encrypted", Some(PASS))] {
        let (sk, pk) = minisign_keys(keys.path(), name, pass);
        let env: Vec<(&str, &str)> = pass
            .map(|p| ("BUILDER_SIGN_PASSPHRASE", p))
            .into_iter()
            .collect();
        let o = render_signed(&ws, &sk, &env, &["--output", "json"]);
        assert_ok(&o);
        assert!(
            stderr(&o).contains("signed   amd64: SHA256SUMS.minisig (minisign key ID "),
            "{}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains(PASS) && !stdout(&o).contains(PASS));
        let dir = amd64(&ws);
        let sig_path = dir.join("SHA256SUMS.minisig");
        let sig = fs::read(&sig_path).unwrap();
        assert_not_listed(&dir, "SHA256SUMS.minisig");
        // The summary names it, with its digest.
        let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let s = &json["arches"][0]["signature"];
        assert_eq!(s["sha256"], sha256_hex(&sig), "{json}");
        assert!(
            s["path"]
                .as_str()
                .unwrap()
                .ends_with("node/amd64/SHA256SUMS.minisig"),
            "{json}"
        );

        let (ok, text) = minisign_verify(&dir.join("SHA256SUMS"), &sig_path, &pk);
        assert!(
            ok,
            "{name}: minisign -V refused builder's signature: {text}"
        );
        // The trusted comment is deterministic: no timestamp.
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            text.contains(&format!(
                "Trusted comment: builder {version} node amd64 SHA256SUMS"
            )),
            "{text}"
        );
        // As the README says it: `minisign -Vm SHA256SUMS -p key.pub` in the folder.
        let (ok, text) = run_text_with_stdin(
            Command::new("minisign")
                .current_dir(&dir)
                .args(["-Vm", "SHA256SUMS", "-p"])
                .arg(&pk),
            b"",
        );
        assert!(ok, "{text}");

        // Negative controls: tampered sums, another key.
        let (_t, bad, bad_sig) = tampered(&dir, "SHA256SUMS.minisig");
        let (ok, text) = minisign_verify(&bad, &bad_sig, &pk);
        assert!(!ok, "{name}: minisign accepted tampered sums: {text}");
        let (ok, text) = minisign_verify(&dir.join("SHA256SUMS"), &sig_path, &other_pk);
        assert!(!ok, "{name}: minisign accepted another key: {text}");

        builder_agrees_and_rerenders_the_same(&ws, &sk, &env, &pk, "SHA256SUMS.minisig", &bad);
    }
}

#[test]
fn ssh_keys_sign_what_ssh_keygen_verifies() {
    if signing_tool("ssh-keygen").is_none() {
        return;
    }
    let (_up, ws) = node_setup();
    let keys = tempfile::tempdir().unwrap();
    let (_, other_pk) = ssh_keys(keys.path(), "other", "");
    for (name, kind, pass, described) in [
        ("plain", "ed25519", "", "ssh-ed25519"),
        ("encrypted", "ed25519", PASS, "ssh-ed25519"),
        ("ecdsa", "ecdsa", PASS, "ecdsa-sha2-nistp256"),
    ] {
        let (sk, pk) = ssh_keys_of(keys.path(), name, kind, pass);
        let env: Vec<(&str, &str)> = if pass.is_empty() {
            vec![]
        } else {
            vec![("BUILDER_SIGN_PASSPHRASE", pass)]
        };
        let o = render_signed(&ws, &sk, &env, &[]);
        assert_ok(&o);
        assert!(
            stderr(&o).contains(&format!(
                "signed   amd64: SHA256SUMS.sig ({described} key SHA256:"
            )),
            "{}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains(PASS));
        let dir = amd64(&ws);
        let sig_path = dir.join("SHA256SUMS.sig");
        let sig = fs::read(&sig_path).unwrap();
        assert!(sig.starts_with(b"-----BEGIN SSH SIGNATURE-----\n"));
        assert_not_listed(&dir, "SHA256SUMS.sig");
        assert!(!dir.join("SHA256SUMS.minisig").exists());

        let (ok, text) = ssh_verify(&dir.join("SHA256SUMS"), &sig_path, &pk, "file");
        assert!(
            ok,
            "{name}: ssh-keygen -Y verify refused builder's signature: {text}"
        );
        assert!(
            text.contains("Good \"file\" signature for builder"),
            "{text}"
        );

        let (_t, bad, bad_sig) = tampered(&dir, "SHA256SUMS.sig");
        let (ok, text) = ssh_verify(&bad, &bad_sig, &pk, "file");
        assert!(!ok, "{name}: ssh-keygen accepted tampered sums: {text}");
        let (ok, text) = ssh_verify(&dir.join("SHA256SUMS"), &sig_path, &other_pk, "file");
        assert!(!ok, "{name}: ssh-keygen accepted another key: {text}");
        let (ok, text) = ssh_verify(&dir.join("SHA256SUMS"), &sig_path, &pk, "other");
        assert!(!ok, "{name}: ssh-keygen accepted another namespace: {text}");

        builder_agrees_and_rerenders_the_same(&ws, &sk, &env, &pk, "SHA256SUMS.sig", &bad);
    }
}

#[test]
fn bad_keys_fail_before_anything_is_downloaded() {
    let (Some(_), Some(_)) = (signing_tool("minisign"), signing_tool("ssh-keygen")) else {
        return;
    };
    let (up, ws) = node_setup();
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let before = snapshot(&ws.out());
    let keys = tempfile::tempdir().unwrap();
    let (mini, _) = minisign_keys(keys.path(), "mini", Some(PASS));
    let (ssh, _) = ssh_keys(keys.path(), "ssh", PASS);
    let (mini_pub, ssh_pub) = (keys.path().join("mini.pub"), keys.path().join("ssh.pub"));
    let (rsa, _) = ssh_keys_of(keys.path(), "rsa", "rsa", "");
    let notes = keys.path().join("notes.txt");
    fs::write(&notes, "not a key\n").unwrap();
    let missing = keys.path().join("missing.key");
    // A fresh cache each time: a render that got past the key would have to download.
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().to_str().unwrap();
    let hits = up.server.total_hits();
    for (key, pass, want) in [
        (
            &mini,
            Some("wrong"),
            "wrong passphrase for the encrypted minisign key",
        ),
        (&mini, None, "BUILDER_SIGN_PASSPHRASE is not set"),
        (&mini, Some(""), "BUILDER_SIGN_PASSPHRASE is not set"),
        (
            &ssh,
            Some("wrong"),
            "wrong passphrase for the encrypted OpenSSH key",
        ),
        (&ssh, None, "BUILDER_SIGN_PASSPHRASE is not set"),
        (&notes, None, "is not a signing key builder knows"),
        (&missing, None, "cannot read the signing key"),
        (&mini_pub, None, "is a minisign public key"),
        (&ssh_pub, None, "is a public key"),
        (&rsa, None, "ssh-rsa keys are not supported for signing"),
    ] {
        let mut env = vec![("BUILDER_CACHE_DIR", cache)];
        if let Some(p) = pass {
            env.push(("BUILDER_SIGN_PASSPHRASE", p));
        }
        let o = render_signed(&ws, key, &env, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", key.display());
        assert!(
            err.contains(want),
            "{}: want {want:?} in {err}",
            key.display()
        );
        assert!(
            err.contains(&key.display().to_string()),
            "the error names the key: {err}"
        );
        assert!(!err.contains("wrong\n") && !err.contains(PASS), "{err}");
        assert_eq!(
            up.server.total_hits(),
            hits,
            "{}: downloaded before checking the key",
            key.display()
        );
        assert_eq!(
            snapshot(&ws.out()),
            before,
            "{}: OUT changed",
            key.display()
        );
    }
    // Control: the right passphrase with the same fresh cache does download, and signs.
    let o = render_signed(
        &ws,
        &ssh,
        &[
            ("BUILDER_CACHE_DIR", cache),
            ("BUILDER_SIGN_PASSPHRASE", PASS),
        ],
        &[],
    );
    assert_ok(&o);
    assert!(up.server.total_hits() > hits);
    assert!(amd64(&ws).join("SHA256SUMS.sig").exists());
}

/// `PublicKey` at `pk` (described as `kind...`) accepts `sig` of `data`, refuses it for
/// changed data, and the key at `other_pk` refuses it with a message containing `other_says`.
fn check_tool_signature(
    pk: &Path,
    other_pk: &Path,
    data: &[u8],
    sig: &[u8],
    kind: &str,
    other_says: &str,
) -> PublicKey {
    let public = PublicKey::load(pk).unwrap();
    assert!(public.describe().starts_with(kind), "{}", public.describe());
    public.verify(data, sig).unwrap();
    let mut tampered = data.to_vec();
    tampered[3] ^= 1;
    assert!(public.verify(&tampered, sig).is_err());
    let e = PublicKey::load(other_pk)
        .unwrap()
        .verify(data, sig)
        .unwrap_err();
    assert!(e.contains(other_says), "{e}");
    public
}

#[test]
fn public_key_checks_what_the_tools_signed() {
    let (Some(_), Some(_)) = (signing_tool("minisign"), signing_tool("ssh-keygen")) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let data = b"0123  overlay.tar.gz\n".to_vec();
    let file = dir.join("SUMS");
    fs::write(&file, &data).unwrap();

    // minisign -Sm FILE: FILE.minisig.
    let (sk, pk) = minisign_keys(dir, "m", None);
    let (_, other_pk) = minisign_keys(dir, "m2", None);
    let (ok, text) = run_text_with_stdin(
        Command::new("minisign")
            .arg("-Sm")
            .arg(&file)
            .arg("-s")
            .arg(&sk),
        b"",
    );
    assert!(ok, "minisign -S: {text}");
    let sig = fs::read(dir.join("SUMS.minisig")).unwrap();
    check_tool_signature(&pk, &other_pk, &data, &sig, "minisign key ID ", "key id");
    // The bare base64 line loads as the same key.
    let bare = dir.join("bare.pub");
    fs::write(&bare, read(&pk).lines().nth(1).unwrap()).unwrap();
    PublicKey::load(&bare).unwrap().verify(&data, &sig).unwrap();

    // ssh-keygen -Y sign -n file FILE: FILE.sig; and one in namespace `other`.
    let (sk, pk) = ssh_keys(dir, "s", "");
    let (_, other_pk) = ssh_keys(dir, "s2", "");
    let sign = |ns: &str| {
        let _ = fs::remove_file(dir.join("SUMS.sig"));
        let (ok, text) = run_text_with_stdin(
            Command::new("ssh-keygen")
                .args(["-Y", "sign", "-f"])
                .arg(&sk)
                .args(["-n", ns])
                .arg(&file),
            b"",
        );
        assert!(ok, "ssh-keygen -Y sign: {text}");
        fs::read(dir.join("SUMS.sig")).unwrap()
    };
    let sig = sign("file");
    let public = check_tool_signature(
        &pk,
        &other_pk,
        &data,
        &sig,
        "ssh-ed25519 key SHA256:",
        "another key",
    );
    let e = public.verify(&data, &sign("other")).unwrap_err();
    assert!(e.contains("namespace \"other\""), "{e}");
    // A minisign signature is not an SSH one, and the other way round.
    assert!(public
        .verify(&data, &fs::read(dir.join("SUMS.minisig")).unwrap())
        .is_err());
}
