//! The hunt's physical plans, as `--explain` shows them, kept as snapshots
//! (`tests/snapshots/`): what each engine and each layout of the window join runs, readable
//! in review. A plan that changes (a DataFusion upgrade, a new rule) shows up as a diff here;
//! accept it with `INSTA_UPDATE=always cargo test explain` once it is understood.

use std::path::Path;
use std::sync::Arc;

use datafusion::dataframe::DataFrame;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

use retrohunt::catalog::register_lake;
use retrohunt::engine::{Engine, session_with};
use retrohunt::generate::{self, TenantFormat, TenantSpec};
use retrohunt::hunt::{self, HuntParams, TimeColumn};

/// A generated lake of `days` days: one date file per table and day.
fn lake(days: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = TenantSpec::new(20, days, 5);
    generate::generate(&spec, TenantFormat::Lake, dir.path()).unwrap();
    dir
}

/// The hunt's physical plan on `engine` over `lake`, on two target partitions (the plan's
/// shape depends on them, not on this machine's cores), the lake's path written `LAKE`.
fn explain(lake: &Path, engine: Engine, time_column: TimeColumn) -> String {
    let params = HuntParams {
        time_column,
        ..HuntParams::default()
    };
    explain_frame(lake, engine, async |ctx| {
        hunt::plan(ctx, &params).await.unwrap()
    })
}

/// The physical plan of the query `frame` plans in a session of `engine` over `lake`, as
/// [`explain`] shows it.
fn explain_frame(
    lake: &Path,
    engine: Engine,
    frame: impl AsyncFnOnce(&SessionContext) -> DataFrame,
) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = SessionConfig::new().with_target_partitions(2);
        let ctx = session_with(engine, config, Arc::default());
        register_lake(&ctx, lake.to_str().unwrap()).await.unwrap();
        let plan = frame(&ctx).await.create_physical_plan().await.unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        // Object-store paths, as plans print them, have no leading `/`.
        let root = std::fs::canonicalize(lake).unwrap();
        let root = root.to_str().unwrap().trim_start_matches('/');
        text.replace(root, "LAKE")
    })
}

/// The seed hunt written in KQL, planned by `retrohunt kql`'s planner over three days: the
/// same window join as the hunt's SQL (the time-aligned layout, no sort below it).
#[test]
fn seed_in_kql_on_the_operator() {
    let lake = lake(3);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/short_window_signin_mismatch.kql"),
    )
    .unwrap();
    let options = retrohunt::kql::Options {
        now: chrono::Utc::now(),
        start: chrono::DateTime::from_timestamp(1_772_323_200, 0),
        end: chrono::DateTime::from_timestamp(1_772_582_399, 0),
    };
    let plan = explain_frame(lake.path(), Engine::Operator, async |ctx| {
        retrohunt::kql::plan(ctx, &text, &options)
            .await
            .unwrap()
            .frame
    });
    assert!(plan.contains("WindowJoinExec"), "{plan}");
    insta::assert_snapshot!("seed_kql_operator", plan);
}

/// Three days: each date file is one scan partition with exact time statistics, so the join
/// reads them time-aligned, with no repartition and no sort below it.
#[test]
fn hunt_on_the_operator_time_aligned() {
    let lake = lake(3);
    let plan = explain(lake.path(), Engine::Operator, TimeColumn::TimeGenerated);
    assert!(plan.contains("layout=time-aligned"), "{plan}");
    insta::assert_snapshot!("hunt_operator_time_aligned", plan);
}

/// One day: fewer date files than target partitions, so both sides are hash-partitioned by
/// user, keeping the files' order.
#[test]
fn hunt_on_the_operator_key_partitioned() {
    let lake = lake(1);
    let plan = explain(lake.path(), Engine::Operator, TimeColumn::TimeGenerated);
    assert!(
        plan.contains("layout=key-partitioned (fewer files than target partitions)"),
        "{plan}"
    );
    insta::assert_snapshot!("hunt_operator_key_partitioned", plan);
}

/// On `CreatedDateTime` the files' order does not hold: each date file is sorted on its own.
#[test]
fn hunt_on_the_operator_by_created_time() {
    let lake = lake(3);
    let plan = explain(lake.path(), Engine::Operator, TimeColumn::CreatedDateTime);
    insta::assert_snapshot!("hunt_operator_created_time", plan);
}

/// Stock DataFusion: a hash join on the user, the window and the network tests as its filter.
#[test]
fn hunt_on_stock_sql() {
    let lake = lake(3);
    let plan = explain(lake.path(), Engine::Sql, TimeColumn::TimeGenerated);
    assert!(plan.contains("HashJoinExec"), "{plan}");
    insta::assert_snapshot!("hunt_sql", plan);
}
