//! Which runtime releases fit a Kubernetes minor (`data/compat.toml`, each row with its
//! source): the check that refuses a profile pairing containerd or cri-dockerd with a minor its
//! project does not support, and the retargeting behind `render --kubernetes MINOR`, which
//! picks the newest release the catalog pins for that minor.
//!
//! Only the runtime is governed (containerd, containerd-static, cri-dockerd) and, for
//! retargeting, crictl (same minor where the catalog pins it); runc, the CNI plugins and
//! Docker Engine follow no Kubernetes minor.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::profile::catalog::Catalog;
use crate::profile::{Lookup, Profile};
use crate::util::error::Error;
use crate::util::model::{version_triple, Arch, KubeMinor};

const BUILTIN: &str = include_str!("data/compat.toml");

/// A release line from a patch on: `1.6.15` is 1.6.15, 1.6.16, ... but not 1.7.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    major: u32,
    minor: u32,
    patch: u32,
}

impl Line {
    fn holds(self, version: &str) -> bool {
        let (ma, mi, pa) = version_triple(version);
        ma == self.major && mi == self.minor && pa >= self.patch
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}+", self.major, self.minor, self.patch)
    }
}

/// The table: project (`containerd`, `cri-dockerd`) -> minor -> the supported lines.
#[derive(Debug)]
pub struct Compat {
    rows: BTreeMap<String, BTreeMap<KubeMinor, Vec<Line>>>,
}

/// What the table says of one artifact's version with one minor.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    /// Listed as supported.
    Supported,
    /// Not supported; the supported lines, as `1.7.0+ or 1.6.15+` (empty: none at all).
    Unsupported(String),
    /// The table says nothing (an artifact it does not govern, or a minor it has no row for).
    Unknown,
}

impl Compat {
    /// The table compiled into the binary.
    pub fn builtin() -> Result<Compat> {
        Compat::parse(BUILTIN).map_err(|e| {
            Error::Internal(format!("built-in compatibility table is malformed: {e}")).into()
        })
    }

    pub fn parse(text: &str) -> std::result::Result<Compat, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        let mut rows = BTreeMap::new();
        for (project, minors) in table {
            let minors = minors
                .as_table()
                .ok_or_else(|| format!("[{project}] is not a table"))?;
            let mut by_minor = BTreeMap::new();
            for (minor, lines) in minors {
                let m: KubeMinor = minor
                    .parse()
                    .map_err(|e| format!("{project}.{minor:?}: {e}"))?;
                let lines = lines
                    .as_array()
                    .ok_or_else(|| format!("{project}.{minor:?} is not a list"))?
                    .iter()
                    .map(|v| {
                        let s = v.as_str().unwrap_or("");
                        let (major, minor, patch) = version_triple(s);
                        (crate::util::model::valid_version(s))
                            .then_some(Line {
                                major,
                                minor,
                                patch,
                            })
                            .ok_or_else(|| format!("{project}: {s:?} is not X.Y.Z"))
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                by_minor.insert(m, lines);
            }
            rows.insert(project, by_minor);
        }
        Ok(Compat { rows })
    }

    /// The project whose row governs artifact `name`.
    fn project(name: &str) -> Option<&'static str> {
        match name {
            "containerd" | "containerd-static" => Some("containerd"),
            "cri-dockerd" => Some("cri-dockerd"),
            _ => None,
        }
    }

    /// Does `version` of artifact `name` fit `minor`?
    pub fn fit(&self, name: &str, version: &str, minor: KubeMinor) -> Fit {
        let Some(lines) = Compat::project(name)
            .and_then(|p| self.rows.get(p))
            .map(|by| by.get(&minor))
        else {
            return Fit::Unknown;
        };
        let Some(lines) = lines else {
            return Fit::Unsupported(String::new());
        };
        if lines.iter().any(|l| l.holds(version)) {
            Fit::Supported
        } else {
            Fit::Unsupported(
                lines
                    .iter()
                    .map(Line::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
            )
        }
    }

    /// The minors the table has a row for, of the project governing `name`.
    pub fn minors(&self, name: &str) -> Vec<KubeMinor> {
        Compat::project(name)
            .and_then(|p| self.rows.get(p))
            .map_or_else(Vec::new, |by| by.keys().copied().collect())
    }
}

/// Every governed artifact of `profile` that does not fit its minor: a sentence each, and
/// whether the profile pins it itself (else the catalog does, and `--kubernetes` can pick).
pub fn misfits(profile: &Profile, table: &Compat) -> Vec<(String, bool)> {
    let minor = profile.kubernetes;
    profile
        .artifacts
        .iter()
        .filter_map(|a| {
            let own = a.pins.any.is_some() || !a.pins.per_arch.is_empty();
            let what = match table.fit(&a.name, &a.version, minor) {
                Fit::Unsupported(lines) if lines.is_empty() => "no release".to_string(),
                Fit::Unsupported(lines) => lines,
                _ => return None,
            };
            Some((
                format!(
                    "{} {} with Kubernetes {minor}: its project supports {what} with that minor",
                    a.name, a.version
                ),
                own,
            ))
        })
        .collect()
}

/// The profile narrowed to the arches `--arch` asks for, when it has them all and they are
/// fewer (else None: the render's own arch check names a missing one).
fn narrowed(profile: &Profile, asked: &[Arch]) -> Option<Profile> {
    let fewer = asked.iter().all(|a| profile.arches.contains(a))
        && profile.arches.iter().any(|a| !asked.contains(a));
    fewer.then(|| {
        let mut p = profile.clone();
        p.arches.retain(|a| asked.contains(a));
        p
    })
}

/// Loads profile `spec` for the minor it is rendered for (`minor`, from `--kubernetes`, else
/// its own), its catalog-pinned runtime retargeted to fit ([`retarget`]: a profile that only
/// says `kubernetes = "1.27"` over a shipped one gets a runtime for 1.27); a runtime that
/// still does not fit (pinned by the profile itself, or no pinned release fits) is refused.
/// With `allow_unsupported` nothing is swapped and every misfit is a warning in the profile's
/// warnings. Returns the profile and a note per retargeted artifact.
pub fn load_fitted(
    spec: &str,
    minor: Option<KubeMinor>,
    allow_unsupported: bool,
    arches: &[Arch],
    catalog: &Catalog,
) -> Result<(Profile, Vec<String>)> {
    let loaded = Lookup::default().load_for_minor(spec, minor)?;
    let table = Compat::builtin()?;
    let target = loaded.kubernetes;
    let fit = |mut profile: Profile| {
        let notes: Vec<String> = match allow_unsupported {
            true => Vec::new(),
            false => retarget(&mut profile, target, &table, catalog)
                .into_iter()
                .map(|c| match minor {
                    Some(m) => format!("--kubernetes {m}: {c}"),
                    None => format!("Kubernetes {target}: {c}"),
                })
                .collect(),
        };
        (profile, notes)
    };
    // A release pinned for some arches only (containerd 1.5: amd64) fits a render of those:
    // the profile is narrowed to `--arch` only when the whole one finds nothing that fits.
    let narrow = narrowed(&loaded, arches);
    let (mut profile, mut notes) = fit(loaded);
    if let Some(narrow) = narrow.filter(|_| !misfits(&profile, &table).is_empty()) {
        let (p, n) = fit(narrow);
        if misfits(&p, &table).is_empty() {
            (profile, notes) = (p, n);
        }
    }
    let misfits = misfits(&profile, &table);
    if misfits.is_empty() {
        return Ok((profile, notes));
    }
    let sentences: Vec<&str> = misfits.iter().map(|(s, _)| s.as_str()).collect();
    if allow_unsupported {
        let warned = sentences
            .iter()
            .map(|s| format!("{s} (--allow-unsupported)"));
        profile.warnings.extend(warned);
        return Ok((profile, notes));
    }
    let fix = if misfits.iter().all(|(_, own)| !own) {
        "builder's catalog pins no release that fits: pin one in a profile of your own \
         (set the artifact's version, then `builder pin --profile FILE --write`)"
    } else {
        "set the artifact's version to one that fits and pin it \
         (`builder pin --profile FILE --write`)"
    };
    Err(Error::Profile(format!(
        "profile {}: {}; {fix}; or pass --allow-unsupported to render it anyway \
         (the table and its sources: docs/src/compatibility.md)",
        profile.name,
        sentences.join("; ")
    ))
    .into())
}

/// Sets `profile`'s minor to `minor` and, for each governed artifact whose pins come from the
/// catalog and whose version does not fit, picks the newest version the catalog pins for every
/// arch of the profile that does (crictl: the one of the same minor, where pinned). Returns a
/// line per change. An artifact pinned by the profile itself is left: [`misfits`] judges it.
pub fn retarget(
    profile: &mut Profile,
    minor: KubeMinor,
    table: &Compat,
    catalog: &Catalog,
) -> Vec<String> {
    profile.kubernetes = minor;
    let arches: Vec<&str> = profile.arches.iter().map(|a| a.as_str()).collect();
    let mut changes = Vec::new();
    for a in &mut profile.artifacts {
        let own_pins = a.pins.any.is_some() || !a.pins.per_arch.is_empty();
        if own_pins {
            continue;
        }
        let pinned = catalog.versions_for_all(&a.name, &arches);
        let choice = if a.name == "crictl" {
            let want = format!("1.{}.", minor.0);
            pinned
                .into_iter()
                .filter(|v| v.starts_with(&want))
                .max_by_key(|v| version_triple(v))
        } else if matches!(table.fit(&a.name, &a.version, minor), Fit::Unsupported(_)) {
            pinned
                .into_iter()
                .filter(|v| table.fit(&a.name, v, minor) == Fit::Supported)
                .max_by_key(|v| version_triple(v))
        } else {
            None
        };
        if let Some(v) = choice.filter(|v| *v != a.version) {
            changes.push(format!(
                "{} {} -> {v} (fits Kubernetes {minor})",
                a.name, a.version
            ));
            a.version = v;
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: u32) -> KubeMinor {
        KubeMinor(n)
    }

    #[test]
    fn the_builtin_table_reads_and_covers_every_minor_from_1_20() {
        let t = Compat::builtin().unwrap();
        let minors = t.minors("containerd");
        assert_eq!(minors, (20..=36).map(KubeMinor).collect::<Vec<_>>());
        assert_eq!(t.minors("containerd-static"), minors);
        assert_eq!(
            t.minors("cri-dockerd"),
            (23..=36).map(KubeMinor).collect::<Vec<_>>()
        );
    }

    #[test]
    fn lines_hold_their_patches_and_no_other_line() {
        let t = Compat::builtin().unwrap();
        assert_eq!(t.fit("containerd", "1.6.39", m(23)), Fit::Supported);
        assert_eq!(t.fit("containerd", "1.5.8", m(23)), Fit::Supported);
        assert_eq!(
            t.fit("containerd", "1.5.7", m(23)),
            Fit::Unsupported("1.6.0+ or 1.5.8+".into())
        );
        assert_eq!(
            t.fit("containerd", "2.3.4", m(23)),
            Fit::Unsupported("1.6.0+ or 1.5.8+".into())
        );
        assert_eq!(t.fit("containerd", "2.3.4", m(36)), Fit::Supported);
        assert!(matches!(
            t.fit("containerd", "2.1.9", m(36)),
            Fit::Unsupported(_)
        ));
        assert_eq!(t.fit("containerd", "2.1.9", m(35)), Fit::Supported);
        assert_eq!(t.fit("containerd", "1.7.34", m(27)), Fit::Supported);
        assert_eq!(t.fit("cri-dockerd", "0.3.26", m(23)), Fit::Supported);
        assert_eq!(
            t.fit("cri-dockerd", "0.3.26", m(22)),
            Fit::Unsupported(String::new())
        );
        assert_eq!(t.fit("runc", "1.4.3", m(23)), Fit::Unknown);
    }

    /// The shipped containerd profile (catalog-pinned) retargeted at `minor`.
    fn shipped_at(minor: u32) -> Result<(Profile, Vec<String>)> {
        load_fitted(
            "containerd",
            Some(m(minor)),
            false,
            &[],
            &Catalog::builtin().unwrap(),
        )
    }

    #[test]
    fn retargeting_picks_the_newest_pinned_release_that_fits() {
        for (minor, want) in [
            (23, "1.6.39"),
            (27, "1.7.34"),
            (30, "2.1.9"),
            (34, "2.1.9"),
            (35, "2.2.7"),
            (36, "2.3.4"),
        ] {
            let (p, notes) = shipped_at(minor).unwrap();
            assert_eq!(p.kubernetes, m(minor));
            assert_eq!(p.artifact("containerd").unwrap().version, want, "1.{minor}");
            assert_eq!(notes.is_empty(), want == "2.3.4", "1.{minor}: {notes:?}");
            let crictl = &p.artifact("crictl").unwrap().version;
            let same = format!("1.{minor}.0");
            let pinned = ["1.33.0", "1.34.0", "1.35.0", "1.36.0"].contains(&same.as_str());
            assert_eq!(crictl == &same, pinned, "1.{minor}: crictl {crictl}");
            // What follows the minor came from it, not from the profile's 1.36.
            let plan =
                crate::profile::plan::Plan::resolve(p, &Catalog::builtin().unwrap()).unwrap();
            let (pause, _) = m(minor).kubeadm_pause_image();
            assert_eq!(plan.sandbox_image, pause, "1.{minor}");
        }
    }

    #[test]
    fn a_minor_no_pinned_release_fits_is_refused_with_the_range_and_the_fix() {
        // The catalog pins containerd 1.5 (for 1.20-1.22) for amd64 only; the shipped profile is
        // for amd64 and arm64.
        let e = format!("{:#}", shipped_at(22).unwrap_err());
        assert!(
            e.contains("containerd 2.3.4 with Kubernetes 1.22: its project supports 1.5.5+"),
            "{e}"
        );
        assert!(
            e.contains("builder pin") && e.contains("--allow-unsupported"),
            "{e}"
        );
        let cat = Catalog::builtin().unwrap();
        let (p, _) = load_fitted("containerd", Some(m(22)), true, &[], &cat).unwrap();
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("(--allow-unsupported)")),
            "{:?}",
            p.warnings
        );
        // cri-dockerd 0.3 serves CRI v1 only: no kubelet before 1.23 speaks it.
        let e = format!(
            "{:#}",
            load_fitted("cri-dockerd", Some(m(22)), false, &[], &cat).unwrap_err()
        );
        assert!(
            e.contains("cri-dockerd 0.3.26 with Kubernetes 1.22: its project supports no release"),
            "{e}"
        );
    }

    #[test]
    fn arch_narrows_the_profile_so_a_release_pinned_for_that_arch_alone_fits() {
        let cat = Catalog::builtin().unwrap();
        let (p, notes) =
            load_fitted("containerd", Some(m(22)), false, &[Arch::Amd64], &cat).unwrap();
        assert_eq!(p.arches, [Arch::Amd64]);
        assert_eq!(p.artifact("containerd").unwrap().version, "1.5.18");
        assert_eq!(
            notes,
            ["--kubernetes 1.22: containerd 2.3.4 -> 1.5.18 (fits Kubernetes 1.22)"]
        );
        // arm64 has no 1.5 archive: still refused.
        assert!(load_fitted("containerd", Some(m(22)), false, &[Arch::Arm64], &cat).is_err());
        // An arch the profile lacks leaves it whole (render's own check then names it).
        let (p, _) = load_fitted(
            "containerd",
            Some(m(36)),
            false,
            &[Arch::Amd64, Arch::S390x],
            &cat,
        )
        .unwrap();
        assert_eq!(p.arches.len(), 2);
    }

    #[test]
    fn a_malformed_table_is_refused() {
        for bad in [
            "[containerd]\n\"1.x\" = [\"1.6.0\"]\n",
            "[containerd]\n\"1.23\" = [\"1.6\"]\n",
            "[containerd]\n\"1.23\" = \"1.6.0\"\n",
        ] {
            assert!(Compat::parse(bad).is_err(), "{bad}");
        }
    }
}
