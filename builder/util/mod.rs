//! The leaves every layer shares: sha256 digests, the error kinds, the value types (arch,
//! runtime, Kubernetes minor), URLs that may hold credentials, advisory locks, the worker pool,
//! progress and stdout.
//! Nothing here imports from the rest of the crate.

pub mod digest;
pub mod error;
pub mod lock;
pub mod model;
pub mod pool;
pub mod progress;
pub mod secret_url;
pub mod stdout;
