//! builder: turns a TOML profile into a verified, reproducible Kubernetes node overlay
//! (containerd, or Docker Engine behind cri-dockerd) and finds the nodes that need one.
//!
//! The binary (`main.rs`) only parses the command line and maps errors to exit codes;
//! everything it does lives here, one module per concern.

pub mod archive;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod cloudinit;
pub mod detect;
pub mod diff;
pub mod digest;
pub mod error;
pub mod fetch;
pub mod gzip;
pub mod hosts;
pub mod install;
pub mod lock;
pub mod manifest;
pub mod model;
pub mod output;
pub mod pack;
pub mod pin;
pub mod plan;
pub mod pool;
pub mod profile;
pub mod progress;
pub mod provenance;
pub mod render;
pub mod sbom;
pub mod sign;
pub mod stdout;
pub mod sysext;
pub mod templates;
pub mod verify;

pub use error::{exit_code, Error};

/// The version stamped into generated files and manifests.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
