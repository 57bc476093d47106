//! All integration tests, compiled into one binary (one link step on 2 cores).
//!
//! - `ingest_samples`: the real records in `tests/fixtures/samples/`, values read by hand.
//! - `ingest_formats`: hand-written fixtures of every other format of docs/ingest.md.
//! - `ingest_rejects`: bad input is rejected with file, line and reason; accounting holds.
//! - `lake`: sorting metadata, deduplication, re-ingest, atomic files.
//! - `layers`: no module imports one of a higher layer (docs/architecture.md).
//! - `crash`: SIGKILL at random points of an ingest; two ingests at once.
//! - `explain`: the hunt's plans on each engine and layout, as snapshots.
//! - `hunt_reference`: the hunt on every engine against a reference implementation of docs/hunt.md.
//! - `window_join`: the operator on band joins users write; its plans; its memory bound.
//! - `incremental`: incremental hunts over chunked, shuffled, killed ingests against the whole hunt.
//! - `foreign_lakes`: the operator against stock SQL on Parquet other tools wrote.
//! - `prefix_sort`: the hunt's sort against DataFusion's; its hand-over when memory is short.
//! - `cli`: the real binary.
//! - `kql`: `retrohunt kql` on a hand-worked tenant, the seed against `hunt`, its errors.
//! - `cloud`: ingest from Azure Blob Storage and S3, on Azurite and moto started by the tests.
//! - `triage`: exclusions per rule kind, enrichment on a known history, the summary.
//! - `bench`: `retrohunt bench` runs, compares engines, and catches one that differs.
//! - `cluster`: the hunt and band joins on a Ballista cluster against the same on this machine.

mod emulators;
mod util;

mod bench;
mod cli;
mod cloud;
mod cluster;
mod crash;
mod explain;
mod foreign_lakes;
mod hunt_reference;
mod incremental;
mod ingest_formats;
mod ingest_rejects;
mod ingest_samples;
mod kql;
mod lake;
mod late_fetch;
mod layers;
mod prefix_sort;
mod report;
mod triage;
mod window_join;
