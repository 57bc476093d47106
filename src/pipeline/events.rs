//! What a run tells the person running it, as it happens. The library says what happened; the
//! front end decides how to show it (escaped for a terminal, say), or not to.

use std::fmt;
use std::path::Path;

use crate::catalog::Damaged;
use crate::triage::RuleCount;

/// Something a run did that the user should know of.
#[derive(Debug)]
pub enum Event<'a> {
    /// `--skip-bad-files` leaves a damaged file out.
    SkippingDamaged(&'a Damaged),
    /// The sample was ingested into the cache, on first use.
    IngestedSample { sample: &'a Path, lake: &'a Path },
    /// Another run of the same incremental hunt holds its lock.
    Waiting { hunt: &'a str },
    /// Exclusion rules removed findings; every rule counted, even when it removed none.
    Excluded {
        kept: usize,
        counts: &'a [RuleCount],
    },
    /// A run's findings were added to the lake's findings table.
    Appended { findings: usize, file: &'a str },
    /// Findings earlier runs reported are no longer in the lake.
    Retracted { findings: usize, hunt: &'a str },
    /// Why a result is what it is (an empty hunt, a table the lake lacks).
    Note(&'a str),
}

/// Where a run's events go.
pub trait Events: Sync {
    fn event(&self, event: &Event);
}

/// Events nobody is shown.
impl Events for () {
    fn event(&self, _: &Event) {}
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Event::SkippingDamaged(file) => write!(
                f,
                "skipping damaged file {}: {}",
                file.path.display(),
                file.reason
            ),
            Event::IngestedSample { sample, lake } => write!(
                f,
                "ingested the sample in {} into {}",
                sample.display(),
                lake.display()
            ),
            Event::Waiting { hunt } => write!(f, "waiting for another run of {hunt} to finish"),
            Event::Excluded { kept, counts } => {
                let excluded: usize = counts.iter().map(|c| c.rows).sum();
                write!(f, "excluded {excluded} of {} rows:", excluded + kept)?;
                let width = counts.iter().map(|c| c.name.len()).max().unwrap_or(0);
                for count in *counts {
                    write!(
                        f,
                        "\n  {:width$}  {:>8}  {}",
                        count.name, count.rows, count.reason
                    )?;
                }
                Ok(())
            }
            Event::Appended { findings, file } => {
                write!(f, "appended {findings} findings to {file}")
            }
            Event::Retracted { findings, hunt } => write!(
                f,
                "retracted {findings} findings that earlier runs of {hunt} reported: the lake \
                 replaced a sign-in of theirs by an earlier copy that arrived later"
            ),
            Event::Note(note) => write!(f, "note: {note}"),
        }
    }
}
