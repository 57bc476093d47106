//! What a bench compares: the hunt on each engine, and the scan floor.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::hunt::HuntQuery;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contender {
    /// The hunt's plain range join on stock DataFusion.
    Sql,
    /// The hunt on the window-join operator.
    Operator,
    /// The hunt rewritten by hand to join on user and time bucket, on stock DataFusion.
    SqlBucketed,
    /// The hunt's columns and filters without the join; always measured, as the yardstick.
    #[value(skip)]
    ScanFloor,
}

impl Contender {
    pub fn name(self) -> &'static str {
        match self {
            Contender::Sql => "sql",
            Contender::Operator => "operator",
            Contender::SqlBucketed => "sql-bucketed",
            Contender::ScanFloor => "scan floor",
        }
    }

    /// Only `operator` runs in a session with the window-join rule: the `sql*` contenders
    /// stay honest stock baselines (the bucketed join has the band shape too).
    pub fn engine(self) -> Engine {
        match self {
            Contender::Operator => Engine::Operator,
            Contender::Sql | Contender::SqlBucketed | Contender::ScanFloor => Engine::Sql,
        }
    }

    pub fn query(self) -> HuntQuery {
        match self {
            Contender::Sql | Contender::Operator => HuntQuery::Hunt,
            Contender::SqlBucketed => HuntQuery::Bucketed,
            Contender::ScanFloor => HuntQuery::ScanFloor,
        }
    }

    /// Whether it returns the hunt's rows (which must then be the same for all).
    pub fn is_hunt(self) -> bool {
        self != Contender::ScanFloor
    }
}
