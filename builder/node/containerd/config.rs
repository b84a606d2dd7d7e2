//! `/etc/containerd/config.toml` in the config version of the pinned containerd: 2 for 1.6 and
//! 1.7, 3 for 2.0 to 2.2, 4 for 2.3 and later (CRI plugin paths as in 3). The whole file is
//! written, which also undoes the `disabled_plugins = ["cri"]` some packages ship.

use crate::profile::ContainerdSettings;

/// containerd's config schema version for a containerd release.
pub fn config_version(containerd: (u32, u32, u32)) -> u32 {
    match containerd {
        (0 | 1, _, _) => 2,
        (2, 0..=2, _) => 3,
        _ => 4,
    }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The config text for `version` (2, 3 or 4).
pub fn config_toml(profile: &str, version: u32, s: &ContainerdSettings) -> String {
    let header = crate::node::header(profile);
    let image = q(&s.sandbox_image);
    let hosts = q(&s.config_path);
    let cgroup = s.systemd_cgroup;
    if version == 2 {
        // runtime_type is spelled out: with only runc.options set, 1.x can end up with an
        // empty runtime_type (containerd issues 6644, 6964).
        return format!(
            r#"{header}version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {image}

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = {cgroup}

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = {hosts}
"#
        );
    }
    format!(
        r#"{header}version = {version}

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = {image}

[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = {hosts}

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = "runc"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = {cgroup}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::assert_golden;

    fn settings() -> ContainerdSettings {
        ContainerdSettings {
            sandbox_image: "registry.k8s.io/pause:3.10.1".into(),
            systemd_cgroup: true,
            config_path: "/etc/containerd/certs.d".into(),
        }
    }

    #[test]
    fn versions_follow_the_release() {
        assert_eq!(config_version((1, 6, 20)), 2);
        assert_eq!(config_version((1, 7, 34)), 2);
        assert_eq!(config_version((2, 0, 11)), 3);
        assert_eq!(config_version((2, 2, 7)), 3);
        assert_eq!(config_version((2, 3, 0)), 4);
        assert_eq!(config_version((3, 0, 0)), 4);
    }

    #[test]
    fn goldens() {
        assert_golden(
            "containerd-config-v2.toml",
            &config_toml("containerd", 2, &settings()),
        );
        assert_golden(
            "containerd-config-v3.toml",
            &config_toml("containerd", 3, &settings()),
        );
        assert_golden(
            "containerd-config-v4.toml",
            &config_toml("containerd", 4, &settings()),
        );
    }

    #[test]
    fn output_is_valid_toml_with_the_settings() {
        for v in [2, 3, 4] {
            let text = config_toml("p", v, &settings());
            let t: toml::Table = text.parse().unwrap();
            assert_eq!(t["version"].as_integer(), Some(v as i64));
            assert!(text.contains("SystemdCgroup = true"));
            assert!(text.contains("\"registry.k8s.io/pause:3.10.1\""));
        }
    }
}
