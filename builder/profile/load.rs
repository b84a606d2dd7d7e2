//! Loading a profile: find it, parse it, follow `extends` (refusing loops and deep chains),
//! lay the files over each other, then validate the whole.

use std::sync::Arc;

use anyhow::Result;

use super::merge::{merge, At, Merged};
use super::raw::{parse_raw, RawProfile};
use super::source::{Loc, Lookup, Origin, Source};
use super::types::Profile;
use super::validate::validate;
use crate::util::error::Error;
use crate::util::model::KubeMinor;

/// How many files a chain of `extends` may hold.
const MAX_DEPTH: usize = 8;

impl Lookup {
    /// Loads, merges (`extends`) and validates a profile.
    pub fn load(&self, spec: &str) -> Result<Profile> {
        self.load_source(self.find(spec, None)?)
    }

    /// Loads a profile from text, shown as `name` in errors (its relative `extends` paths
    /// are not followed: it has no folder). For tests and fuzzing.
    pub fn load_text(&self, name: &str, text: &str) -> Result<Profile> {
        self.load_source(Arc::new(Source {
            id: name.to_string(),
            name: name.to_string(),
            dir: None,
            text: text.to_string(),
            origin: Origin::Path,
            shipped: None,
        }))
    }

    /// [`Lookup::load`], with the profile's `kubernetes` replaced by `minor` (`render
    /// --kubernetes`) before validation, so everything derived from the minor (the pause
    /// image, the kubelet flags, the checks) follows it.
    pub fn load_for_minor(&self, spec: &str, minor: Option<KubeMinor>) -> Result<Profile> {
        let mut merged = Merged::default();
        self.load_chain(self.find(spec, None)?, &mut merged, &mut Vec::new())?;
        if let Some(minor) = minor {
            let text = minor.to_string();
            let src = Arc::new(Source {
                id: "--kubernetes".into(),
                name: "--kubernetes".into(),
                dir: None,
                text: text.clone(),
                origin: super::source::Origin::Path,
                shipped: None,
            });
            merged.kubernetes = Some(At {
                src,
                v: toml::Spanned::new(0..text.len(), text),
            });
        }
        validate(merged)
    }

    fn load_source(&self, src: Arc<Source>) -> Result<Profile> {
        let mut merged = Merged::default();
        self.load_chain(src, &mut merged, &mut Vec::new())?;
        validate(merged)
    }

    /// `chain` holds (identity, shown name) of the files on the way here.
    fn load_chain(
        &self,
        src: Arc<Source>,
        merged: &mut Merged,
        chain: &mut Vec<(String, String)>,
    ) -> Result<()> {
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
        // A big profile of the usual shape, a table at a time; anything else (errors
        // included) through the whole parse.
        let raw = match super::chunks::parse(&src.text).filter(RawProfile::schema_is_current) {
            Some(raw) => raw,
            None => parse_raw(&src)?,
        };
        if let Some(base) = &raw.extends {
            self.find(base.get_ref(), src.dir.as_deref())
                .and_then(|base_src| self.load_chain(base_src, merged, chain))
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
