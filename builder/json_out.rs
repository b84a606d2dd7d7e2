//! A JSON document on standard output (`render`, `diff` with `--output json`): pretty, one
//! trailing newline, and a reader that closes the pipe early (`| head`) is not an error.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::error::Error;

/// Writes `value` to standard output.
pub fn print<T: Serialize>(value: &T) -> Result<()> {
    let text = to_string(value)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing JSON to standard output"))
        }
        _ => Ok(()),
    }
}

/// `value` as pretty JSON with a trailing newline.
pub fn to_string<T: Serialize>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Internal(format!("cannot serialise a JSON report: {e}")))?;
    s.push('\n');
    Ok(s)
}
