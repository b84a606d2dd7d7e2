//! The small YAML subset user-data and butane.yaml are written in: single-quoted scalars for
//! short values, literal block scalars (`|`, `|-`) for text, and base64 of deterministic gzip
//! for everything a block scalar cannot carry byte for byte. Hand-written so the bytes are fixed
//! by this file alone; `cloud-init schema` and cloud-init's own decoder check it in
//! tests/it/cloudinit.rs.

use std::io::Write as _;

/// Characters YAML (PyYAML, which cloud-init uses) reads back unchanged inside a scalar.
/// NEL and the Unicode line/paragraph separators are line breaks to YAML; C1 controls, DEL,
/// BOM and the non-characters are not printable.
fn printable(c: char) -> bool {
    matches!(c, ' '..='~')
        || (c >= '\u{A0}'
            && !matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
            ))
}

/// `'text'`, with `'` doubled; `None` if the text holds a character a one-line scalar cannot.
pub fn single_quoted(s: &str) -> Option<String> {
    if !s.chars().all(printable) {
        return None;
    }
    Some(format!("'{}'", s.replace('\'', "''")))
}

/// Whether `text` survives a literal block scalar unchanged. Conservative on purpose: anything
/// unusual (leading blank, several trailing newlines, whitespace-only lines, CR) is left to
/// gz+b64 instead of relying on the finer points of YAML's indentation rules.
pub fn literal_ok(text: &str) -> bool {
    if text.is_empty() || text.starts_with([' ', '\t', '\n']) || text.ends_with("\n\n") {
        return false;
    }
    if !text.chars().all(|c| c == '\n' || c == '\t' || printable(c)) {
        return false;
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .all(|line| line.is_empty() || !line.chars().all(|c| c == ' ' || c == '\t'))
}

/// Appends ` |` (or ` |-` without a final newline) and the text, each non-empty line prefixed
/// by `indent`. The caller checked [`literal_ok`].
pub fn literal_block(out: &mut String, indent: &str, text: &str) {
    debug_assert!(literal_ok(text), "not safe as a literal block: {text:?}");
    let (body, chomp) = match text.strip_suffix('\n') {
        Some(body) => (body, "|"),
        None => (text, "|-"),
    };
    out.push_str(chomp);
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Standard base64 (RFC 4648 §4) with padding, on one line.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(chunk[0]) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sextet = |shift: u32| ALPHABET[((n >> shift) & 63) as usize] as char;
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Gzip at the best level, without name or mtime: the same bytes for the same input on every
/// build machine (see `crate::build::gzip`).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = crate::build::gzip::ParGzWriter::new(Vec::new(), 9);
    // Writing to a Vec cannot fail; the compression threads only fail if one panics.
    w.write_all(data).expect("gzip into memory");
    w.finish().expect("gzip into memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc, "{plain:?}");
        }
        assert_eq!(base64(&[0xfb, 0xff, 0xfe]), "+//+");
    }

    #[test]
    fn single_quotes_double_and_controls_refuse() {
        assert_eq!(single_quoted("it's").unwrap(), "'it''s'");
        assert_eq!(single_quoted("#: - *").unwrap(), "'#: - *'");
        assert!(single_quoted("a\nb").is_none());
        assert!(single_quoted("a\u{85}b").is_none());
        assert!(single_quoted("tab\there").is_none());
    }

    #[test]
    fn literal_blocks_only_for_plain_text() {
        assert!(literal_ok("a: 1\n\n  b\tc\n"));
        assert!(literal_ok("no newline"));
        for bad in [
            "",
            " leading",
            "\nleading",
            "two\n\n",
            "cr\r\n",
            "ws\n  \nx\n",
            "nel\u{85}",
            "del\u{7f}",
        ] {
            assert!(!literal_ok(bad), "{bad:?}");
        }
        let mut out = String::new();
        literal_block(&mut out, "  ", "a\n\n b\n");
        assert_eq!(out, "|\n  a\n\n   b\n");
        let mut out = String::new();
        literal_block(&mut out, "  ", "x");
        assert_eq!(out, "|-\n  x\n");
    }

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        use std::io::Read;
        let data = b"hello hello hello hello".repeat(100);
        let a = gzip(&data);
        assert_eq!(a, gzip(&data));
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "mtime must be 0");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&a[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }
}
