//! The two systemd units the Ignition config writes to /etc beside the system extension:
//! one that makes systemd see the units the extension brings, and one that joins the cluster.
//! Plain text with named placeholders, each with a golden test.

use crate::bootstrap::join::JOIN_CONFIG_PATH;
use crate::util::model::Runtime;

/// Loads the merged extensions' units and starts what they enable.
pub const RELOAD_UNIT: &str = "builder-sysext-units.service";
/// Runs `kubeadm join --config` once the runtime is up.
pub const JOIN_UNIT: &str = "builder-kubeadm-join.service";

/// systemd-sysext.service merges /usr before sysinit.target, but the service manager read its
/// unit files before that, so the units the extension brings (and the `.wants/` links that
/// enable them) are unknown until a `daemon-reload`; systemd up to 255 does not reload by
/// itself. This unit reloads, then restarts the targets the runtime's units are wanted by.
/// Flatcar ships the same as `ensure-sysext.service`; on other hosts this one does it.
pub fn reload_unit(profile: &str) -> String {
    format!(
        "{header}[Unit]
Description=builder: load and start the units of the merged system extensions
Documentation=man:systemd-sysext(8)
DefaultDependencies=no
BindsTo=systemd-sysext.service
After=systemd-sysext.service
Before=sysinit.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/systemctl daemon-reload
ExecStart=/usr/bin/systemctl restart --no-block sockets.target timers.target multi-user.target

[Install]
WantedBy=sysinit.target
",
        header = crate::node::header(profile)
    )
}

/// `kubeadm join --config` after the runtime's units; removes the JoinConfiguration (it holds
/// the token) once kubeadm succeeded. kubeadm comes from the host (/usr/bin, or /opt/bin as
/// on Flatcar): builder does not ship it.
pub fn join_unit(profile: &str, runtime: Runtime) -> String {
    let after: Vec<&str> = runtime.units().iter().map(|u| u.name).collect();
    format!(
        "{header}[Unit]
Description=builder: join the Kubernetes cluster with kubeadm
Wants=network-online.target {after}
After=network-online.target {RELOAD_UNIT} {after}
ConditionPathExists={JOIN_CONFIG_PATH}

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin
ExecStart=/bin/sh -c 'exec kubeadm join --config {JOIN_CONFIG_PATH}'
ExecStartPost=/bin/rm -f {JOIN_CONFIG_PATH}

[Install]
WantedBy=multi-user.target
",
        header = crate::node::header(profile),
        after = after.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden() {
        crate::node::assert_golden("sysext-units.service", &reload_unit("containerd"));
        crate::node::assert_golden(
            "sysext-kubeadm-join.service",
            &join_unit("cri-dockerd", Runtime::CriDockerd),
        );
    }
}
