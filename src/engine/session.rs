//! The session every command runs in. Identifiers keep their case so that `SigninLogs` and
//! `AADNonInteractiveUserSignInLogs` work unquoted, as analysts type them from KQL.

use clap::ValueEnum;
use datafusion::prelude::{SessionConfig, SessionContext};

/// How the hunt executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// Stock DataFusion: the SQL range join as DataFusion plans it.
    Sql,
}

pub fn session(_engine: Engine) -> SessionContext {
    let mut config = SessionConfig::new();
    config.options_mut().sql_parser.enable_ident_normalization = false;
    SessionContext::new_with_config(config)
}
