//! retrohunt: retro-hunting months of Microsoft Entra ID sign-in logs.
//!
//! The modules follow the data: [`ingest`] reads logs in the formats users hold them,
//! [`lake`] stores them as sorted, date-partitioned Parquet, [`catalog`] describes the tables,
//! and [`generate`] makes realistic synthetic tenants for tests and benchmarks.

pub mod catalog;
pub mod generate;
pub mod ingest;
pub mod lake;
