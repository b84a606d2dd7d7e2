//! What a render hands out beside the overlay: `manifest.json` and `SHA256SUMS`, the SBOMs,
//! the in-toto provenance, the signature, and the systemd-sysext image. Bytes and their
//! checks, and (`layout`) the names of every file of an arch folder; nothing here builds a
//! rootfs or fetches.

pub mod layout;
pub mod manifest;
pub mod provenance;
pub mod sbom;
pub mod sign;
pub mod sysext;
