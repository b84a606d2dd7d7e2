//! Documents on standard output (`render --output json`, `diff`): JSON pretty-printed with one
//! trailing newline, text as given; a reader that closes the pipe early (`| head`) is not an
//! error.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::util::error::Error;

/// Writes `value` as JSON to standard output.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    print_text(&json_string(value)?)
}

/// Writes `text` to standard output.
pub fn print_text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to standard output"))
        }
        _ => Ok(()),
    }
}

/// Whether text on `stream` may be coloured: it is a terminal, and `NO_COLOR` is unset or
/// empty (<https://no-color.org>).
pub fn colour_on(stream: &impl std::io::IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in an ANSI colour (`31` red, `32` green, `33` yellow, ...) when `on`.
pub fn paint(text: &str, colour: u8, on: bool) -> String {
    if on {
        format!("\x1b[{colour}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `value` as pretty JSON with a trailing newline.
pub fn json_string<T: Serialize>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Internal(format!("cannot serialise a JSON document: {e}")))?;
    s.push('\n');
    Ok(s)
}
