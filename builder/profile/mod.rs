//! Profiles: finding them (./profiles, built-in, or a path), strict parsing of schema 1 with
//! file:line:column errors, `extends` merging, and validation into the types the rest of the
//! code reads. It fetches nothing, resolves no pins (see `plan`) and does not know how a
//! runtime is configured.
//!
//! One file per concern: `source` (finding, locations, listing), `raw` (the serde shapes),
//! `merge` (`extends`), `load` (the chain), `validate` (the checks), `types` (the result),
//! `overlays` (where an overlay's files are), `compat` (which runtime releases fit a minor),
//! `init` (a new profile that extends a shipped one), `schema` (the JSON Schema of `raw`'s
//! shapes).

pub mod catalog;
mod chunks;
pub mod compat;
pub mod init;
mod load;
mod merge;
mod overlays;
pub mod pin;
pub mod plan;
mod raw;
mod schema;
mod source;
mod types;
mod validate;

pub use overlays::{find_overlay, OverlaySource};
pub use raw::SCHEMA;
pub use schema::json_schema;
pub use source::{list, Listed, Loc, Lookup, Origin, Source};
pub use types::{
    expand_url, Artifact, ArtifactKind, ContainerdSettings, DockerSettings, InstallRule,
    KubeletSettings, OverlayRef, Pins, Profile, SysextSettings,
};

#[cfg(test)]
pub(crate) mod tests;
