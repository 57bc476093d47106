//! What the lake's tables look like to readers.

pub mod schema;
