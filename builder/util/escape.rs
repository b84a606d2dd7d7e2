//! Text from a manifest or an archive made safe to print on one line of a report: control
//! characters (C0, DEL, C1) and the Unicode bidi overrides are written as Rust escapes
//! (`\n`, `\u{1b}`), and in one-line values a backslash as `\\` so the escaped form is
//! unambiguous. Everything else, non-ASCII letters included, is kept as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A control character, or a bidi override or isolate (which reorders what a terminal shows).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Whether `s` holds a control character (C0, DEL or C1).
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// `s` on one line: every control character, bidi override and backslash escaped; borrowed
/// when there is nothing to escape.
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else {
            push(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// Multi-line text (a unified diff) escaped: the line breaks stay, and so do tabs and
/// backslashes (ordinary in a config file or script); every other control character and bidi
/// override is escaped.
pub fn lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && c != '\t' && unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\n' || c == '\t' {
            out.push(c);
        } else {
            push(&mut out, c);
        }
    }
    Cow::Owned(out)
}

fn push(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if unsafe_char(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_other_text_kept() {
        assert_eq!(line("/etc/ü.conf"), "/etc/ü.conf");
        assert!(matches!(line("/etc/ü.conf"), Cow::Borrowed(_)));
        assert_eq!(line("/etc/a\n  + /etc/forged"), "/etc/a\\n  + /etc/forged");
        assert_eq!(line("x\x1b[2Jy"), "x\\u{1b}[2Jy");
        assert_eq!(line("a\tb\rc\0d\x7f"), "a\\tb\\rc\\0d\\u{7f}");
        assert_eq!(line("c1\u{85}\u{9b}"), "c1\\u{85}\\u{9b}");
        assert_eq!(line("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(line("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        // A backslash is doubled, so a literal "\n" cannot pass for an escaped line break.
        assert_eq!(line("a\\nb"), "a\\\\nb");
        // Other format characters and emoji stay.
        assert_eq!(line("a\u{200d}b 日本"), "a\u{200d}b 日本");
    }

    #[test]
    fn lines_keep_breaks_and_tabs() {
        assert_eq!(lines("a\tb\nc\n"), "a\tb\nc\n");
        assert_eq!(lines("+x\x1b]0;t\x07\n"), "+x\\u{1b}]0;t\\u{7}\n");
        assert_eq!(lines("crlf\r\n"), "crlf\\r\n");
        assert_eq!(lines("a \\\n"), "a \\\n");
    }

    #[test]
    fn control_detection() {
        assert!(has_control("usr/bin/evil\nname"));
        assert!(has_control("a\x1b"));
        assert!(has_control("a\x7f"));
        assert!(has_control("a\u{9f}"));
        assert!(!has_control("usr/share/doc/café"));
        assert!(!has_control("a\\b"));
    }
}
