//! The output folder: every arch is built in a staging folder inside OUT and only moved to
//! OUT/<profile>/<arch> once everything succeeded, so a failure leaves OUT as it was.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::Arch;

pub struct Staging {
    out: PathBuf,
    profile: String,
    created_out: bool,
    tmp: Option<tempfile::TempDir>,
}

impl Staging {
    pub fn begin(out: &Path, profile: &str) -> Result<Staging> {
        let created_out = !out.exists();
        fs::create_dir_all(out)
            .with_context(|| format!("creating output folder {}", out.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(".builder-staging-")
            .tempdir_in(out)
            .with_context(|| format!("creating a staging folder in {}", out.display()))?;
        Ok(Staging {
            out: out.to_path_buf(),
            profile: profile.to_string(),
            created_out,
            tmp: Some(tmp),
        })
    }

    /// The staging folder for one arch (created).
    pub fn arch_dir(&self, arch: Arch) -> Result<PathBuf> {
        let dir = self.tmp_path().join(arch.as_str());
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    fn tmp_path(&self) -> &Path {
        self.tmp.as_ref().map_or(&self.out, |t| t.path())
    }

    pub fn final_dir(&self, arch: Arch) -> PathBuf {
        self.out.join(&self.profile).join(arch.as_str())
    }

    /// Moves every staged arch into place, replacing what was there.
    pub fn commit(mut self, arches: &[Arch]) -> Result<()> {
        let parent = self.out.join(&self.profile);
        fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        for arch in arches {
            let staged = self.tmp_path().join(arch.as_str());
            let target = self.final_dir(*arch);
            let old = self.tmp_path().join(format!("{}.old", arch.as_str()));
            let had_old = target.exists();
            if had_old {
                fs::rename(&target, &old)
                    .with_context(|| format!("moving the previous {} aside", target.display()))?;
            }
            if let Err(e) = fs::rename(&staged, &target) {
                if had_old {
                    let _ = fs::rename(&old, &target);
                }
                return Err(anyhow::Error::new(e)
                    .context(format!("moving the new output to {}", target.display())));
            }
        }
        // Dropping the TempDir removes the old outputs moved aside.
        if let Some(tmp) = self.tmp.take() {
            tmp.close().with_context(|| {
                format!("removing the staging folder in {}", self.out.display())
            })?;
        }
        self.created_out = false;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = tmp.close();
        }
        if self.created_out {
            // Only removes it when empty: nothing of ours was kept.
            let _ = fs::remove_dir(&self.out);
        }
    }
}
