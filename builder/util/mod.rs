//! The leaves every layer shares: sha256 digests, the error kinds, the value types (arch,
//! runtime, Kubernetes minor), URLs that may hold credentials, advisory locks, bounded reads,
//! escaping text for reports,
//! the worker pool, progress, stdout and what a signal removes before the process exits.
//! Nothing here imports from the rest of the crate.

pub mod digest;
pub mod error;
pub mod escape;
pub mod interrupt;
pub mod lock;
pub mod model;
pub mod pool;
pub mod progress;
pub mod read;
pub mod secret_url;
pub mod stdout;
