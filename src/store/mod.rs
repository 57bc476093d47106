//! Where bytes live: local folders, or containers and buckets in Azure Blob Storage, ADLS Gen2
//! and S3, through the object_store crate DataFusion reads with.
//!
//! A location is parsed once from what the user typed; remote ones carry their store (built
//! from the standard environment variables), the prefix inside it, and a name for output that
//! never holds a secret. Every HTTP request a store makes is counted, so a run can say what it
//! cost and a test can bound it.

mod error;
mod location;
mod registry;
mod requests;
mod runtime;

pub use error::{FailureKind, StoreError};
pub use location::{Location, Remote, redacted};
pub use registry::StoresFromEnvironment;
pub use requests::RequestCounts;
pub use runtime::BlockingRuntime;
