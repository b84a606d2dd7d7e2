//! Unit tests of `sign`: keys made in memory (the real tools' keys are in tests/it/sign.rs).

use super::*;

/// An unencrypted minisign secret key file (as `minisign -G -W` writes it) from a fixed seed.
fn minisign_key_text(seed: u8) -> (String, String) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let keynum = [seed, 1, 2, 3, 4, 5, 6, 7];
    let mut raw = b"Ed\0\0B2".to_vec();
    raw.extend_from_slice(&[0u8; 48]);
    raw.extend_from_slice(&keynum);
    raw.extend_from_slice(&key.to_keypair_bytes());
    raw.extend_from_slice(&[0u8; 32]);
    let secret = format!(
        "untrusted comment: minisign encrypted secret key\n{}\n",
        Base64::encode_string(&raw)
    );
    let public = format!(
        "untrusted comment: minisign public key\n{}\n",
        Base64::encode_string(&minisign_public(&keynum, &key))
    );
    (secret, public)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn minisign_signs_deterministically_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = minisign_key_text(7);
    let sk = SigningKey::load(&write(dir.path(), "k.key", &secret), None).unwrap();
    let pk = PublicKey::load(&write(dir.path(), "k.pub", &public)).unwrap();
    let (name, sig) = sk.sign(b"sums\n", "builder 0 p amd64 SHA256SUMS").unwrap();
    assert_eq!(name, SUMS_MINISIG);
    assert_eq!(pk.signature_file(), SUMS_MINISIG);
    assert_eq!(
        sk.sign(b"sums\n", "builder 0 p amd64 SHA256SUMS")
            .unwrap()
            .1,
        sig
    );
    pk.verify(b"sums\n", &sig).unwrap();
    assert!(pk.verify(b"sums!\n", &sig).is_err());
    let text = String::from_utf8(sig.clone()).unwrap();
    assert!(
        text.contains("\ntrusted comment: builder 0 p amd64 SHA256SUMS\n"),
        "{text}"
    );
    // The trusted comment is signed: changing it breaks the signature.
    let forged = text.replace("amd64", "arm64");
    assert!(pk.verify(b"sums\n", forged.as_bytes()).is_err());
    // The bare base64 line is a public key too.
    let bare = public.lines().nth(1).unwrap();
    let pk = PublicKey::load(&write(dir.path(), "bare.pub", bare)).unwrap();
    pk.verify(b"sums\n", &sig).unwrap();
    assert_eq!(pk.describe(), sk.describe());
    // Another key does not accept it.
    let (_, other) = minisign_key_text(8);
    let other = PublicKey::load(&write(dir.path(), "o.pub", &other)).unwrap();
    assert!(other.verify(b"sums\n", &sig).is_err());
    assert!(sk.sign(b"x", "two\nlines").is_err());
}

#[test]
fn refuses_what_is_not_a_secret_key_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = minisign_key_text(7);
    for (name, text, want) in [
        ("empty", "", "is not a signing key"),
        ("notes.txt", "hello\n", "is not a signing key"),
        ("k.pub", public.as_str(), "is a minisign public key"),
        (
            "id.pub",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDv5Fl3bF3Xx3cYVgWbWQ3Qp8dR8mJ4o9m0ZsQ6k2lZp x\n",
            "is a public key",
        ),
        (
            "rsa.pem",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "not in OpenSSH's format",
        ),
        (
            "bad.key",
            &secret.replace("RWQ", "RWX"),
            "is not a signing key",
        ),
        (
            "ssh",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "does not parse",
        ),
    ] {
        let p = write(dir.path(), name, text);
        let e = format!("{:#}", SigningKey::load(&p, None).unwrap_err());
        assert!(e.contains(want), "{name}: {e}");
        assert!(e.contains(&p.display().to_string()), "{name}: {e}");
    }
    let e = format!(
        "{:#}",
        SigningKey::load(&dir.path().join("missing"), None).unwrap_err()
    );
    assert!(e.contains("cannot read the signing key"), "{e}");
    let e = format!(
        "{:#}",
        SigningKey::load(Path::new("/dev/zero"), None).unwrap_err()
    );
    assert!(
        e.contains("expected a key here, found a character device"),
        "{e}"
    );
    let e = format!("{:#}", PublicKey::load(Path::new("/dev/zero")).unwrap_err());
    assert!(e.contains("found a character device"), "{e}");
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'x'; 70_000]).unwrap();
    let e = format!("{:#}", SigningKey::load(&big, None).unwrap_err());
    assert!(e.contains("too large for a key"), "{e}");
}

#[test]
fn public_keys_refuse_secret_keys_and_junk() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, _) = minisign_key_text(7);
    let e = format!(
        "{:#}",
        PublicKey::load(&write(dir.path(), "k.key", &secret)).unwrap_err()
    );
    assert!(e.contains("secret key"), "{e}");
    let e = format!(
        "{:#}",
        PublicKey::load(&write(dir.path(), "j", "junk\n")).unwrap_err()
    );
    assert!(e.contains("is not a public key"), "{e}");
    let debug = format!(
        "{:?}",
        SigningKey::load(&write(dir.path(), "k2", &secret), None).unwrap()
    );
    assert!(debug.starts_with("SigningKey(minisign key ID "), "{debug}");
}
