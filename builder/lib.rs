//! builder: turns a TOML profile into a verified, reproducible Kubernetes node overlay
//! (containerd, or Docker Engine behind cri-dockerd) and finds the nodes that need one.
//!
//! The folders read as the pipeline, top to bottom; each imports only from those below it:
//!   cmd        the command line: clap, one file per subcommand (only `main.rs` imports it)
//!   render     `builder render` as stages: prepare -> classify each arch -> build -> finish
//!   oci        outputs in OCI registries: push, pull, what oci:// URLs resolve to
//!   verify, detect   the other commands' libraries (verify also holds diff: two renders compared)
//!   outputs    what a render hands out: manifest, SBOMs, provenance, signature, sysext image
//!   bootstrap  first boot: cloud-init user-data, Ignition, kubeadm join parameters
//!   node       each runtime's files (containerd, cri-dockerd, kubelet, crictl, systemd)
//!   build      the rootfs ledger, archive install, overlays, packing, the output folder
//!   fetch      downloads, the download cache, hosts and mirrors
//!   profile    profiles: parse, merge, validate; the catalog, the plan, pinning
//!   util       leaves: digests, errors, shared value types, locks, the pool, progress

pub mod bootstrap;
pub mod build;
pub mod cmd;
pub mod detect;
pub mod fetch;
pub mod node;
pub mod oci;
pub mod outputs;
pub mod profile;
pub mod render;
pub mod util;
pub mod verify;

pub use util::error::{exit_code, Error};

/// The version stamped into generated files and manifests.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
