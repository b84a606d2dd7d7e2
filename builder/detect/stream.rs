//! Fast path for big kubectl List files (`kubectl get pods -A -o json` of a large fleet runs to
//! hundreds of MB): the file is read in 1 MiB blocks, a small scanner cuts out each element of
//! the top-level "items" array, and a second thread deserializes them while the scanner reads on.
//! The rest of the document (the List without its items) is handed back for serde to check.
//! Anything unusual gives None, and the caller reads the file whole and reports errors precisely.

use std::io::BufRead;
use std::sync::mpsc::{sync_channel, SyncSender};

use serde::de::DeserializeOwned;

/// Items are handed to the parsing thread in batches of about this many bytes.
const BATCH_BYTES: usize = 1 << 20;

/// A 256-entry table: true for the bytes in `stops`.
const fn table(stops: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < stops.len() {
        t[stops[i] as usize] = true;
        i += 1;
    }
    t
}

/// The bytes that end a run inside a string, and inside an item outside strings.
static STR_STOP: [bool; 256] = table(b"\"\\");
static ITEM_STOP: [bool; 256] = table(b"\"{}[]");

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// The document without its items (`"items": []`) and the items, parsed and passed through
/// `keep` (which drops what the caller will not read, so memory follows what is kept, not the
/// input), in order.
pub(super) fn read_list<T, R>(reader: R, keep: fn(T) -> T) -> Option<(Vec<u8>, Vec<T>)>
where
    T: DeserializeOwned + Send,
    R: BufRead,
{
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Batch>(4);
        let parser = s.spawn(move || {
            let mut items = Vec::new();
            for batch in rx {
                let mut start = 0;
                for &end in &batch.ends {
                    items.push(keep(
                        serde_json::from_slice::<T>(batch.bytes.get(start..end)?).ok()?,
                    ));
                    start = end;
                }
            }
            Some(items)
        });
        let skeleton = scan(reader, &tx);
        drop(tx);
        let items = parser.join().ok().flatten();
        Some((skeleton?, items?))
    })
}

#[derive(Default)]
struct State {
    depth: u32,
    in_str: bool,
    esc: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    /// The key being read (at depth 1).
    key_buf: Option<Vec<u8>>,
    /// The last key read at depth 1.
    key: Vec<u8>,
    /// Inside the top-level "items" array.
    in_items: bool,
    seen_items: bool,
    /// Inside one item.
    item_open: bool,
    /// In the items array, a ',' came last (so `]` or `,` would be wrong).
    after_comma: bool,
    /// In the items array, an item came last (so `{` would be wrong).
    need_comma: bool,
    closed: bool,
}

/// Splits the items into batches sent on `tx`; returns the skeleton, or None when the document
/// is not a plain `{..., "items": [{...}, ...], ...}`.
fn scan<R: BufRead>(mut reader: R, tx: &SyncSender<Batch>) -> Option<Vec<u8>> {
    let mut sc = Scanner {
        st: State::default(),
        skeleton: Vec::new(),
        batch: Batch::default(),
        tx,
        item_from: None,
    };
    loop {
        let buf = reader.fill_buf().ok()?;
        let n = buf.len();
        if n == 0 {
            break;
        }
        sc.block(buf)?;
        reader.consume(n);
    }
    sc.finish()
}

/// The scan across blocks: where it is in the document, the skeleton so far, the batch being
/// filled.
struct Scanner<'a> {
    st: State,
    skeleton: Vec<u8>,
    batch: Batch,
    tx: &'a SyncSender<Batch>,
    /// Where the open item starts in the current block (0: it began in an earlier one).
    item_from: Option<usize>,
}

impl Scanner<'_> {
    /// Scans one block; None when the document is not one `scan` takes. An item still open at
    /// the block's end goes into the batch as far as it came.
    fn block(&mut self, buf: &[u8]) -> Option<()> {
        let n = buf.len();
        self.item_from = self.st.item_open.then_some(0);
        let mut i = 0;
        while i < n {
            if self.st.in_str {
                i = self.string_run(buf, i);
                continue;
            }
            if self.st.item_open {
                // Inside an item only strings and brackets matter: skip to the next one.
                let rest = &buf[i..];
                i += rest
                    .iter()
                    .position(|&b| ITEM_STOP[usize::from(b)])
                    .unwrap_or(rest.len());
                if i == n {
                    break;
                }
            }
            let c = buf[i];
            i += 1;
            // JSON's whitespace only (not form feed, which is_ascii_whitespace takes): anything
            // else goes to the parser, which refuses it as the whole-document reader does.
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                // A run of blanks is kept as one (it still separates tokens), so a huge blank
                // stretch costs no memory.
                if !self.st.in_items && self.skeleton.last().is_some_and(|&b| b != b' ') {
                    self.skeleton.push(b' ');
                }
                continue;
            }
            self.token(buf, i, c)?;
        }
        if let Some(from) = self.item_from {
            self.batch.bytes.extend_from_slice(&buf[from..n]);
        }
        Some(())
    }

    /// Inside a string from `buf[i]`: reads up to and including the next quote or backslash
    /// (or the escaped byte after a backslash); returns where the scan goes on.
    fn string_run(&mut self, buf: &[u8], mut i: usize) -> usize {
        let st = &mut self.st;
        let keep = !st.in_items;
        if st.esc {
            st.esc = false;
            if keep {
                self.skeleton.push(buf[i]);
            }
            return i + 1;
        }
        let rest = &buf[i..];
        let p = rest
            .iter()
            .position(|&b| STR_STOP[usize::from(b)])
            .unwrap_or(rest.len());
        if keep {
            self.skeleton.extend_from_slice(&rest[..p]);
        }
        if let Some(k) = st.key_buf.as_mut() {
            k.extend_from_slice(&rest[..p]);
        }
        i += p;
        if i < buf.len() {
            if keep {
                self.skeleton.push(buf[i]);
            }
            if buf[i] == b'\\' {
                st.esc = true;
            } else {
                st.in_str = false;
                if let Some(k) = st.key_buf.take() {
                    st.key = k;
                }
            }
            i += 1;
        }
        i
    }

    /// One byte `c` outside strings and blanks; `buf[i]` is the byte after it.
    fn token(&mut self, buf: &[u8], i: usize, c: u8) -> Option<()> {
        let st = &mut self.st;
        if st.closed {
            return None;
        }
        let in_array = st.in_items && st.depth == 2 && !st.item_open;
        match c {
            b'"' => {
                if in_array || st.depth == 0 {
                    return None;
                }
                st.in_str = true;
                if st.depth == 1 && st.expect_key {
                    st.key_buf = Some(Vec::new());
                    st.expect_key = false;
                }
            }
            b'{' | b'[' => self.open(i, c, in_array)?,
            b'}' | b']' => self.close(buf, i)?,
            b',' => {
                if in_array {
                    if !st.need_comma {
                        return None;
                    }
                    (st.need_comma, st.after_comma) = (false, true);
                }
                st.expect_key = st.depth == 1;
            }
            _ if in_array || st.depth == 0 => return None,
            _ => {}
        }
        if !self.st.in_items {
            self.skeleton.push(c);
        }
        Some(())
    }

    /// `{` or `[` (`c`), just before `i`: maybe an item or the items array begins.
    fn open(&mut self, i: usize, c: u8, in_array: bool) -> Option<()> {
        let st = &mut self.st;
        if (st.depth == 0 && c != b'{') || (in_array && (c != b'{' || st.need_comma)) {
            return None;
        }
        if in_array {
            st.item_open = true;
            st.after_comma = false;
            self.item_from = Some(i - 1);
        }
        if st.depth == 1 && c == b'[' && st.key == b"items" {
            if st.seen_items {
                return None;
            }
            (st.in_items, st.seen_items) = (true, true);
            self.skeleton.push(c);
        }
        st.depth += 1;
        st.expect_key = st.depth == 1;
        Some(())
    }

    /// `}` or `]`, just before `buf[i]`: maybe an item (sent with its batch once that is full)
    /// or the items array ends.
    fn close(&mut self, buf: &[u8], i: usize) -> Option<()> {
        let st = &mut self.st;
        st.depth = st.depth.checked_sub(1)?;
        if st.item_open && st.depth == 2 {
            st.item_open = false;
            st.need_comma = true;
            let batch = &mut self.batch;
            batch
                .bytes
                .extend_from_slice(&buf[self.item_from.take()?..i]);
            batch.ends.push(batch.bytes.len());
            if batch.bytes.len() >= BATCH_BYTES {
                self.tx.send(std::mem::take(batch)).ok()?;
            }
        } else if st.in_items && st.depth == 1 {
            if st.after_comma {
                return None;
            }
            st.in_items = false;
        }
        st.closed = st.depth == 0;
        Some(())
    }

    /// At the end of the input: the skeleton, once the last batch is sent, or None when the
    /// document did not close or had no items array.
    fn finish(self) -> Option<Vec<u8>> {
        if !self.st.closed || !self.st.seen_items {
            return None;
        }
        if !self.batch.ends.is_empty() {
            self.tx.send(self.batch).ok()?;
        }
        Some(self.skeleton)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::io::BufReader;

    fn read(doc: &str, block: usize) -> Option<(Value, Vec<Value>)> {
        let r = BufReader::with_capacity(block, doc.as_bytes());
        let (skeleton, items) = read_list::<Value, _>(r, |v| v)?;
        Some((serde_json::from_slice(&skeleton).ok()?, items))
    }

    #[test]
    fn items_and_skeleton_match_a_whole_parse_at_any_block_size() {
        let doc = r#" {"apiVersion": "v1", "items": [
            {"kind": "Pod", "metadata": {"name": "a \"q\" ]}{,", "labels": {"x": "\\"}}, "spec": {"v": [1, {"b": []}]}},
            {"kind": "Pod", "metadata": {"name": "b"}}
        ], "kind": "List", "metadata": {"resourceVersion": "]"}}
        "#;
        let whole: Value = serde_json::from_str(doc).unwrap();
        for block in [1, 2, 3, 7, 64, 4096] {
            let (skeleton, items) = read(doc, block).unwrap_or_else(|| panic!("block {block}"));
            assert_eq!(
                items,
                whole["items"].as_array().cloned().unwrap(),
                "block {block}"
            );
            assert_eq!(skeleton["kind"], "List");
            assert_eq!(skeleton["items"], serde_json::json!([]));
            assert_eq!(skeleton["metadata"]["resourceVersion"], "]");
        }
        let empty = read(r#"{"kind":"List","items":[]}"#, 5).unwrap();
        assert!(empty.1.is_empty());
    }

    #[test]
    fn anything_unusual_falls_back() {
        for doc in [
            r#"{"kind":"Node","metadata":{}}"#,
            r#"{"kind":"List","items":[{"a":1}"#,
            r#"{"kind":"List","items":[{"a":1} {"a":2}]}"#,
            r#"{"kind":"List","items":[{"a":1},]}"#,
            r#"{"kind":"List","items":[,{"a":1}]}"#,
            r#"{"kind":"List","items":[1,2]}"#,
            r#"{"kind":"List","items":[{"a":1}]} trailing"#,
            r#"{"kind":"List","items":[{"a":1}],"items":[]}"#,
            r#"{"kind":"List","items":[{"a":}]}"#,
            r#"[{"kind":"List"}]"#,
            "",
        ] {
            assert!(read(doc, 4).is_none(), "{doc}");
        }
    }
}
