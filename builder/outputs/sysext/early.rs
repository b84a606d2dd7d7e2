//! The checks `render --format sysext` makes before any download: that every install rule puts
//! its files where an extension can carry them (and the runtime's units under /usr, where the
//! image can enable them), and, without `--sysext-url`, that the image could fit embedded in
//! ignition.json at all, judged from the artifacts' download sizes.

use anyhow::Result;

use crate::bootstrap::cloud::Cloud;
use crate::profile::{Artifact, InstallRule, Profile};
use crate::util::error::Error;
use crate::util::model::{Arch, Unit};
use crate::util::progress::size_text;

/// The folders an extension carries: the image holds the first two, the Ignition config the
/// files in the other two.
const CARRIED: [&str; 4] = ["/usr/", "/opt/", "/etc/", "/var/"];

/// How much larger than the image an embedded config can hold the artifacts' download may be
/// before the render is refused early. The image is squashfs with gzip, the archives mostly
/// gzip too, so an image is rarely much smaller than what it was cut from; the margin leaves
/// room for archives of which only a part is installed. Nearer the limit, the render builds
/// the image and the config's own size check decides.
pub const EMBED_MARGIN: u64 = 8;

/// Every install rule of `profile`, checked against what a system extension can carry and
/// against the units `units` (the runtime's, which builder enables) being under /usr.
pub fn check_install_rules(profile: &Profile, units: &[Unit]) -> Result<()> {
    for a in &profile.artifacts {
        for rule in &a.install {
            check_rule(a, rule, units)?;
        }
    }
    Ok(())
}

fn check_rule(a: &Artifact, rule: &InstallRule, units: &[Unit]) -> Result<()> {
    if !CARRIED.iter().any(|p| rule.to.starts_with(p)) {
        return Err(rule.loc.error(format_args!(
            "artifact {}: `to = {:?}` cannot go into a system extension: the image carries /usr and /opt, \
             the Ignition config the files in /etc and /var; change this rule's `to` (binaries under \
             /usr/local/bin/), or render without --format sysext",
            a.name, rule.to
        )));
    }
    let Some(name) = installed_name(a, rule) else {
        return Ok(());
    };
    let Some(unit) = units.iter().find(|u| u.name == name) else {
        return Ok(());
    };
    let path = if rule.to.ends_with('/') {
        format!("{}{name}", rule.to)
    } else {
        rule.to.clone()
    };
    if path.starts_with("/usr/") {
        return Ok(());
    }
    Err(rule.loc.error(format_args!(
        "artifact {}: the unit {name} is installed at {path}, but a system extension can only enable a unit \
         its image carries (under /usr; builder links it into {}.wants/ there); change this rule's `to` to \
         \"/usr/local/lib/systemd/system/{name}\", or render without --format sysext",
        a.name, unit.wanted_by
    )))
}

/// The file name a rule installs, where the profile alone tells: its `to`'s last segment, a
/// bare file's URL name in a `to` folder, or a literal `from` member name in a `to` folder.
fn installed_name<'a>(a: &'a Artifact, rule: &'a InstallRule) -> Option<&'a str> {
    if !rule.to.ends_with('/') {
        return rule.to.rsplit('/').next();
    }
    match &rule.from {
        None => Some(a.url_file_name()),
        Some(from) => {
            let last = from.rsplit('/').next()?;
            (!last.contains(['*', '?', '[', '{'])).then_some(last)
        }
    }
}

/// One arch's downloads with their sizes, where known.
pub struct Download<'a> {
    pub what: &'a str,
    pub size: Option<u64>,
}

/// Without `--sysext-url` the image is embedded in ignition.json as base64: refuses when the
/// arch's downloads (those whose size is known) are more than [`EMBED_MARGIN`] times what the
/// cloud's limit could hold.
pub fn check_embeddable(
    profile: &str,
    arch: Arch,
    cloud: Cloud,
    downloads: &[Download],
) -> Result<()> {
    let limit = cloud.limit() as u64;
    let holds = limit / 4 * 3;
    let total: u64 = downloads.iter().filter_map(|d| d.size).sum();
    if total <= holds.saturating_mul(EMBED_MARGIN) {
        return Ok(());
    }
    let mut known: Vec<&Download> = downloads.iter().filter(|d| d.size.is_some()).collect();
    known.sort_by_key(|d| std::cmp::Reverse(d.size));
    let largest = known
        .iter()
        .take(3)
        .map(|d| format!("{} {}", d.what, size_text(d.size.unwrap_or(0))))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::Input(format!(
        "profile {profile} ({arch}): without --sysext-url the system extension image is embedded in \
         ignition.json, and the {cloud} limit of {limit} bytes holds an image of at most about {holds} bytes; \
         the artifacts alone are {} to download ({largest}), so the image cannot fit. Give --sysext-url \
         TEMPLATE (the URL nodes download the image from, with {{arch}}; the config then pins its sha256). \
         Nothing was downloaded",
        size_text(total)
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::tests::{load_text, MINIMAL};

    const UNITS: [Unit; 1] = [Unit {
        name: "containerd.service",
        wanted_by: "multi-user.target",
    }];

    fn with_unit(to: &str) -> Profile {
        load_text(&format!(
            "{MINIMAL}\n[[artifact]]\nname = \"unit\"\nversion = \"2.3.4\"\n\
             url = \"https://example.invalid/containerd.service\"\ninstall = [{{ to = \"{to}\" }}]\n"
        ))
        .unwrap()
    }

    #[test]
    fn install_rules_under_the_carried_folders_pass() {
        for to in [
            "/usr/local/lib/systemd/system/",
            "/usr/local/lib/systemd/system/containerd.service",
            "/usr/lib/systemd/system/",
        ] {
            check_install_rules(&with_unit(to), &UNITS).unwrap();
        }
        // A unit builder does not enable may live in /etc (the config writes it).
        let p = with_unit("/etc/systemd/system/other.service");
        check_install_rules(&p, &UNITS).unwrap();
    }

    #[test]
    fn a_runtime_unit_in_etc_names_the_rule_and_its_to() {
        for to in [
            "/etc/systemd/system/",
            "/etc/systemd/system/containerd.service",
        ] {
            let e = format!(
                "{:#}",
                check_install_rules(&with_unit(to), &UNITS).unwrap_err()
            );
            assert!(e.contains("p.toml:"), "{e}");
            assert!(e.contains("artifact unit: the unit containerd.service is installed at /etc/systemd/system/containerd.service"), "{e}");
            assert!(
                e.contains("`to` to \"/usr/local/lib/systemd/system/containerd.service\""),
                "{e}"
            );
            assert!(!e.contains(".wants/containerd.service"), "{e}");
        }
    }

    #[test]
    fn a_rule_outside_the_carried_folders_is_refused() {
        let p = load_text(&MINIMAL.replace("/usr/local/sbin/runc", "/srv/bin/runc")).unwrap();
        let e = format!("{:#}", check_install_rules(&p, &UNITS).unwrap_err());
        assert!(
            e.contains("artifact runc: `to = \"/srv/bin/runc\"` cannot go into a system extension"),
            "{e}"
        );
    }

    #[test]
    fn embedding_is_refused_early_only_far_over_the_limit() {
        let d = |size| Download {
            what: "runc 1.4.3",
            size,
        };
        // AWS holds about 12 kB of image; 8 times that in downloads still goes on.
        let holds = 16_384 / 4 * 3;
        check_embeddable(
            "t",
            Arch::Amd64,
            Cloud::Aws,
            &[d(Some(holds * EMBED_MARGIN))],
        )
        .unwrap();
        check_embeddable("t", Arch::Amd64, Cloud::Aws, &[d(None), d(Some(10))]).unwrap();
        let e = format!(
            "{:#}",
            check_embeddable(
                "t",
                Arch::Amd64,
                Cloud::Aws,
                &[d(Some(11_000_000)), d(None)]
            )
            .unwrap_err()
        );
        assert!(
            e.contains("profile t (amd64)") && e.contains("aws limit of 16384 bytes"),
            "{e}"
        );
        assert!(
            e.contains("(runc 1.4.3 11.0 MB)") && e.contains("Give --sysext-url"),
            "{e}"
        );
        // GCP holds 16 times as much: the same download is still refused, a small one not.
        check_embeddable("t", Arch::Amd64, Cloud::Gcp, &[d(Some(1_000_000))]).unwrap();
        check_embeddable("t", Arch::Amd64, Cloud::Gcp, &[d(Some(11_000_000))]).unwrap_err();
    }
}
