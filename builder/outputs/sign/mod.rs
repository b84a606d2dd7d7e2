//! Offline signatures of an output's SHA256SUMS: loading a secret key (a minisign secret key
//! or an OpenSSH private key, told apart by content, decrypted with a passphrase given by the
//! caller), signing deterministically, and checking a signature with a public key. It does
//! not read the environment, write files or know about renders (`render` and `verify` do).
//!
//! minisign: the key file is decoded here; an encrypted one is decrypted by the `minisign`
//! crate (its scrypt parameters and checksum), but the signature is made here with
//! `ed25519-dalek`, because the crate mixes random noise into every signature and the same
//! SHA256SUMS must give the same bytes. The format is minisign's prehashed one (`ED`,
//! BLAKE2b-512 of the data) with a trusted comment chosen by the caller: no timestamp.
//! OpenSSH: `ssh-key` decrypts and signs (SSHSIG, namespace `file`, sha512, as `ssh-keygen -Y
//! sign` does); Ed25519 and ECDSA (RFC 6979) signatures are deterministic. RSA keys are
//! refused: ssh-key 0.6 builds RSA private keys with the prime p twice (RustCrypto/SSH#217,
//! fixed only in 0.7, unreleased), so it cannot sign with them.

use std::fmt;
use std::io::Cursor;
use std::path::Path;

use anyhow::Result;
use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

use crate::outputs::layout::{SUMS_MINISIG, SUMS_SSHSIG};
use crate::util::error::Error;
use crate::util::read::{self, Kind};

/// The environment variable that holds a signing key's passphrase (never a flag: flags end up
/// in shell histories and process lists).
pub const PASSPHRASE_ENV: &str = "BUILDER_SIGN_PASSPHRASE";
/// The SSHSIG namespace: `ssh-keygen -Y verify -n file`.
pub const SSH_NAMESPACE: &str = "file";

const PEM_OPENSSH: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const COMMENT_PREFIX: &str = "untrusted comment:";
/// minisign's secret key layout: sig_alg 2, kdf_alg 2, chk_alg 2, salt 32, opslimit 8,
/// memlimit 8, then keynum 8, secret key 64 (seed and public key), checksum 32.
const MINISIGN_SK_LEN: usize = 158;
const KEYNUM_AT: usize = 54;
const SK_AT: usize = 62;

/// What each kind of file should be, for messages.
const EXPECTED_SECRET: &str = "a minisign secret key (as `minisign -G` writes it, \
    starting `untrusted comment:`) or an OpenSSH private key (`ssh-keygen -t ed25519`, \
    starting `-----BEGIN OPENSSH PRIVATE KEY-----`)";
const EXPECTED_PUBLIC: &str = "a minisign public key (`minisign.pub`, or its base64 line \
    `RW...`) or an OpenSSH public key line (`ssh-ed25519 AAAA... comment`)";

/// A loaded, decrypted secret key. Its `Debug` shows the kind and key id only.
pub struct SigningKey {
    inner: Secret,
}

enum Secret {
    Minisign {
        keynum: [u8; 8],
        key: Box<ed25519_dalek::SigningKey>,
    },
    Ssh(Box<ssh_key::PrivateKey>),
}

impl SigningKey {
    /// Reads and decrypts the key at `path`. `passphrase` is needed only for an encrypted key;
    /// an encrypted key without one, a wrong one, an unreadable file or a file that is no
    /// secret key builder knows are errors naming the file and what to do.
    pub fn load(path: &Path, passphrase: Option<&str>) -> Result<SigningKey> {
        let shown = path.display();
        let text = read_small(path).map_err(|e| {
            Error::Input(format!(
                "cannot read the signing key {shown}: {e}; give the path of {EXPECTED_SECRET}"
            ))
        })?;
        let Ok(text) = std::str::from_utf8(&text) else {
            return Err(not_a_key(path, "it is not text").into());
        };
        let inner = if text.trim_start().starts_with(PEM_OPENSSH) {
            load_ssh(path, text, passphrase)?
        } else if text.trim_start().starts_with(COMMENT_PREFIX) {
            load_minisign(path, text, passphrase)?
        } else if text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----") {
            return Err(Error::Input(format!(
                "the signing key {shown} is a PEM private key, not in OpenSSH's format; \
                 convert a copy with `ssh-keygen -p -f COPY` (it rewrites the key in OpenSSH's \
                 format) or make a new one with `ssh-keygen -t ed25519`"
            ))
            .into());
        } else if PublicKey::parse(text).is_ok() {
            return Err(Error::Input(format!(
                "{shown} is a public key; --sign-key takes the secret key (minisign's \
                 `minisign.key`, or the OpenSSH key file without `.pub`)"
            ))
            .into());
        } else {
            return Err(not_a_key(path, "its content is neither").into());
        };
        Ok(SigningKey { inner })
    }

    /// Signs `data`; returns (file name, e.g. "SHA256SUMS.minisig", signature bytes). The
    /// trusted comment goes into a minisign signature (signed too; one line); SSHSIG has none.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<(&'static str, Vec<u8>)> {
        match &self.inner {
            Secret::Minisign { keynum, key } => {
                let text = minisign_signature(keynum, key, data, trusted_comment)?;
                // Checked with the crate's verifier: a format slip fails here, not at a user's.
                let public = minisign::PublicKey::from_bytes(&minisign_public(keynum, key))
                    .map_err(|e| Error::Internal(format!("minisign public key: {e}")))?;
                verify_minisign(&public, data, text.as_bytes())
                    .map_err(|e| Error::Internal(format!("a fresh minisign signature: {e}")))?;
                Ok((SUMS_MINISIG, text.into_bytes()))
            }
            Secret::Ssh(key) => {
                let sig = key
                    .sign(SSH_NAMESPACE, ssh_key::HashAlg::Sha512, data)
                    .map_err(|e| {
                        Error::Input(format!(
                            "cannot sign with the {} key {}: {e}",
                            key.algorithm(),
                            fingerprint(key.public_key())
                        ))
                    })?;
                key.public_key()
                    .verify(SSH_NAMESPACE, data, &sig)
                    .map_err(|e| Error::Internal(format!("a fresh SSH signature: {e}")))?;
                let pem = sig
                    .to_pem(ssh_key::LineEnding::LF)
                    .map_err(|e| Error::Internal(format!("encoding an SSH signature: {e}")))?;
                Ok((SUMS_SSHSIG, pem.into_bytes()))
            }
        }
    }

    /// The signature file [`SigningKey::sign`] names: "SHA256SUMS.minisig" or "SHA256SUMS.sig".
    pub fn signature_file(&self) -> &'static str {
        match &self.inner {
            Secret::Minisign { .. } => SUMS_MINISIG,
            Secret::Ssh(_) => SUMS_SSHSIG,
        }
    }

    /// A short description for messages: kind and key id or fingerprint.
    pub fn describe(&self) -> String {
        match &self.inner {
            Secret::Minisign { keynum, .. } => minisign_id(keynum),
            Secret::Ssh(key) => ssh_describe(key.public_key()),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.describe())
    }
}

/// A key file's bytes, at most [`Kind::Key`]'s bound of them (a key is a few KiB; this
/// refuses a FIFO, a device or a wrong path to a large file instead of reading it).
fn read_small(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    read::read(path, Kind::Key)
        .map(Zeroizing::new)
        .map_err(|e| e.reason())
}

fn not_a_key(path: &Path, why: &str) -> Error {
    Error::Input(format!(
        "{} is not a signing key builder knows ({why}); give {EXPECTED_SECRET}",
        path.display()
    ))
}

fn missing_passphrase(path: &Path, kind: &str) -> Error {
    Error::Input(format!(
        "the signing key {} is an encrypted {kind} key and {PASSPHRASE_ENV} is not set; \
         put its passphrase in that environment variable (there is no flag for it)",
        path.display()
    ))
}

fn wrong_passphrase(path: &Path, kind: &str) -> Error {
    Error::Input(format!(
        "wrong passphrase for the encrypted {kind} key {}: {PASSPHRASE_ENV} does not decrypt \
         it; set it to the passphrase the key was made with",
        path.display()
    ))
}

fn load_ssh(path: &Path, text: &str, passphrase: Option<&str>) -> Result<Secret> {
    let key = ssh_key::PrivateKey::from_openssh(text).map_err(|e| {
        not_a_key(
            path,
            &format!("an OpenSSH private key that does not parse: {e}"),
        )
    })?;
    supported(key.public_key())
        .map_err(|why| Error::Input(format!("the signing key {}: {why}", path.display())))?;
    let key = if key.is_encrypted() {
        let Some(pass) = passphrase else {
            return Err(missing_passphrase(path, "OpenSSH").into());
        };
        key.decrypt(pass)
            .map_err(|_| wrong_passphrase(path, "OpenSSH"))?
    } else {
        key
    };
    Ok(Secret::Ssh(Box::new(key)))
}

fn load_minisign(path: &Path, text: &str, passphrase: Option<&str>) -> Result<Secret> {
    let bad = |why: &str| not_a_key(path, &format!("a minisign file whose key {why}"));
    let line = text.lines().nth(1).map(str::trim).unwrap_or_default();
    let raw = Zeroizing::new(Base64::decode_vec(line).map_err(|_| bad("line is not base64"))?);
    if raw.len() != MINISIGN_SK_LEN {
        // A public key file has the same comment line; its key is 42 bytes.
        if PublicKey::parse(text).is_ok() {
            return Err(Error::Input(format!(
                "{} is a minisign public key; --sign-key takes the secret key (`minisign.key`)",
                path.display()
            ))
            .into());
        }
        return Err(bad(&format!("is {} bytes, not {MINISIGN_SK_LEN}", raw.len())).into());
    }
    if raw[..2] != *b"Ed" {
        return Err(bad("algorithm is not Ed25519").into());
    }
    let plain: Zeroizing<Vec<u8>> = match &raw[2..4] {
        [0, 0] => raw.clone(),
        b"Sc" => {
            let Some(pass) = passphrase else {
                return Err(missing_passphrase(path, "minisign").into());
            };
            // The crate runs scrypt with the key's own parameters and checks the checksum.
            let key = minisign::SecretKey::from_box(
                format!("{COMMENT_PREFIX}\n{line}\n").into(),
                Some(pass.into()),
            )
            .map_err(|e| match e.kind() {
                minisign::ErrorKind::Verify => wrong_passphrase(path, "minisign"),
                _ => bad(&format!("cannot be decrypted: {e}")),
            })?;
            Zeroizing::new(key.to_bytes())
        }
        _ => return Err(bad("is encrypted with an unknown algorithm").into()),
    };
    let mut keynum = [0u8; 8];
    keynum.copy_from_slice(&plain[KEYNUM_AT..SK_AT]);
    let mut pair = Zeroizing::new([0u8; 64]);
    pair.copy_from_slice(&plain[SK_AT..SK_AT + 64]);
    // `minisign -G -W` leaves the checksum zero; the seed must at least give the public half.
    let key = ed25519_dalek::SigningKey::from_keypair_bytes(&pair)
        .map_err(|_| bad("halves do not belong together (a damaged file)"))?;
    Ok(Secret::Minisign {
        keynum,
        key: Box::new(key),
    })
}

/// minisign's public key bytes: `Ed`, keynum, the Ed25519 public key.
fn minisign_public(keynum: &[u8; 8], key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let mut pk = b"Ed".to_vec();
    pk.extend_from_slice(keynum);
    pk.extend_from_slice(key.verifying_key().as_bytes());
    pk
}

/// A minisign signature file (prehashed, `ED`), as `minisign -S -t COMMENT` writes it, minus
/// the randomness.
fn minisign_signature(
    keynum: &[u8; 8],
    key: &ed25519_dalek::SigningKey,
    data: &[u8],
    trusted_comment: &str,
) -> Result<String> {
    use blake2::Digest as _;
    use ed25519_dalek::Signer as _;
    if trusted_comment.contains(['\n', '\r']) || trusted_comment.trim() != trusted_comment {
        return Err(Error::Internal(format!(
            "a minisign trusted comment is one line without blanks around it: {trusted_comment:?}"
        ))
        .into());
    }
    let prehash = blake2::Blake2b512::digest(data);
    let sig = key.sign(&prehash).to_bytes();
    let mut line = b"ED".to_vec();
    line.extend_from_slice(keynum);
    line.extend_from_slice(&sig);
    let mut global = sig.to_vec();
    global.extend_from_slice(trusted_comment.as_bytes());
    let global = key.sign(&global).to_bytes();
    Ok(format!(
        "{COMMENT_PREFIX} signature from builder, {}\n{}\ntrusted comment: {trusted_comment}\n{}\n",
        minisign_id(keynum),
        Base64::encode_string(&line),
        Base64::encode_string(&global)
    ))
}

fn minisign_id(keynum: &[u8]) -> String {
    let mut le = [0u8; 8];
    le.copy_from_slice(&keynum[..8]);
    format!("minisign key ID {:016X}", u64::from_le_bytes(le))
}

/// Refuses the OpenSSH key kinds builder cannot sign or check with.
fn supported(key: &ssh_key::PublicKey) -> Result<(), String> {
    match key.algorithm() {
        ssh_key::Algorithm::Ed25519 | ssh_key::Algorithm::Ecdsa { .. } => Ok(()),
        other => Err(format!(
            "{other} keys are not supported for signing (Ed25519 and ECDSA P-256/P-384 are); \
             make one with `ssh-keygen -t ed25519`"
        )),
    }
}

fn fingerprint(key: &ssh_key::PublicKey) -> ssh_key::Fingerprint {
    key.fingerprint(ssh_key::HashAlg::Sha256)
}

fn ssh_describe(key: &ssh_key::PublicKey) -> String {
    format!("{} key {}", key.algorithm(), fingerprint(key))
}

fn verify_minisign(key: &minisign::PublicKey, data: &[u8], sig: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(sig).map_err(|_| "the signature is not text".to_string())?;
    let sig = minisign::SignatureBox::from_string(text)
        .map_err(|e| format!("not a minisign signature: {e}"))?;
    // Quiet, no output, legacy (non-prehashed) signatures refused, as `minisign -V` does.
    minisign::verify(key, &sig, Cursor::new(data), true, false, false).map_err(|e| e.to_string())
}

/// A public key that checks signatures: a minisign public key or an OpenSSH one.
#[derive(Clone)]
pub struct PublicKey {
    inner: Public,
}

#[derive(Clone)]
enum Public {
    Minisign(minisign::PublicKey),
    Ssh(Box<ssh_key::PublicKey>),
}

impl PublicKey {
    /// Reads a minisign public key file (as `minisign -G` writes it, or the bare base64
    /// line) or an OpenSSH public key line (`ssh-ed25519 AAAA... comment`).
    pub fn load(path: &Path) -> Result<PublicKey> {
        let text = read_small(path)
            .and_then(|t| String::from_utf8(t.to_vec()).map_err(|_| "it is not text".into()))
            .map_err(|e| {
                Error::Input(format!(
                    "cannot read the public key {}: {e}; give the path of {EXPECTED_PUBLIC}",
                    path.display()
                ))
            })?;
        PublicKey::parse(&text).map_err(|why| {
            let hint = if text.contains("PRIVATE KEY") || text.contains("secret key") {
                " (this is a secret key: give its public half, the `.pub` file)"
            } else {
                ""
            };
            Error::Input(format!(
                "{} is not a public key builder knows: {why}{hint}; give {EXPECTED_PUBLIC}",
                path.display()
            ))
            .into()
        })
    }

    fn parse(text: &str) -> Result<PublicKey, String> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let first = lines.next().ok_or("the file is empty")?;
        let minisign_line = if first.starts_with(COMMENT_PREFIX) {
            Some(lines.next().ok_or("a comment line and no key")?)
        } else if first.starts_with("RW") && !first.contains(' ') {
            Some(first)
        } else {
            None
        };
        let inner = match minisign_line {
            Some(line) => Public::Minisign(
                minisign::PublicKey::from_base64(line)
                    .map_err(|e| format!("a minisign key that does not parse: {e}"))?,
            ),
            None => {
                let key = ssh_key::PublicKey::from_openssh(first)
                    .map_err(|e| format!("neither a minisign nor an OpenSSH public key ({e})"))?;
                supported(&key)?;
                Public::Ssh(Box::new(key))
            }
        };
        Ok(PublicKey { inner })
    }

    /// The signature file this key checks: "SHA256SUMS.minisig" or "SHA256SUMS.sig".
    pub fn signature_file(&self) -> &'static str {
        match self.inner {
            Public::Minisign(_) => SUMS_MINISIG,
            Public::Ssh(_) => SUMS_SSHSIG,
        }
    }

    /// A short description for messages: kind + fingerprint/key id.
    pub fn describe(&self) -> String {
        match &self.inner {
            Public::Minisign(k) => minisign_id(k.keynum()),
            Public::Ssh(k) => ssh_describe(k),
        }
    }

    /// Ok if `sig` is a valid signature of `data` by this key (SSHSIG: namespace "file").
    pub fn verify(&self, data: &[u8], sig: &[u8]) -> Result<(), String> {
        match &self.inner {
            Public::Minisign(k) => verify_minisign(k, data, sig),
            Public::Ssh(k) => {
                let sig = ssh_key::SshSig::from_pem(sig)
                    .map_err(|e| format!("not an SSH signature (SSHSIG): {e}"))?;
                if sig.namespace() != SSH_NAMESPACE {
                    return Err(format!(
                        "the signature is for namespace {:?}, not {SSH_NAMESPACE:?}",
                        sig.namespace()
                    ));
                }
                if sig.public_key() != k.key_data() {
                    return Err(format!(
                        "signed by another key ({}), not {}",
                        fingerprint(&ssh_key::PublicKey::from(sig.public_key().clone())),
                        ssh_describe(k)
                    ));
                }
                k.verify(SSH_NAMESPACE, data, &sig)
                    .map_err(|e| format!("the signature does not match the data: {e}"))
            }
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.describe())
    }
}

#[cfg(test)]
mod tests;
