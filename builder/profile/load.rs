//! Loading a profile: find it, parse it, follow `extends` (refusing loops and deep chains),
//! lay the files over each other, then validate the whole.

use std::path::Path;

use anyhow::Result;

use super::merge::{merge, Merged};
use super::raw::parse_raw;
use super::source::{Loc, Lookup};
use super::types::Profile;
use super::validate::validate;
use crate::error::Error;

/// How many files a chain of `extends` may hold.
const MAX_DEPTH: usize = 8;

impl Lookup {
    /// Loads, merges (`extends`) and validates a profile.
    pub fn load(&self, spec: &str) -> Result<Profile> {
        let mut merged = Merged::default();
        self.load_into(spec, None, &mut merged, &mut Vec::new())?;
        validate(merged)
    }

    /// `chain` holds (identity, shown name) of the files on the way here.
    fn load_into(
        &self,
        spec: &str,
        relative_to: Option<&Path>,
        merged: &mut Merged,
        chain: &mut Vec<(String, String)>,
    ) -> Result<()> {
        let src = self.find(spec, relative_to)?;
        let shown = |chain: &[(String, String)]| {
            chain
                .iter()
                .map(|(_, name)| name.as_str())
                .collect::<Vec<_>>()
                .join(" -> ")
        };
        if chain.iter().any(|(id, _)| *id == src.id) {
            chain.push((src.id.clone(), src.name.clone()));
            return Err(Error::Profile(format!(
                "profiles extend each other in a loop: {}; break the cycle",
                shown(chain)
            ))
            .into());
        }
        if chain.len() >= MAX_DEPTH {
            return Err(Error::Profile(format!(
                "profile {} extends too deeply (more than {MAX_DEPTH} levels): {}",
                src.name,
                shown(chain)
            ))
            .into());
        }
        chain.push((src.id.clone(), src.name.clone()));
        let raw = parse_raw(&src)?;
        if let Some(base) = &raw.extends {
            self.load_into(base.get_ref(), src.dir.as_deref(), merged, chain)
                .map_err(|e| {
                    let loc = Loc::new(&src, base);
                    e.context(format!("{loc}: in the profile named by `extends`"))
                })?;
        }
        if let Some(dir) = &src.dir {
            // overlays/ beside the profiles/ folder the file sits in, and beside the file.
            merged.overlay_dirs.insert(0, dir.join("overlays"));
            merged.overlay_dirs.insert(0, dir.join("../overlays"));
        }
        merge(merged, raw, &src);
        Ok(())
    }
}
