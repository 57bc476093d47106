//! Which files an ingest reads: local files and folders walked in name order, and objects
//! under a prefix in a store, both limited to a time range by their `y=/m=/d=/h=` folders.
//!
//! Archives are foldered by time (diagnostic settings: `y=2024/m=05/d=01/h=10/m=00/PT1H.json`,
//! data export: the same down to five-minute folders, export jobs: `date=`), so a day of a
//! year-long container is found by listing a few folders level by level instead of every
//! object: each level is one listing with a delimiter, and a folder wholly inside the range is
//! listed flat.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::lake::layout::not_data;
use crate::store::{Location, Remote, StoreError};

/// Instants in ns since the epoch; the range is `[since, until)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// How long before `since` the data-export containers (`am-…`) are listed too: late
    /// records are appended to the folders of their own time, which may be before `since`.
    pub late_arrivals: i64,
}

impl TimeRange {
    fn is_unbounded(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// The range a folder must meet, given the segments of its path.
    fn bounds(&self, segments: &[impl AsRef<str>]) -> (i64, i64) {
        let data_export = segments.iter().any(|s| s.as_ref().starts_with("am-"));
        let lateness = if data_export { self.late_arrivals } else { 0 };
        (
            self.since.map_or(i64::MIN, |s| s.saturating_sub(lateness)),
            self.until.unwrap_or(i64::MAX),
        )
    }

    /// Whether a folder or file at `segments` may hold records of the range.
    fn may_hold(&self, segments: &[impl AsRef<str>]) -> bool {
        match Folder::of(segments).span() {
            None => true,
            Some((start, end)) => {
                let (since, until) = self.bounds(segments);
                start < until && end > since
            }
        }
    }

    /// Whether everything below `segments` is in the range, so it can be listed flat.
    fn holds_all(&self, segments: &[impl AsRef<str>]) -> bool {
        if self.is_unbounded() {
            return true;
        }
        match Folder::of(segments).span() {
            None => false,
            Some((start, end)) => {
                let (since, until) = self.bounds(segments);
                start >= since && end <= until
            }
        }
    }
}

/// The time a path's partition folders narrow it to.
#[derive(Debug, Default, Clone, Copy)]
struct Folder {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
}

impl Folder {
    fn of(segments: &[impl AsRef<str>]) -> Folder {
        segments
            .iter()
            .fold(Folder::default(), |f, s| f.enter(s.as_ref()))
    }

    /// `y=2024`, `m=05` (a month after a year, a minute after an hour), `d=01`, `h=10`,
    /// `date=2024-05-01`; keys in any case. Anything else leaves the span as it was.
    fn enter(self, segment: &str) -> Folder {
        let Some((key, value)) = segment.split_once('=') else {
            return self;
        };
        let number = || value.parse::<u32>().ok();
        match key.to_ascii_lowercase().as_str() {
            "y" => Folder {
                year: value.parse().ok(),
                ..Folder::default()
            },
            "m" if self.year.is_some() && self.month.is_none() => Folder {
                month: number(),
                ..self
            },
            "d" if self.month.is_some() => Folder {
                day: number(),
                ..self
            },
            "h" if self.day.is_some() => Folder {
                hour: number(),
                ..self
            },
            "date" => match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
                Ok(date) => Folder {
                    year: Some(date.year()),
                    month: Some(date.month()),
                    day: Some(date.day()),
                    hour: None,
                },
                Err(_) => self,
            },
            _ => self,
        }
    }

    /// `[start, end)` in ns, if the path names a year at least.
    fn span(&self) -> Option<(i64, i64)> {
        let year = self.year?;
        let at = |y: i32, m: u32, d: u32, h: u32| {
            Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
                .single()
                .and_then(|t: DateTime<Utc>| t.timestamp_nanos_opt())
        };
        let (start, end) = match (self.month, self.day, self.hour) {
            (None, _, _) => (at(year, 1, 1, 0)?, at(year + 1, 1, 1, 0)?),
            (Some(m), None, _) => {
                let (ny, nm) = if m == 12 {
                    (year + 1, 1)
                } else {
                    (year, m + 1)
                };
                (at(year, m, 1, 0)?, at(ny, nm, 1, 0)?)
            }
            (Some(m), Some(d), hour) => {
                let start = at(year, m, d, hour.unwrap_or(0))?;
                let length = if hour.is_some() {
                    TimeDelta::hours(1)
                } else {
                    TimeDelta::days(1)
                };
                (start, start + length.num_nanoseconds()?)
            }
        };
        Some((start, end))
    }
}

/// One file to read.
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    Blob(Blob),
}

/// An object in a store, as its listing described it.
#[derive(Debug, Clone)]
pub struct Blob {
    pub store: Arc<dyn ObjectStore>,
    pub meta: ObjectMeta,
    /// Its URL, without secrets: how rejects, the manifest and errors name it.
    pub url: String,
}

impl Input {
    /// The size the listing gave, for the progress bar.
    pub fn size(&self) -> u64 {
        match self {
            Input::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
            Input::Blob(blob) => blob.meta.size,
        }
    }
}

/// An input that could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{}: {reason}", path.display())]
    Local { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Lists local inputs: files as given, folders walked in name order so that runs are
/// repeatable. Hidden files and our own lake bookkeeping are not inputs.
pub fn list_local(input: &Path, range: &TimeRange) -> Result<Vec<Input>, ListError> {
    let failed = |reason: String| ListError::Local {
        path: input.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(input).map_err(|e| failed(e.to_string()))?;
    if metadata.is_file() {
        return Ok(vec![Input::File(input.to_path_buf())]);
    }
    let root: Vec<String> = segments_of(&input.to_string_lossy());
    let walker = walkdir::WalkDir::new(input)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            if entry.depth() == 0 {
                return true;
            }
            if not_data(entry.file_name()) {
                return false;
            }
            let below = entry.path().strip_prefix(input).unwrap_or(entry.path());
            let mut segments = root.clone();
            segments.extend(
                below
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned()),
            );
            range.may_hold(&segments)
        });
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| failed(e.to_string()))?;
        if entry.file_type().is_file() {
            files.push(Input::File(entry.into_path()));
        }
    }
    Ok(files)
}

/// Lists the objects under a remote prefix, in name order. A prefix that names one object is
/// that object.
pub async fn list_remote(remote: &Remote, range: &TimeRange) -> Result<Vec<Input>, ListError> {
    let store = remote.store();
    let root = remote.prefix().clone();
    let container: Vec<String> = segments_of(&remote.url_of(&ObjectPath::default()));
    let segments_at = |path: &ObjectPath| -> Vec<String> {
        let mut segments = container.clone();
        segments.extend(path.parts().map(|p| p.as_ref().to_string()));
        segments
    };
    let wanted = |meta: &ObjectMeta| {
        let below = meta.location.prefix_match(&root);
        let hidden = below
            .is_some_and(|mut parts| parts.any(|p| not_data(std::ffi::OsStr::new(p.as_ref()))));
        !hidden && range.may_hold(&segments_at(&meta.location))
    };
    let failed = |path: &ObjectPath, error| StoreError::new(&remote.url_of(path), error);
    let mut found = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        let segments = segments_at(&folder);
        let prefix = (!folder.as_ref().is_empty()).then_some(&folder);
        if range.holds_all(&segments) {
            let objects = remote.list_all(&folder).await?;
            found.extend(objects.into_iter().filter(&wanted));
            continue;
        }
        let listing = store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| failed(&folder, e))?;
        found.extend(listing.objects.into_iter().filter(&wanted));
        for sub in listing.common_prefixes {
            let segments = segments_at(&sub);
            let name = sub.filename().unwrap_or_default();
            if !not_data(std::ffi::OsStr::new(name)) && range.may_hold(&segments) {
                folders.push(sub);
            }
        }
    }
    if found.is_empty() && !root.as_ref().is_empty() {
        // `az://container/path/PT1H.json` names an object, not a folder.
        match store.head(&root).await {
            Ok(meta) => found.push(meta),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(failed(&root, e).into()),
        }
    }
    found.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(found
        .into_iter()
        .map(|meta| {
            Input::Blob(Blob {
                store: Arc::clone(store),
                url: remote.url_of(&meta.location),
                meta,
            })
        })
        .collect())
}

/// Lists every location.
pub async fn list(locations: &[Location], range: &TimeRange) -> Result<Vec<Input>, ListError> {
    let mut inputs = Vec::new();
    for location in locations {
        match location {
            Location::Local(path) => inputs.extend(list_local(path, range)?),
            Location::Remote(remote) => inputs.extend(list_remote(remote, range).await?),
        }
    }
    Ok(inputs)
}

fn segments_of(text: &str) -> Vec<String> {
    text.split(['/', '\\'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    fn day(since: &str, until: &str) -> TimeRange {
        TimeRange {
            since: Some(ns(since)),
            until: Some(ns(until)),
            late_arrivals: TimeDelta::days(1).num_nanoseconds().unwrap(),
        }
    }

    fn split(path: &str) -> Vec<&str> {
        path.split('/').collect()
    }

    #[test]
    fn folders_outside_the_range_are_pruned_at_every_level() {
        let range = day("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z");
        let archive = "insights-logs-signinlogs/tenantId=t";
        for (path, expected) in [
            ("y=2024", true),
            ("y=2023", false),
            ("y=2024/m=05", true),
            ("y=2024/m=04", false),
            ("y=2024/m=05/d=01", true),
            ("y=2024/m=05/d=02", false),
            ("y=2024/m=04/d=30/h=23", false),
            ("y=2024/m=05/d=01/h=23/m=00", true),
            ("y=2024/m=05/d=01/h=23/m=55/PT05M.json", true),
            ("date=2024-05-01", true),
            ("date=2024-04-30", false),
        ] {
            let full = format!("{archive}/{path}");
            assert_eq!(range.may_hold(&split(&full)), expected, "{full}");
        }
        // A minute folder after the hour is not a month.
        let late = "c/y=2024/m=05/d=02/h=00/m=30";
        assert!(!range.may_hold(&split(late)));
    }

    #[test]
    fn data_export_folders_are_listed_a_late_arrival_window_back() {
        let range = day("2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z");
        let export = "am-signinlogs/WorkspaceResourceId=/x/y=2024/m=05/d=01/h=12";
        let archive = "insights-logs-signinlogs/x/y=2024/m=05/d=01/h=12";
        assert!(range.may_hold(&split(export)));
        assert!(!range.may_hold(&split(archive)));
        assert!(!range.may_hold(&split("am-signinlogs/x/y=2024/m=04/d=30/h=23")));
    }

    #[test]
    fn only_folders_wholly_inside_are_listed_flat() {
        let range = day("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z");
        assert!(range.holds_all(&split("c/y=2024/m=05/d=01")));
        assert!(!range.holds_all(&split("c/y=2024/m=05")));
        assert!(!range.holds_all(&split("c/tenantId=t")));
        assert!(TimeRange::default().holds_all(&split("c")));
    }
}
