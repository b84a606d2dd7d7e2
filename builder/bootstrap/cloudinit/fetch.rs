//! The first-boot script of fetch mode: download the overlay (gzip or zstd), check its sha256 against the
//! digest pinned at render time, unpack it into a staging folder on the root's filesystem, and
//! only then move it into place, file by file with rename. A failure before the move (a bad
//! digest, a full disk while unpacking) leaves the root as it was. POSIX sh, so it runs under
//! dash, bash and busybox sh alike, with GNU tar, find and stat.

use crate::bootstrap::sh::{quote, say_and_die};
use crate::util::digest::Sha256;
use crate::util::error::Error;

/// Where user-data writes the script (mode 0755); runcmd runs it before anything else.
pub const FETCH_SCRIPT_PATH: &str = "/usr/local/sbin/builder-fetch-overlay";

/// The overlay URL (already expanded for one arch) and its pinned digest; from a registry,
/// also where the blob is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOverlay {
    pub url: String,
    pub sha256: Sha256,
    /// `oci://` URLs: the blob is fetched with the Distribution API.
    pub registry: Option<RegistrySource>,
}

/// An overlay blob in a registry: the repository, and the endpoints tried in order (mirrors
/// first, the registry itself last), each `http(s)://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySource {
    pub repository: String,
    pub endpoints: Vec<String>,
}

/// Checks a registry endpoint: `http(s)://host[:port][/prefix]`, no credentials, query or
/// characters a shell word or a URL path would need quoted.
pub fn check_endpoint(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !r.ends_with('/')
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:/[]".contains(&b))
    });
    if !ok {
        return Err(Error::Input(format!(
            "registry endpoint {url:?}: not http(s)://HOST[:PORT][/PREFIX] (no credentials, no trailing /); \
             a mirror serves the same repositories under /v2/[PREFIX/]REPOSITORY"
        ))
        .into());
    }
    Ok(())
}

/// Checks what goes into the script: an http(s) URL without whitespace or control characters
/// (the digest is a [`Sha256`]: 64 lowercase hex digits).
pub fn check(url: &str) -> anyhow::Result<()> {
    // file:///path: an overlay on a disk the image or the platform attaches (a config drive).
    let scheme_ok =
        url.starts_with("https://") || url.starts_with("http://") || url.starts_with("file:///");
    if !scheme_ok
        || url.len() <= "https://".len()
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Input(format!(
            "--overlay-url {url:?}: not an http://, https:// or file:/// URL without spaces; give the URL the nodes download overlay.tar.gz from, with {{arch}} where the arch goes"
        ))
        .into());
    }
    Ok(())
}

/// The script's text. Environment knobs, for tests and for running it by hand:
/// `BUILDER_ROOT` (where to unpack, default `/`), `BUILDER_CONSOLE` (where messages also go,
/// default `/dev/console` when writable; empty for none), `BUILDER_FETCH_ATTEMPTS` (default 5).
///
/// Callers pass values that passed [`check`]; [`super::render`] does.
pub fn fetch_script(url: &str, sha256: &Sha256) -> String {
    script(url, sha256, URL_DOWNLOAD, "", "")
}

/// The script of an overlay in a registry: the blob by digest from each endpoint in turn
/// (curl: anonymous, a Bearer token from the realm a 401 names, or Basic with the credentials
/// in `BUILDER_REGISTRY_AUTH`, default /etc/builder/registry-auth, one `user:password` line the
/// image carries); an endpoint that answers other bytes is skipped, and when every endpoint
/// that answered gave wrong bytes the script stops at once (no retries).
pub fn registry_fetch_script(url: &str, sha256: &Sha256, source: &RegistrySource) -> String {
    let vars = format!(
        "REPOSITORY={}\nENDPOINTS={}\nAUTH=\"${{BUILDER_REGISTRY_AUTH:-/etc/builder/registry-auth}}\"\n",
        quote(&source.repository),
        quote(&source.endpoints.join(" "))
    );
    let final_check = r#"    [ -z "${FINAL:-}" ] || die "checksum mismatch for $URL: every registry that answered gave other bytes than sha256 $EXPECTED; nothing was unpacked and the runtime is not installed. Push the overlay rendered with this user-data (or re-render both)"
"#;
    script(url, sha256, REGISTRY_DOWNLOAD, &vars, final_check)
}

/// `download()` of a plain URL: file://, curl, wget or python3.
const URL_DOWNLOAD: &str = r#"download() {
    case "$URL" in
    file://*)
        cp -- "${URL#file://}" "$TMP"
        return
        ;;
    esac
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --connect-timeout 30 --max-time 900 -o "$TMP" "$URL"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -T 60 -O "$TMP" "$URL"
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f)' "$URL" "$TMP"
    else
        die "no curl, wget or python3 to download $URL with; nothing was unpacked"
    fi
}
"#;

/// `download()` from a registry: each endpoint in turn, the Distribution API's blob GET with
/// its auth challenge answered; sets FINAL when the only answers were wrong bytes.
const REGISTRY_DOWNLOAD: &str = r#"# curl reads the credentials from stdin (-K -), never from its command line.
creds() {
    [ -r "$AUTH" ] || return 0
    printf 'user = "%s"\n' "$(head -n 1 "$AUTH" | sed 's/[\\"]/\\&/g')"
}

# blob_from ENDPOINT: the overlay blob into $TMP, answering one 401.
blob_from() {
    blob="$1/v2/$REPOSITORY/blobs/sha256:$EXPECTED"
    code=$(curl -sS -L --connect-timeout 30 --max-time 900 -D "$HDRS" -o "$TMP" -w '%{http_code}' "$blob") || return 1
    [ "$code" != 200 ] || return 0
    if [ "$code" != 401 ]; then
        say "$blob: HTTP $code"
        return 1
    fi
    challenge=$(tr -d '\r' <"$HDRS" | sed -n 's/^[Ww][Ww][Ww]-[Aa][Uu][Tt][Hh][Ee][Nn][Tt][Ii][Cc][Aa][Tt][Ee]: *//p' | tail -n 1)
    case $challenge in
    [Bb]earer*)
        realm=$(printf '%s' "$challenge" | sed -n 's/.*realm="\([^"]*\)".*/\1/p')
        service=$(printf '%s' "$challenge" | sed -n 's/.*service="\([^"]*\)".*/\1/p')
        answer=$(creds | curl -fsS -K - -G --connect-timeout 30 --max-time 60 \
            --data-urlencode "service=$service" --data-urlencode "scope=repository:$REPOSITORY:pull" "$realm") ||
            { say "the token service $realm refused a pull token for $REPOSITORY"; return 1; }
        token=$(printf '%s' "$answer" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
        [ -n "$token" ] || token=$(printf '%s' "$answer" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
        [ -n "$token" ] || { say "the token service $realm answered no token"; return 1; }
        printf 'header = "Authorization: Bearer %s"\n' "$token" |
            curl -fsSL -K - --connect-timeout 30 --max-time 900 -o "$TMP" "$blob" ;;
    [Bb]asic*)
        [ -r "$AUTH" ] || { say "$1 asks for credentials and $AUTH is missing"; return 1; }
        creds | curl -fsSL -K - --connect-timeout 30 --max-time 900 -o "$TMP" "$blob" ;;
    *)
        say "$blob: HTTP 401 with no challenge this script answers"
        return 1 ;;
    esac
}

download() {
    command -v curl >/dev/null 2>&1 || die "curl is missing, so the overlay cannot be fetched from $URL; nothing was unpacked"
    HDRS="$TMP.headers"
    wrong=
    for ep in $ENDPOINTS; do
        if blob_from "$ep"; then
            ACTUAL=$(sha256sum "$TMP" | cut -d ' ' -f 1)
            [ "$ACTUAL" != "$EXPECTED" ] || { rm -f "$HDRS"; return 0; }
            say "checksum mismatch from $ep: expected sha256 $EXPECTED, got $ACTUAL"
            wrong=1
        fi
    done
    rm -f "$HDRS"
    # Wrong bytes are not a passing failure: no retries.
    [ -z "$wrong" ] || FINAL=1
    return 1
}
"#;

/// The script around a `download()`: `vars` are extra assignments after EXPECTED,
/// `final_check` a first line in the retry loop.
fn script(url: &str, sha256: &Sha256, download: &str, vars: &str, final_check: &str) -> String {
    // The same script serves every profile, so the header names none.
    let header = format!(
        "# Generated by builder {}. Do not edit: re-render instead.\n",
        crate::VERSION
    );
    let (url, sha256) = (quote(url), quote(sha256.as_str()));
    let say_and_die = say_and_die("builder-fetch-overlay");
    format!(
        r#"#!/bin/sh
{header}# Downloads the node overlay, checks its sha256 against the digest pinned when it was
# rendered, unpacks it into a staging folder beside the root's files, and only then moves it
# into place. Any failure before the move exits non-zero with the root as it was.
set -eu
URL={url}
EXPECTED={sha256}
{vars}ROOT="${{BUILDER_ROOT:-/}}"
CONSOLE="${{BUILDER_CONSOLE-/dev/console}}"
ATTEMPTS="${{BUILDER_FETCH_ATTEMPTS:-5}}"

{say_and_die}
{download}
[ -d "$ROOT" ] || die "root folder $ROOT does not exist; nothing was unpacked"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is missing, so $URL cannot be verified; nothing was unpacked"
TMP=$(mktemp "${{TMPDIR:-/tmp}}/builder-overlay.XXXXXX")
STAGE=
trap 'rm -f "$TMP"; [ -z "$STAGE" ] || rm -rf "$STAGE"' EXIT

n=1
until download; do
{final_check}    [ "$n" -lt "$ATTEMPTS" ] || die "could not download $URL ($n attempts); nothing was unpacked and the runtime is not installed"
    say "download of $URL failed (attempt $n of $ATTEMPTS), retrying"
    sleep $((n * 5))
    n=$((n + 1))
done

ACTUAL=$(sha256sum "$TMP" | cut -d ' ' -f 1)
if [ "$ACTUAL" != "$EXPECTED" ]; then
    die "checksum mismatch for $URL: expected sha256 $EXPECTED, got $ACTUAL; nothing was unpacked and the runtime is not installed. Upload the overlay rendered with this user-data (or re-render both)"
fi
# Staged on the root's own filesystem, so the moves below are renames that need no space.
STAGE=$(mktemp -d "$ROOT/.builder-overlay.XXXXXX") ||
    die "cannot create a staging folder in $ROOT; nothing was unpacked"
# gzip or zstd, told by the verified bytes' magic number (GNU tar --zstd runs zstd).
case $(head -c 4 "$TMP" | od -An -tx1 | tr -d ' \n') in
    1f8b*) UNPACK=-z ;;
    28b52ffd)
        UNPACK=--zstd
        command -v zstd >/dev/null 2>&1 ||
            die "$URL is zstd-compressed and this image has no zstd (Debian/Ubuntu package zstd); nothing was unpacked. Add zstd to the image or render with --compression gzip" ;;
    *) die "$URL is neither gzip nor zstd; nothing was unpacked" ;;
esac
tar -x "$UNPACK" -f "$TMP" -C "$STAGE" --numeric-owner ||
    die "unpacking $URL failed (a full disk?); nothing was installed and $ROOT is as it was"
# Folders first, in order (parents before children), with the overlay's modes where they are
# new; folders that exist keep theirs. Then every file and link, each with one rename.
(cd "$STAGE" && find . -mindepth 1 -type d -exec sh -c '
    for d; do [ -d "$0/$d" ] || mkdir -m "$(stat -c %a "$d")" "$0/$d" || exit 1; done' "$ROOT" {{}} +) ||
    die "creating the overlay's folders in $ROOT failed; the root may be partly written"
(cd "$STAGE" && find . -mindepth 1 ! -type d -exec sh -c '
    for f; do mv -f "$f" "$0/$f" || exit 1; done' "$ROOT" {{}} +) ||
    die "moving the overlay into $ROOT failed; the root may be partly written"
say "unpacked $URL (sha256 $ACTUAL) into $ROOT"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_checks() {
        let sha: Sha256 = "0".repeat(64).parse().unwrap();
        check("https://example.com/o/amd64/overlay.tar.gz").unwrap();
        for bad in [
            "ftp://x/y",
            "https://",
            "https://a b",
            "https://a\nb",
            "/local",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        let s = fetch_script("https://h/it's", &sha);
        assert!(s.contains(r"URL='https://h/it'\''s'"), "{s}");
    }

    #[test]
    fn golden() {
        crate::node::assert_golden(
            "cloudinit-fetch-overlay.sh",
            &fetch_script(
                "https://artifacts.example.com/node/amd64/overlay.tar.gz",
                &"5e".repeat(32).parse().unwrap(),
            ),
        );
    }
}
