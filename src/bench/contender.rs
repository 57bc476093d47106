//! What a bench compares: the hunt on each of our engines, the scan floor, and other tools'
//! commands (peers) given the same lake and range.

use serde::{Deserialize, Serialize, Serializer};

use crate::choice::Choice;
use crate::engine::Engine;
use crate::hunt::HuntQuery;

/// One of this project's runs, carried out by `bench-run` in a child of this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Builtin {
    Sql,
    Operator,
    SqlBucketed,
    Cluster,
    /// The hunt's columns and filters without the join; always measured, as the yardstick.
    ScanFloor,
}

impl crate::choice::Choice for Builtin {
    const OFFERED: &'static [(Self, &'static str, &'static str)] = &[
        (
            Builtin::Sql,
            "sql",
            "The hunt's plain range join on stock DataFusion",
        ),
        (
            Builtin::Operator,
            "operator",
            "The hunt on the window-join operator",
        ),
        (
            Builtin::SqlBucketed,
            "sql-bucketed",
            "The hunt rewritten by hand to join on user and time bucket, on stock DataFusion",
        ),
        (
            Builtin::Cluster,
            "cluster",
            "The hunt on the window-join operator, run on the Ballista cluster that --cluster names",
        ),
    ];
}

impl Builtin {
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Sql => "sql",
            Builtin::Operator => "operator",
            Builtin::SqlBucketed => "sql-bucketed",
            Builtin::Cluster => "cluster",
            Builtin::ScanFloor => "scan floor",
        }
    }

    /// Only `operator` and `cluster` run in a session with the window-join rule: the `sql*`
    /// runs stay honest stock baselines (the bucketed join has the band shape too).
    pub fn engine(self) -> Engine {
        match self {
            Builtin::Operator | Builtin::Cluster => Engine::Operator,
            Builtin::Sql | Builtin::SqlBucketed | Builtin::ScanFloor => Engine::Sql,
        }
    }

    pub fn query(self) -> HuntQuery {
        match self {
            Builtin::Sql | Builtin::Operator | Builtin::Cluster => HuntQuery::Hunt,
            Builtin::SqlBucketed => HuntQuery::Bucketed,
            Builtin::ScanFloor => HuntQuery::ScanFloor,
        }
    }
}

/// Another tool, as `--external NAME=COMMAND` names it: a shell command with placeholders
/// (see [`super::peer`]). One that writes `{out}` returns the hunt's rows, which must be ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub command: String,
}

impl Peer {
    /// `NAME=COMMAND`.
    ///
    /// # Errors
    /// No `=`, an empty name or command, or a name one of our runs has.
    pub fn parse(text: &str) -> Result<Peer, String> {
        let (name, command) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not NAME=COMMAND"))?;
        let (name, command) = (name.trim(), command.trim());
        if name.is_empty() || command.is_empty() {
            return Err(format!("{text:?}: NAME and COMMAND must not be empty"));
        }
        let taken = Builtin::OFFERED
            .iter()
            .map(|(builtin, ..)| builtin)
            .chain([&Builtin::ScanFloor])
            .any(|b| b.name() == name);
        if taken {
            return Err(format!(
                "{name:?} is the name of one of retrohunt's own runs"
            ));
        }
        Ok(Peer {
            name: name.to_string(),
            command: command.to_string(),
        })
    }
}

/// Who runs in a bench.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contender {
    Builtin(Builtin),
    Peer(Peer),
}

impl Contender {
    pub fn name(&self) -> &str {
        match self {
            Contender::Builtin(builtin) => builtin.name(),
            Contender::Peer(peer) => &peer.name,
        }
    }

    /// Whether it returns the hunt's rows (which must then be the same for all).
    pub fn is_hunt(&self) -> bool {
        match self {
            Contender::Builtin(builtin) => *builtin != Builtin::ScanFloor,
            Contender::Peer(peer) => peer.command.contains(super::peer::OUT),
        }
    }
}

/// Reports name a contender: ours by their `--engines` value (`scan-floor` too), peers by
/// their own.
impl Serialize for Contender {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Contender::Builtin(builtin) => builtin.serialize(serializer),
            Contender::Peer(peer) => serializer.serialize_str(&peer.name),
        }
    }
}
