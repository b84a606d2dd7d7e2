//! builder's integration tests: the real binary (`CARGO_BIN_EXE_builder`) against loopback
//! servers, fixtures and the real programs that read its outputs, one module per area. Run one
//! area with `cargo test --test it render::`, one test with its full name.
//!
//! One binary, not one per file, because each integration-test binary links the whole crate and
//! its dependencies again: 26 files meant 26 links of the same code, one this way (the layout
//! astral-sh/uv uses in `crates/uv/tests/it/main.rs`). The price is one process for every test:
//! a test must not change process-wide state (its working directory, the environment, signal
//! dispositions); each hands what it needs to the child `Command` instead, and none does.
//!
//! `tests/architecture.rs` stays a binary of its own: it reads the sources, not the crate.

mod common;

mod archives;
mod bake;
mod cli_ux;
mod cloudinit;
mod completions;
mod compression;
mod consumers;
mod crash;
mod cri_dockerd;
mod detect;
mod diff;
mod faults;
mod hosts;
mod pin;
mod profile_errors;
mod progress;
mod provenance;
mod render;
mod render_json;
mod sbom;
mod schema;
mod sign;
mod sysext;
mod uptodate;
mod user_data;
mod verify;
