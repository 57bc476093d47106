//! The session every command runs in. Identifiers keep their case so that `SigninLogs` and
//! `AADNonInteractiveUserSignInLogs` work unquoted, as analysts type them from KQL.

use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::choice::Choice;
use crate::operator::OperatorQueryPlanner;
use crate::operator::prefix_sort::PrefixSortRule;
use crate::operator::window_join::WindowJoinRule;

/// How the hunt executes (each value's meaning is in [`Choice::OFFERED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    #[default]
    Operator,
    Sql,
}

impl Choice for Engine {
    const OFFERED: &'static [(Self, &'static str, &'static str)] = &[
        (
            Engine::Operator,
            "operator",
            "Band joins (key equality plus a time window) run on the window-join operator",
        ),
        (
            Engine::Sql,
            "sql",
            "Stock DataFusion: the SQL range join as DataFusion plans it, an honest baseline",
        ),
    ];
}

pub fn session(engine: Engine) -> SessionContext {
    session_with(engine, SessionConfig::new(), Arc::default())
}

/// A session of `engine` on `config` and `runtime` (which holds the memory pool).
pub fn session_with(
    engine: Engine,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> SessionContext {
    SessionContext::new_with_state(state_with(engine, config, runtime))
}

/// The state [`session_with`] runs in.
pub fn state_with(
    engine: Engine,
    mut config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> SessionState {
    config.options_mut().sql_parser.enable_ident_normalization = false;
    let builder = SessionStateBuilder::new()
        .with_default_features()
        .with_runtime_env(runtime);
    let builder = match engine {
        Engine::Sql => builder.with_config(config),
        Engine::Operator => {
            // The lake's files are already in (key, time) order: keep it through repartitioning
            // rather than sorting again.
            config.options_mut().optimizer.prefer_existing_sort = true;
            builder
                .with_config(config)
                .with_optimizer_rule(Arc::new(WindowJoinRule))
                .with_query_planner(Arc::new(OperatorQueryPlanner::default()))
                .with_physical_optimizer_rule(Arc::new(PrefixSortRule))
        }
    };
    builder.build()
}

/// Whether `ctx` sends its queries to an Apache DataFusion Ballista cluster (`cluster::connect`
/// made it so).
pub fn runs_on_cluster(ctx: &SessionContext) -> bool {
    ctx.state()
        .config()
        .options()
        .extensions
        .get::<ballista_core::config::BallistaConfig>()
        .is_some()
}
