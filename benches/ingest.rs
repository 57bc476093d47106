//! Ingest throughput per source format: a generated tenant as the storage-account archive
//! (diagnostic JSON lines) and as Log Analytics JSON lines, each ingested into a fresh lake.
//! `cargo bench --bench ingest`; the tenant's size comes from `RETROHUNT_BENCH_USERS` and
//! `RETROHUNT_BENCH_DAYS` (default 300 users over 2 days). Criterion reports MB/s of input.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use retrohunt::generate::{TenantFormat, TenantSpec, generate};
use retrohunt::ingest::{IngestOptions, ingest};
use retrohunt::lake::LakeWriter;
use retrohunt::store::Location;

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn input_bytes(dir: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| entry.metadata().ok())
        .map(|metadata| metadata.len())
        .sum()
}

fn ingest_formats(c: &mut Criterion) {
    let users = env_or("RETROHUNT_BENCH_USERS", 300);
    let days = env_or("RETROHUNT_BENCH_DAYS", 2);
    let spec = TenantSpec::new(users as usize, days, 1);
    let mut group = c.benchmark_group(format!("ingest_{users}_users_{days}_days"));
    group.sample_size(10);
    for (name, format) in [
        ("diagnostic", TenantFormat::Diagnostic),
        ("la_jsonl", TenantFormat::LaJsonl),
    ] {
        let input = tempfile::tempdir().expect("temporary folder");
        generate(&spec, format, input.path()).expect("the tenant generates");
        group.throughput(Throughput::Bytes(input_bytes(input.path())));
        let options = IngestOptions {
            inputs: vec![Location::Local(input.path().to_path_buf())],
            ..IngestOptions::default()
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("temporary lake"),
                |lake| {
                    let writer = LakeWriter::open(lake.path(), || {}).expect("the lake opens");
                    let summary = ingest(&writer, &options, &());
                    // Returned, so the lake is deleted after the clock stops.
                    (summary.expect("ingest succeeds"), writer, lake)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, ingest_formats);
criterion_main!(benches);
