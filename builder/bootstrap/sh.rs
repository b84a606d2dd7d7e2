//! The POSIX sh pieces builder's first-boot scripts share (`cloudinit`'s fetch script and
//! `node_check`): quoting a value into a script, and the `say`/`die` functions that print a
//! message to stderr and to the console.

/// Quotes for sh: `'...'` with each `'` written as `'\''`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `say` (one line `TAG: message` to stderr, and to `$CONSOLE` when that is set and writable)
/// and `die` (say, then exit 1). The script sets `CONSOLE` before calling either.
pub fn say_and_die(tag: &str) -> String {
    format!(
        r#"say() {{
    printf '{tag}: %s\n' "$*" >&2
    if [ -n "$CONSOLE" ] && [ -w "$CONSOLE" ]; then
        printf '{tag}: %s\n' "$*" >>"$CONSOLE" 2>/dev/null || true
    fi
}}

die() {{
    say "$*"
    exit 1
}}
"#
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes() {
        assert_eq!(super::quote("a'b"), r"'a'\''b'");
    }
}
