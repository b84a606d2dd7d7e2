//! builder's integration tests, one binary: the real binary (`CARGO_BIN_EXE_builder`) against
//! loopback servers, fixtures and the real programs that read its outputs, one module per area,
//! with what several areas share in `common`. Run one area with `cargo test --test it render::`.
//!
//! One binary, not one per file, because each integration-test binary links the whole crate and
//! its dependencies again: 26 files meant 26 links of the same code, this is one (the layout
//! astral-sh/uv uses in `crates/uv/tests/it/main.rs`). The price is one process for all tests,
//! on libtest's threads: a test must not change process-wide state (working directory,
//! environment, signal dispositions, umask). None does; each hands what its child needs to the
//! child's `Command` (`.current_dir()`, `.env()`), and what a test opens is close-on-exec (the
//! pty in `progress` too), so a child started by another test inherits none of it.
//!
//! `architecture` reads the crate's sources (with `syn`), not the crate: it is here only so
//! that it costs no link of its own.

mod common;

mod architecture;
mod archives;
mod bake;
mod bounded;
mod cli_ux;
mod cloudinit;
mod completions;
mod compression;
mod consumers;
mod crash;
mod cri_dockerd;
mod detect;
mod diff;
mod docs;
mod faults;
mod hosts;
mod init;
mod minors;
mod node_check;
mod pin;
mod profile_errors;
mod progress;
mod provenance;
mod registry;
mod render;
mod render_json;
mod sbom;
mod schema;
mod secrets;
mod sign;
mod signals;
mod sysext;
mod uptodate;
mod user_data;
mod verify;
