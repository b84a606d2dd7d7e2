//! The first-boot self-check: a POSIX sh script that runs before the runtime and the kubelet
//! start and stops the boot with one line when the base image cannot run what the overlay was
//! rendered for. It checks (1) that the node's `kubelet --version` has the profile's Kubernetes
//! minor (the overlay ships no kubelet unless the profile has a kubelet artifact, so this is
//! usually the base image's), and (2) for cri-dockerd, that a kernel with AppArmor enabled has
//! `apparmor_parser` when the profile's Docker Engine cannot start containers without it.
//!
//! Bytes only: cloud-init's runcmd runs it (`cloudinit`); the Ignition path does not (yet).

use crate::bootstrap::sh::{quote, say_and_die};
use crate::util::model::KubeMinor;

/// Where user-data writes the script (mode 0755); runcmd runs it before any unit starts.
pub const NODE_CHECK_PATH: &str = "/usr/local/sbin/builder-node-check";

/// The first Docker Engine release that starts containers on a kernel with AppArmor enabled
/// but no `apparmor_parser` (it runs them without the docker-default profile). Docker 23.0.0
/// regressed here (moby/moby#44900); 23.0.1's notes: "Fix containers not starting if the
/// kernel has AppArmor enabled, but apparmor_parser is not available" (moby/moby#44942).
pub const DOCKER_WITHOUT_APPARMOR_PARSER: (u32, u32, u32) = (23, 0, 1);

/// Whether Docker Engine `version` (`20.10.24`, `28.3.3`) needs `apparmor_parser` on a kernel
/// with AppArmor enabled: below [`DOCKER_WITHOUT_APPARMOR_PARSER`], or a version that does not
/// read as numbers (the strict check is the safe side).
pub fn docker_needs_apparmor_parser(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let mut next = || parts.next().flatten();
    match next() {
        None => true,
        Some(major) => {
            (major, next().unwrap_or(0), next().unwrap_or(0)) < DOCKER_WITHOUT_APPARMOR_PARSER
        }
    }
}

/// The AppArmor part for Docker Engine `docker`: fail (before 23.0.1) or warn.
fn apparmor_check(docker: &str) -> String {
    let (verdict, what) = if docker_needs_apparmor_parser(docker) {
        (
            "die \"",
            "Docker Engine $DOCKER cannot start containers without it; install AppArmor's tools in the base image (Debian/Ubuntu package apparmor) or use Docker Engine 23.0.1 or later",
        )
    } else {
        (
            "say \"warning: ",
            "Docker Engine $DOCKER runs containers without its docker-default AppArmor profile; install AppArmor's tools in the base image (Debian/Ubuntu package apparmor) to confine them",
        )
    };
    format!(
        r#"
# Docker Engine loads its docker-default AppArmor profile with apparmor_parser when the kernel
# has AppArmor enabled; before 23.0.1 a missing apparmor_parser stops every container.
DOCKER={docker}
AA=
if [ -r "$SYSFS/module/apparmor/parameters/enabled" ]; then
    read -r AA <"$SYSFS/module/apparmor/parameters/enabled" || true
fi
if [ "$AA" = Y ] && ! command -v apparmor_parser >/dev/null 2>&1; then
    {verdict}the kernel has AppArmor enabled but apparmor_parser is missing: {what}"
fi
"#,
        docker = quote(docker),
    )
}

/// The script's text. `docker`: Docker Engine's version, for cri-dockerd profiles. Environment
/// knobs, for tests and for running it by hand: `BUILDER_SYSFS` (where sysfs is, default
/// `/sys`), `BUILDER_CONSOLE` (where messages also go, default `/dev/console` when writable;
/// empty for none). The kubelet and apparmor_parser are looked up on `PATH`.
pub fn node_check_script(profile: &str, kubernetes: KubeMinor, docker: Option<&str>) -> String {
    let apparmor = docker.map(apparmor_check).unwrap_or_default();
    format!(
        r#"#!/bin/sh
{header}# Checks that this node can run what the overlay was rendered for, before the runtime and the
# kubelet start; exits non-zero with one line naming the problem.
set -eu
set -f
KUBERNETES={kube}
SYSFS="${{BUILDER_SYSFS:-/sys}}"
CONSOLE="${{BUILDER_CONSOLE-/dev/console}}"
NL='
'

{say_and_die}
# The kubelet the node will run: the base image's, or the overlay's when the profile ships one.
KUBELET=$(command -v kubelet) ||
    die "no kubelet on this node (PATH=$PATH) but the overlay was rendered for Kubernetes $KUBERNETES; use a base image with kubelet $KUBERNETES"
OUT=$("$KUBELET" --version 2>&1) || true
# "Kubernetes v1.23.17": the first word that reads vMAJOR.MINOR.
VERSION=
for word in $OUT; do
    case $word in
    v[0-9]*.[0-9]*) VERSION=$word && break ;;
    esac
done
MAJOR=${{VERSION#v}} && MAJOR=${{MAJOR%%.*}}
MINOR=${{VERSION#v*.}} && MINOR=${{MINOR%%[!0-9]*}}
case $MAJOR.$MINOR in
[0-9]*.[0-9]*) ;;
*) die "cannot read the version of $KUBELET ('$KUBELET --version' printed '${{OUT%%"$NL"*}}'); the overlay was rendered for Kubernetes $KUBERNETES" ;;
esac
if [ "$MAJOR.$MINOR" != "$KUBERNETES" ]; then
    die "this node's kubelet is $VERSION (minor $MAJOR.$MINOR) but the overlay was rendered for Kubernetes $KUBERNETES; use a base image with kubelet $KUBERNETES or render with --kubernetes $MAJOR.$MINOR"
fi
{apparmor}"#,
        header = crate::node::header(profile),
        say_and_die = say_and_die("builder-node-check"),
        kube = quote(&kubernetes.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_versions() {
        for (v, strict) in [
            ("20.10.24", true),
            ("23.0.0", true),
            ("v23.0.0", true),
            ("23.0.1", false),
            ("23.0", true),
            ("24.0.9", false),
            ("28.3.3", false),
            ("nightly", true),
        ] {
            assert_eq!(docker_needs_apparmor_parser(v), strict, "{v}");
        }
    }

    #[test]
    fn golden() {
        crate::node::assert_golden(
            "node-check-cri-dockerd.sh",
            &node_check_script("node", KubeMinor(30), Some("20.10.24")),
        );
        let s = node_check_script("node", KubeMinor(30), Some("28.3.3"));
        assert!(
            s.contains("    say \"warning: the kernel has AppArmor enabled"),
            "{s}"
        );
        let s = node_check_script("node", KubeMinor(33), None);
        assert!(
            s.contains("KUBERNETES='1.33'\n") && !s.contains("apparmor"),
            "{s}"
        );
    }
}
