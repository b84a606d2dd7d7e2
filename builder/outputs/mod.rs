//! What a render hands out beside the overlay: `manifest.json` and `SHA256SUMS`, the SBOMs,
//! the in-toto provenance, the signature, and the systemd-sysext image. Bytes and their
//! checks; nothing here builds a rootfs or fetches.

pub mod manifest;
pub mod provenance;
pub mod sbom;
pub mod sign;
pub mod sysext;
