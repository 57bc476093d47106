//! retrohunt: retro-hunting months of Microsoft Entra ID sign-in logs.
//!
//! The modules follow the data: [`schema`] names the two tables' columns, which every layer
//! shares; [`ingest`] reads logs in the formats users hold them,
//! [`lake`] stores them as sorted, date-partitioned Parquet, [`catalog`] describes the tables,
//! [`hunt`] runs the hunt over them, [`kql`] runs analysts' own KQL queries over them, and [`generate`] makes realistic synthetic tenants for tests and benchmarks;
//! [`triage`] ranks and filters what the hunt found; [`pipeline`] is a run, which every command
//! drives: a lake opened on an engine, a query, triage, and where the rows go; [`bench`]
//! compares the hunt's engines.

pub mod bench;
pub mod catalog;
pub mod choice;
pub mod cluster;
pub mod engine;
pub mod generate;
pub mod guid;
pub mod hunt;
pub mod ingest;
pub mod kql;
pub mod lake;
pub mod operator;
pub mod output;
pub mod pipeline;
pub mod schema;
pub mod store;
pub mod triage;
