//! The media types builder's OCI artifacts use, the spec's own, and the annotation keys.

use crate::util::digest::Sha256;

/// The node manifest's `artifactType`: a builder node output (one arch).
pub const ARTIFACT_TYPE: &str = "application/vnd.builder.node.v1";
/// Its config: builder's manifest.json.
pub const CONFIG: &str = "application/vnd.builder.manifest.v1+json";
pub const OVERLAY_GZIP: &str = "application/vnd.builder.overlay.v1.tar+gzip";
pub const OVERLAY_ZSTD: &str = "application/vnd.builder.overlay.v1.tar+zstd";
/// The overlay's one-line `sha256sum -c` file.
pub const OVERLAY_SHA256: &str = "application/vnd.builder.overlay.sha256.v1";
/// The system extension image (squashfs).
pub const SYSEXT: &str = "application/vnd.builder.sysext.v1.squashfs";
pub const SUMS: &str = "application/vnd.builder.sha256sums.v1";
pub const SPDX: &str = "application/spdx+json";
pub const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// The referrer that holds the signatures over SHA256SUMS.
pub const SIGNATURE: &str = "application/vnd.builder.signature.v1";
pub const MINISIG: &str = "application/vnd.builder.signature.minisign.v1";
pub const SSHSIG: &str = "application/vnd.builder.signature.sshsig.v1";

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_BYTES: &[u8] = b"{}";
pub const TITLE: &str = "org.opencontainers.image.title";
pub const CREATED: &str = "org.opencontainers.image.created";
/// What a manifest GET accepts.
pub const ACCEPT_MANIFESTS: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
/// A manifest or index larger than this is refused (the spec suggests registries take 4 MiB).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

/// The referrers tag schema's tag for `digest` (registries without the referrers API).
pub fn fallback_tag(digest: &Sha256) -> String {
    format!("sha256-{digest}")
}

/// The referrer artifact types `pull` fetches (others, such as another tool's signatures, are
/// left alone).
pub const REFERRER_TYPES: [&str; 4] = [SPDX, CYCLONEDX, IN_TOTO, SIGNATURE];
