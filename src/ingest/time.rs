//! Parsing the timestamps sources really carry into UTC nanoseconds, without losing the 100 ns
//! ticks (docs/hunt.md rule 10): RFC 3339 with any offset and up to 9 fraction digits,
//! offset-less ISO values (taken as UTC, as Log Analytics prints them), the text form DuckDB
//! and PostgreSQL give a `TIMESTAMPTZ` (`2021-04-28 14:08:45.221+00`: a space, an offset of
//! hours alone), and the portal CSV's US-locale `4/28/2021, 2:08:45.221 PM`.

use chrono::{DateTime, NaiveDateTime};

/// Nanoseconds since the Unix epoch, UTC.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    // `%#z` takes an offset with or without its minutes: `+00`, `+0530`, `+05:30`.
    const OFFSET_FORMATS: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"];
    let with_offset = DateTime::parse_from_rfc3339(text).ok().or_else(|| {
        OFFSET_FORMATS
            .iter()
            .find_map(|format| DateTime::parse_from_str(text, format).ok())
    });
    let naive = if let Some(with_offset) = with_offset {
        with_offset.naive_utc()
    } else {
        const NAIVE_FORMATS: [&str; 6] = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%m/%d/%Y, %I:%M:%S%.f %p",
            "%m/%d/%Y %I:%M:%S%.f %p",
            "%m/%d/%Y, %H:%M:%S%.f",
            "%m/%d/%Y %H:%M:%S%.f",
        ];
        let without_z = text.strip_suffix(['Z', 'z']).unwrap_or(text);
        NAIVE_FORMATS
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(without_z, format).ok())
            .ok_or_else(|| format!("unparseable timestamp {:?}", clip(text)))?
    };
    naive
        .and_utc()
        .timestamp_nanos_opt()
        .ok_or_else(|| format!("timestamp {:?} is outside 1677..2262", clip(text)))
}

/// Error messages quote input; a hostile 1 MB value must not become a 1 MB message.
pub fn clip(text: &str) -> &str {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2025-04-11T16:17:00Z is 1744388220 s after the epoch (date -d @1744388220 -u).
    const BASE: i64 = 1_744_388_220 * 1_000_000_000;

    #[test]
    fn keeps_seven_fraction_digits() {
        assert_eq!(
            parse_timestamp("2025-04-11T16:17:00.7397744Z"),
            Ok(BASE + 739_774_400)
        );
    }

    #[test]
    fn normalises_offsets_to_utc() {
        assert_eq!(
            parse_timestamp("2025-04-11T18:17:00.5+02:00"),
            Ok(BASE + 500_000_000)
        );
        assert_eq!(parse_timestamp("2025-04-11T16:17:00+00:00"), Ok(BASE));
    }

    #[test]
    fn reads_the_timestamptz_text_of_duckdb_and_postgresql() {
        assert_eq!(
            parse_timestamp("2025-04-11 16:17:00.353951+00"),
            Ok(BASE + 353_951_000)
        );
        assert_eq!(parse_timestamp("2025-04-11 18:17:00+02"), Ok(BASE));
        assert_eq!(
            parse_timestamp("2025-04-11 21:47:00.5+05:30"),
            Ok(BASE + 500_000_000)
        );
        assert_eq!(parse_timestamp("2025-04-11T15:17:00-0100"), Ok(BASE));
        assert!(parse_timestamp("2025-04-11 16:17:00+2").is_err());
    }

    #[test]
    fn reads_offsetless_and_us_locale_values_as_utc() {
        assert_eq!(parse_timestamp("2025-04-11 16:17:00"), Ok(BASE));
        assert_eq!(
            parse_timestamp("4/11/2025, 4:17:00.250 PM"),
            Ok(BASE + 250_000_000)
        );
        assert_eq!(parse_timestamp("4/11/2025 4:17:00 PM"), Ok(BASE));
    }

    #[test]
    fn rejects_garbage_and_out_of_range() {
        assert!(
            parse_timestamp("yesterday")
                .unwrap_err()
                .contains("unparseable")
        );
        assert!(
            parse_timestamp("9999-01-01T00:00:00Z")
                .unwrap_err()
                .contains("outside")
        );
    }
}
