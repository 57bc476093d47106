//! Triage of the hunt's findings, after the hunt and before the output: exclusions of known
//! benign look-alikes (counted per rule), evidence from the lake with a ranking score, and a
//! per-user summary, and exclusion rules mined from the lake. Everything runs in the same
//! engine as the hunt.

mod enrich;
mod exclusions;
mod ip_ranges;
mod measure;
mod suggest;
mod summary;

pub use enrich::{Lookback, enrich};
pub use exclusions::{ExclusionError, Exclusions, RuleCount};
pub use measure::{Excluded, hunt_and_exclude};
pub use suggest::{Suggestions, Thresholds, suggest};
pub use summary::summarize;
