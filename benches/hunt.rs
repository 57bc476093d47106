//! The hunt on each engine (`retrohunt bench`'s contenders) over one generated lake, side by
//! side with the scan floor: reading the columns and rows the hunt needs and nothing else,
//! which no join strategy can beat.
//! `cargo bench --bench hunt`; the tenant's size comes from `RETROHUNT_BENCH_USERS` and
//! `RETROHUNT_BENCH_DAYS` (default 1,000 users over 7 days).

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::prelude::SessionContext;
use tokio::runtime::Runtime;

use retrohunt::bench::Builtin;
use retrohunt::catalog::register_lake;
use retrohunt::engine::{Engine, session};
use retrohunt::generate::{TenantFormat, TenantSpec, generate};
use retrohunt::hunt::{self, HuntParams};

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn context(runtime: &Runtime, engine: Engine, lake: &Path) -> SessionContext {
    let ctx = session(engine);
    runtime
        .block_on(register_lake(&ctx, lake.to_str().expect("UTF-8 path")))
        .expect("the lake registers");
    ctx
}

fn hunt_engines(c: &mut Criterion) {
    let users = env_or("RETROHUNT_BENCH_USERS", 1_000);
    let days = env_or("RETROHUNT_BENCH_DAYS", 7);
    let dir = tempfile::tempdir().expect("temporary folder");
    let spec = TenantSpec::new(users as usize, days, 1);
    generate(&spec, TenantFormat::Lake, dir.path()).expect("the tenant generates");
    let runtime = Runtime::new().expect("tokio runtime");

    let mut group = c.benchmark_group(format!("hunt_{users}_users_{days}_days"));
    group.sample_size(10);
    let params = HuntParams::default();
    for contender in [
        Builtin::ScanFloor,
        Builtin::Operator,
        Builtin::Sql,
        Builtin::SqlBucketed,
    ] {
        let ctx = context(&runtime, contender.engine(), dir.path());
        group.bench_function(contender.name().replace(' ', "_"), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    hunt::plan_query(&ctx, contender.query(), &params)
                        .await?
                        .collect()
                        .await
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hunt_engines);
criterion_main!(benches);
