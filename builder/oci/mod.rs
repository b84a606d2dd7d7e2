//! Outputs in OCI registries: `builder push` (an output folder as an OCI artifact, SBOMs,
//! provenance and signatures as its referrers), `builder pull` (back into a folder, checked as
//! `builder verify` checks one), and what `render --overlay-url oci://...` resolves.
//!
//!   reference.rs  REGISTRY/REPO[:TAG][@sha256:HEX] and oci:// URLs
//!   auth.rs       credentials: env, auth files, credential helpers
//!   client.rs     the Distribution API: auth challenges, blobs, manifests, referrers
//!   manifest.rs   descriptors, image manifests, indexes (deterministic JSON)
//!   media.rs      the media types and annotation keys
//!   artifact.rs   which files of an arch folder travel, under which media types
//!   push.rs, pull.rs   the two commands
//!   resolve.rs    what an oci:// overlay URL holds for an arch (render checks it)
//!   cache.rs      the output cache in a registry (render --output-cache-url)

pub mod artifact;
pub mod auth;
pub mod cache;
pub mod client;
pub mod manifest;
pub mod media;
pub mod pull;
pub mod push;
pub mod reference;
pub mod resolve;

pub use client::Options as RegistryOptions;
pub use reference::Reference;
