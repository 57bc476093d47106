//! Execution engines: the one place a DataFusion session is configured.

mod session;

pub use session::{Engine, session, session_with};
