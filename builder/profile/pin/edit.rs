//! Writing pins into a profile's text with toml_edit: every comment, blank line and key order
//! elsewhere stays byte for byte; new `sha256.ARCH` lines go right after the artifact's `url`
//! (or into the `sha256` table it already has). And the lines that changed, for a dry run.

use std::collections::BTreeMap;

use anyhow::Result;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::util::digest::Sha256;
use crate::util::error::Error;

/// A pin to write: the digest, and the comment to write beside it (trusted downloads).
#[derive(Debug, Clone)]
pub struct NewPin {
    pub arch: &'static str,
    pub sha256: Sha256,
    pub comment: Option<String>,
}

/// One artifact's pins to write: `inherited` are the per-arch pins the profile already has
/// for it through `extends` (written too when this file gets its first `sha256` for the
/// artifact, since a child's `sha256` replaces its base's whole).
#[derive(Debug, Clone)]
pub struct ArtifactPins {
    pub name: String,
    pub inherited: BTreeMap<&'static str, Sha256>,
    pub new: Vec<NewPin>,
}

/// `text` with the pins written; `file` names it in errors.
pub fn apply(text: &str, file: &str, edits: &[ArtifactPins]) -> Result<String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| {
        Error::Profile(format!(
            "{file}: cannot edit it: {}",
            crate::util::error::one_line(&format!("{e}"))
        ))
    })?;
    let arts = artifacts(&mut doc, file)?;
    for edit in edits {
        // The last table of that name wins when the file merges (as `extends` does).
        let pos = arts
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.get("name").and_then(Item::as_str) == Some(edit.name.as_str())
                    && t.get("remove").and_then(Item::as_bool) != Some(true)
            })
            .map(|(i, _)| i)
            .last();
        let table = match pos {
            Some(i) => arts
                .get_mut(i)
                .ok_or_else(|| Error::Internal("artifact vanished".into()))?,
            None => {
                // Inherited whole: a table of the same name overrides only its pins.
                let mut t = Table::new();
                t.insert("name", toml_edit::value(edit.name.clone()));
                arts.push(t);
                arts.get_mut(arts.len() - 1)
                    .ok_or_else(|| Error::Internal("artifact vanished".into()))?
            }
        };
        write_pins(table, edit, file)?;
    }
    Ok(doc.to_string())
}

/// The `[[artifact]]` tables, created if the file has none.
fn artifacts<'a>(doc: &'a mut DocumentMut, file: &str) -> Result<&'a mut ArrayOfTables> {
    let item = doc
        .entry("artifact")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    item.as_array_of_tables_mut().ok_or_else(|| {
        Error::Profile(format!(
            "{file}: `artifact` is not written as [[artifact]] tables, which builder pin edits; \
             rewrite it as [[artifact]] tables or add the sha256 lines yourself"
        ))
        .into()
    })
}

fn pin_value(p: &NewPin) -> Value {
    let mut v = Value::from(p.sha256.as_str());
    if let Some(c) = &p.comment {
        v.decor_mut().set_suffix(format!("  # {c}"));
    }
    v
}

fn write_pins(table: &mut Table, edit: &ArtifactPins, file: &str) -> Result<()> {
    let name = &edit.name;
    match table.get_mut("sha256") {
        None => {
            let mut pins = Table::new();
            pins.set_dotted(true);
            for (arch, hex) in &edit.inherited {
                pins.insert(arch, toml_edit::value(hex.as_str()));
            }
            for p in &edit.new {
                pins.insert(p.arch, Item::Value(pin_value(p)));
            }
            table.insert("sha256", Item::Table(pins));
            place_after_url(table);
        }
        Some(Item::Table(pins)) => {
            for p in &edit.new {
                pins.insert(p.arch, Item::Value(pin_value(p)));
            }
        }
        Some(Item::Value(Value::InlineTable(pins))) => {
            for p in &edit.new {
                pins.insert(p.arch, pin_value(p));
            }
            pins.fmt();
        }
        Some(_) => {
            return Err(Error::Internal(format!(
                "{file}: artifact {name} has a sha256 for every arch, yet a pin is missing"
            ))
            .into())
        }
    }
    Ok(())
}

/// Moves a table's (new, last) `sha256` right after its `url` (else after `version`, else
/// where it is); every other key keeps its place.
fn place_after_url(table: &mut Table) {
    let order: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
    let at = |k: &str| order.iter().position(|o| o == k);
    let Some(anchor) = at("url").or_else(|| at("version")) else {
        return;
    };
    // Keys of the dotted subtable are compared too: they all rank the same, keeping their order.
    let rank = |k: &str| match k {
        "sha256" => 2 * anchor + 1,
        _ => at(k).map_or(usize::MAX, |i| 2 * i),
    };
    table.sort_values_by(|a, _, b, _| rank(a.get()).cmp(&rank(b.get())));
}

/// The lines `new` adds to or changes in `old` (which it mostly equals): (1-based line in
/// `new` or `old`, '+' or '-', text). For showing a dry run; not a general diff.
pub fn changed_lines(old: &str, new: &str) -> Vec<(usize, char, String)> {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while j < new.len() {
        if i < old.len() && old[i] == new[j] {
            i += 1;
            j += 1;
            continue;
        }
        match (i < old.len())
            .then(|| new[j..].iter().position(|l| *l == old[i]))
            .flatten()
        {
            // Lines inserted before old[i].
            Some(k) => {
                for (n, l) in new[j..j + k].iter().enumerate() {
                    out.push((j + n + 1, '+', l.to_string()));
                }
                j += k;
            }
            // old[i] changed (or the rest is new).
            None => {
                if i < old.len() {
                    out.push((i + 1, '-', old[i].to_string()));
                    i += 1;
                }
                out.push((j + 1, '+', new[j].to_string()));
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    const TEXT: &str = "# site nodes\nschema = 1   # format\nextends = \"containerd\"\n\n\
        # bumped\n[[artifact]]\nname = \"containerd\"  # the runtime\nversion = \"2.3.9\"\n\
        url = \"https://x/c-{arch}.tgz\"\ninstall = [{ from = \"bin/*\", to = \"/b/\" }]\n\n\
        # next\n[[artifact]]\nname = \"runc\"\nsha256 = { amd64 = \"A\" }\n";

    fn pin(arch: &'static str, hex: &str, comment: Option<&str>) -> NewPin {
        NewPin {
            arch,
            sha256: hex.parse().unwrap(),
            comment: comment.map(str::to_string),
        }
    }

    #[test]
    fn pins_go_after_url_and_the_rest_stays_byte_for_byte() {
        let edits = [
            ArtifactPins {
                name: "containerd".into(),
                inherited: BTreeMap::new(),
                new: vec![pin("amd64", A, None), pin("arm64", B, Some("trusted"))],
            },
            ArtifactPins {
                name: "runc".into(),
                inherited: BTreeMap::new(),
                new: vec![pin("arm64", B, None)],
            },
            ArtifactPins {
                name: "crictl".into(),
                inherited: BTreeMap::from([("amd64", B.parse().unwrap())]),
                new: vec![pin("arm64", A, None)],
            },
        ];
        let out = apply(TEXT, "p.toml", &edits).unwrap();
        let want = TEXT
            .replace(
                "url = \"https://x/c-{arch}.tgz\"\n",
                &format!("url = \"https://x/c-{{arch}}.tgz\"\nsha256.amd64 = \"{A}\"\nsha256.arm64 = \"{B}\"  # trusted\n"),
            )
            .replace(
                "sha256 = { amd64 = \"A\" }\n",
                &format!("sha256 = {{ amd64 = \"A\", arm64 = \"{B}\" }}\n\n[[artifact]]\nname = \"crictl\"\nsha256.amd64 = \"{B}\"\nsha256.arm64 = \"{A}\"\n"),
            );
        assert_eq!(out, want);
        let changed = changed_lines(TEXT, &out);
        assert_eq!(changed[0], (10, '+', format!("sha256.amd64 = \"{A}\"")));
        assert_eq!(
            changed[2],
            (15, '-', "sha256 = { amd64 = \"A\" }".to_string())
        );
        assert_eq!(
            changed.iter().filter(|c| c.1 == '+').count(),
            8,
            "{changed:?}"
        );
    }

    #[test]
    fn an_inline_artifact_array_is_refused() {
        let e = apply("schema = 1\nartifact = [{ name = \"x\" }]\n", "p.toml", &[]).unwrap_err();
        assert!(format!("{e}").contains("[[artifact]] tables"), "{e}");
    }
}
