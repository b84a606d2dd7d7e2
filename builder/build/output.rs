//! The output folder: a render builds in a staging folder inside OUT and, once everything
//! succeeded, swaps the whole OUT/<profile>/ in with one atomic rename (arches not rendered
//! this time are carried over first, by hard link), so a failure at any point leaves OUT as it
//! was. A lock on the OUT folder itself (flock on its descriptor; no lock file is left) makes
//! concurrent renders into one OUT wait for each other instead of interleaving; holding it, a
//! render removes staging folders that killed renders left behind.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::util::model::Arch;

/// Staging folders in OUT start with this.
pub const STAGING_PREFIX: &str = ".builder-staging-";

/// Refuses an OUT that cannot hold `<OUT>/<profile>/` (OUT, one of its parents, or the
/// profile's folder in it is a file), before anything is downloaded.
pub fn check_out(out: &Path, profile: &str) -> Result<()> {
    let target = out.join(profile);
    for p in target.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(crate::util::error::Error::Input(format!(
                    "--out {}: {} is a file, not a folder; name a folder for the output (it is created if missing)",
                    out.display(),
                    p.display()
                ))
                .into())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("--out {}: inspecting {}", out.display(), p.display())))
            }
        }
    }
    Ok(())
}

pub struct Staging {
    out: PathBuf,
    profile: String,
    created_out: bool,
    tmp: Option<tempfile::TempDir>,
    /// Removes the staging folder on SIGINT/SIGTERM; dropped after `tmp` is removed.
    _on_signal: crate::util::interrupt::Registered,
    /// Held (flock) until the Staging is dropped.
    _lock: File,
}

impl Staging {
    /// Locks OUT (waiting for another render into it), removes what killed renders left,
    /// and starts a staging folder for `profile`.
    pub fn begin(out: &Path, profile: &str) -> Result<Staging> {
        let created_out = !out.exists();
        fs::create_dir_all(out)
            .with_context(|| format!("creating output folder {}", out.display()))?;
        let lock = File::open(out).with_context(|| format!("opening {}", out.display()))?;
        crate::util::lock::exclusive(&lock, &format!("the output folder {}", out.display()))?;
        sweep(out)?;
        let tmp = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(out)
            .with_context(|| format!("creating a staging folder in {}", out.display()))?;
        let on_signal =
            crate::util::interrupt::register(tmp.path(), crate::util::interrupt::Kind::Staging);
        Ok(Staging {
            out: out.to_path_buf(),
            profile: profile.to_string(),
            created_out,
            tmp: Some(tmp),
            _on_signal: on_signal,
            _lock: lock,
        })
    }

    fn tmp_path(&self) -> &Path {
        self.tmp.as_ref().map_or(&self.out, |t| t.path())
    }

    /// The staged OUT/<profile>/.
    fn staged_profile(&self) -> PathBuf {
        self.tmp_path().join(&self.profile)
    }

    /// The staging folder for one arch (created).
    pub fn arch_dir(&self, arch: Arch) -> Result<PathBuf> {
        let dir = self.staged_profile().join(arch.as_str());
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    pub fn final_dir(&self, arch: Arch) -> PathBuf {
        self.out.join(&self.profile).join(arch.as_str())
    }

    /// Puts the staged OUT/<profile>/ in place with one rename: whatever of the previous one
    /// this render did not rebuild (other arches) is carried into the staged folder first.
    /// Once the new output is in place, removing the previous one is best effort: what could
    /// not be removed (a mount point, an immutable file) is returned as a warning, not an
    /// error, and the next render's sweep tries again.
    pub fn commit(mut self, arches: &[Arch]) -> Result<Option<String>> {
        // A signal now waits for the swap: it must not remove what is being moved into place.
        let _hold = crate::util::interrupt::hold();
        let staged = self.staged_profile();
        let target = self.out.join(&self.profile);
        if target.is_dir() {
            for entry in
                fs::read_dir(&target).with_context(|| format!("listing {}", target.display()))?
            {
                let entry = entry.with_context(|| format!("listing {}", target.display()))?;
                let name = entry.file_name();
                let rebuilt = arches.iter().any(|a| name == a.as_str());
                if !rebuilt {
                    link_tree(&entry.path(), &staged.join(&name))?;
                }
            }
            exchange(&staged, &target)?;
        } else {
            fs::rename(&staged, &target)
                .with_context(|| format!("moving the new output to {}", target.display()))?;
        }
        self.created_out = false;
        // The staging folder now holds the previous output, swapped into it.
        let Some(tmp) = self.tmp.take() else {
            return Ok(None);
        };
        let left = remove_tree(&tmp.keep());
        Ok((!left.is_empty()).then(|| {
            format!(
                "the new output is in place, but the previous one was not wholly removed: {}; \
                 remove what is left by hand (the next render into {} tries again)",
                left.join("; "),
                self.out.display()
            )
        }))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = tmp.close();
        }
        if self.created_out {
            // Only removes it when nothing else is in it.
            let _ = fs::remove_dir(&self.out);
        }
    }
}

/// Removes staging folders in `out` (the caller holds OUT's lock, so none is live): left by
/// a render that was killed, or by one that could not remove all of a previous output. What
/// cannot be removed is reported on stderr and left; it does not stop this render.
fn sweep(out: &Path) -> Result<()> {
    for entry in fs::read_dir(out).with_context(|| format!("listing {}", out.display()))? {
        let entry = entry.with_context(|| format!("listing {}", out.display()))?;
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX));
        if stale {
            let left = remove_tree(&entry.path());
            if !left.is_empty() {
                eprintln!(
                    "warning: cannot remove {} (left by an earlier render): {}; remove it by hand",
                    entry.path().display(),
                    left.join("; ")
                );
            }
        }
    }
    Ok(())
}

/// Removes the tree at `root` without crossing into another filesystem: a mount point inside
/// is left as it is, with what is mounted on it. Returns what was left and why (empty when
/// everything went).
pub fn remove_tree(root: &Path) -> Vec<String> {
    let mut left = Vec::new();
    match fs::symlink_metadata(root) {
        Ok(meta) if meta.is_dir() => remove_below(root, meta.dev(), &mut left),
        Ok(_) => {
            if let Err(e) = fs::remove_file(root) {
                left.push(format!("{}: {e}", root.display()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => left.push(format!("{}: {e}", root.display())),
    }
    left
}

fn remove_below(dir: &Path, dev: u64, left: &mut Vec<String>) {
    let before = left.len();
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return left.push(format!("{}: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() && m.dev() != dev => {
                left.push(format!("{}: a mount point, not crossed", path.display()));
            }
            Ok(m) if m.is_dir() => remove_below(&path, dev, left),
            Ok(_) => {
                if let Err(e) = fs::remove_file(&path) {
                    left.push(format!("{}: {e}", path.display()));
                }
            }
            Err(e) => left.push(format!("{}: {e}", path.display())),
        }
    }
    // A folder on the way to something left stays (and is not reported again).
    if let Err(e) = fs::remove_dir(dir) {
        if left.len() == before {
            left.push(format!("{}: {e}", dir.display()));
        }
    }
}

/// Swaps two paths atomically (renameat2 RENAME_EXCHANGE). Where the filesystem cannot, two
/// renames, with the first undone if the second fails.
fn exchange(staged: &Path, target: &Path) -> Result<()> {
    let cwd = rustix::fs::CWD;
    match rustix::fs::renameat_with(cwd, staged, cwd, target, rustix::fs::RenameFlags::EXCHANGE) {
        Ok(()) => return Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
        Err(e) => {
            return Err(anyhow::Error::new(io::Error::from(e))
                .context(format!("swapping the new output into {}", target.display())))
        }
    }
    let aside = staged.with_extension("previous");
    fs::rename(target, &aside)
        .with_context(|| format!("moving the previous {} aside", target.display()))?;
    if let Err(e) = fs::rename(staged, target) {
        let _ = fs::rename(&aside, target);
        return Err(
            anyhow::Error::new(e).context(format!("moving the new output to {}", target.display()))
        );
    }
    // Where the exchange would have left the previous output: inside the staging folder. If
    // that fails, it stays where it is, also in the staging folder, and goes with it.
    let _ = fs::rename(&aside, staged);
    Ok(())
}

/// Recreates `from` at `to` with hard links (copies where a link is not possible): folders
/// with their modes, links as links.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    let meta =
        fs::symlink_metadata(from).with_context(|| format!("inspecting {}", from.display()))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        fs::create_dir(to).with_context(|| format!("creating {}", to.display()))?;
        fs::set_permissions(to, meta.permissions())
            .with_context(|| format!("setting the mode of {}", to.display()))?;
        for entry in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
            let entry = entry.with_context(|| format!("listing {}", from.display()))?;
            link_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if ft.is_symlink() {
        let target =
            fs::read_link(from).with_context(|| format!("reading link {}", from.display()))?;
        std::os::unix::fs::symlink(target, to)
            .with_context(|| format!("creating the link {}", to.display()))?;
    } else if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(out: &Path, arch: Arch, text: &str) -> Staging {
        let s = Staging::begin(out, "p").unwrap();
        let dir = s.arch_dir(arch).unwrap();
        fs::write(dir.join("f"), text).unwrap();
        s
    }

    #[test]
    fn commit_swaps_the_profile_and_carries_other_arches() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        staged(&out, Arch::Amd64, "a1")
            .commit(&[Arch::Amd64])
            .unwrap();
        staged(&out, Arch::Arm64, "b1")
            .commit(&[Arch::Arm64])
            .unwrap();
        assert_eq!(fs::read_to_string(out.join("p/amd64/f")).unwrap(), "a1");
        assert_eq!(fs::read_to_string(out.join("p/arm64/f")).unwrap(), "b1");
        staged(&out, Arch::Amd64, "a2")
            .commit(&[Arch::Amd64])
            .unwrap();
        assert_eq!(fs::read_to_string(out.join("p/amd64/f")).unwrap(), "a2");
        assert_eq!(fs::read_to_string(out.join("p/arm64/f")).unwrap(), "b1");
        let names: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["p"]);
    }

    #[test]
    fn a_dropped_staging_leaves_out_as_it_was_and_stale_ones_are_swept() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        staged(&out, Arch::Amd64, "a1")
            .commit(&[Arch::Amd64])
            .unwrap();
        drop(staged(&out, Arch::Amd64, "a2"));
        assert_eq!(fs::read_to_string(out.join("p/amd64/f")).unwrap(), "a1");
        // What a killed render leaves: a staging folder nobody holds.
        fs::create_dir_all(out.join(".builder-staging-dead/p/amd64")).unwrap();
        staged(&out, Arch::Amd64, "a3")
            .commit(&[Arch::Amd64])
            .unwrap();
        assert!(!out.join(".builder-staging-dead").exists());
        // A render that fails into a folder it created leaves no folder.
        let fresh = d.path().join("fresh");
        drop(staged(&fresh, Arch::Amd64, "x"));
        assert!(!fresh.exists());
    }

    #[test]
    fn an_out_that_is_a_file_is_refused_and_a_missing_one_is_fine() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("file");
        fs::write(&file, "x").unwrap();
        for out in [file.clone(), file.join("below")] {
            let e = format!("{:#}", check_out(&out, "p").unwrap_err());
            assert!(e.contains("is a file, not a folder"), "{e}");
        }
        fs::create_dir(d.path().join("out")).unwrap();
        fs::write(d.path().join("out/p"), "x").unwrap();
        assert!(check_out(&d.path().join("out"), "p").is_err());
        check_out(&d.path().join("out"), "q").unwrap();
        check_out(&d.path().join("new/deeper"), "p").unwrap();
        check_out(Path::new("relative-new"), "p").unwrap();
    }

    #[test]
    fn the_fallback_swap_keeps_the_previous_output_on_failure() {
        let d = tempfile::tempdir().unwrap();
        let (staged, target) = (d.path().join("s"), d.path().join("t"));
        fs::create_dir(&staged).unwrap();
        fs::create_dir(&target).unwrap();
        fs::write(staged.join("f"), "new").unwrap();
        fs::write(target.join("f"), "old").unwrap();
        exchange(&staged, &target).unwrap();
        assert_eq!(fs::read_to_string(target.join("f")).unwrap(), "new");
        assert_eq!(fs::read_to_string(staged.join("f")).unwrap(), "old");
    }
}
