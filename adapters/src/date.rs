//! UTC calendar dates, as date mode needs them (no time zones involved).

use std::fmt;
use std::str::FromStr;

const DAY: i64 = 86_400;

/// A day of the proleptic Gregorian calendar, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDate {
    year: i32,
    month: u8,
    day: u8,
}

impl UtcDate {
    /// Returns the date, if it exists.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month)
            .contains(&day)
            .then_some(Self { year, month, day })
    }

    /// Returns today's date in UTC, by the wall clock.
    #[must_use]
    pub fn today() -> Self {
        Self::of_unix(i64::from(crate::live::unix_now()))
    }

    /// Returns the date of a Unix time.
    pub fn of_unix(secs: i64) -> Self {
        // Howard Hinnant's civil_from_days.
        let z = secs.div_euclid(DAY) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        // Day 1..=31 and month 1..=12 by construction; the year saturates
        // for times billions of years away.
        let day = u8::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
        let month = u8::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
        let year = i32::try_from(yoe + era * 400 + i64::from(month <= 2)).unwrap_or(if secs < 0 {
            i32::MIN
        } else {
            i32::MAX
        });
        Self { year, month, day }
    }

    /// Returns 00:00 UTC of this date as Unix seconds.
    pub fn midnight(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) * DAY
    }

    /// Returns the next day.
    #[must_use]
    pub fn succ(self) -> Self {
        Self::of_unix(self.midnight() + DAY)
    }
}

impl fmt::Display for UtcDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Why a date did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DateError {
    /// Not `YYYY-MM-DD` (or `YYYY/MM/DD`), or no such day.
    Malformed(String),
    /// A range whose end is before its start.
    Backwards(String),
    /// A day before the first day with blocks.
    TooEarly {
        /// The date or range given.
        given: String,
        /// The first day that can be priced.
        first: UtcDate,
    },
    /// A day after the last day that can have blocks.
    TooLate {
        /// The date or range given.
        given: String,
        /// The last day that can be priced.
        last: UtcDate,
    },
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(s) => write!(
                f,
                "'{s}' is not a date: expected YYYY-MM-DD (or YYYY/MM/DD)"
            ),
            Self::Backwards(s) => write!(f, "'{s}': the range runs backwards"),
            Self::TooEarly { given, first } => {
                write!(f, "'{given}': before {first}, the first day with blocks")
            }
            Self::TooLate { given, last } => write!(f, "'{given}': after {last}, no blocks yet"),
        }
    }
}

impl std::error::Error for DateError {}

impl FromStr for UtcDate {
    type Err = DateError;

    /// Parses `YYYY-MM-DD`, or `YYYY/MM/DD` as the reference writes dates.
    fn from_str(s: &str) -> Result<Self, DateError> {
        let err = || DateError::Malformed(s.to_string());
        let mut parts = s.trim().split(['-', '/']);
        let mut next = || parts.next().ok_or_else(err);
        let (y, m, d) = (next()?, next()?, next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let (y, m, d) = (
            y.parse().map_err(|_| err())?,
            m.parse().map_err(|_| err())?,
            d.parse().map_err(|_| err())?,
        );
        Self::new(y, m, d).ok_or_else(err)
    }
}

/// Parses `DATE` or an inclusive range `DATE..DATE` into its days, each
/// within `first..=last` (checked before a range is spelled out, so no
/// range can grow without bound).
///
/// # Errors
/// Returns a [`DateError`] for a malformed date, a range that runs
/// backwards, or a day outside `first..=last`.
pub fn parse_dates_between(
    s: &str,
    first: UtcDate,
    last: UtcDate,
) -> Result<Vec<UtcDate>, DateError> {
    let (a, b) = s.split_once("..").unwrap_or((s, s));
    let (a, b): (UtcDate, UtcDate) = (a.parse()?, b.parse()?);
    for day in [a, b] {
        if day < first {
            return Err(DateError::TooEarly {
                given: s.to_owned(),
                first,
            });
        }
        if day > last {
            return Err(DateError::TooLate {
                given: s.to_owned(),
                last,
            });
        }
    }
    parse_dates(s)
}

/// Parses `DATE` or an inclusive range `DATE..DATE` into its days.
///
/// # Errors
/// Returns a [`DateError`] for a malformed date or a range that runs backwards.
pub fn parse_dates(s: &str) -> Result<Vec<UtcDate>, DateError> {
    let Some((a, b)) = s.split_once("..") else {
        return Ok(vec![s.parse()?]);
    };
    let (mut day, last): (UtcDate, UtcDate) = (a.parse()?, b.parse()?);
    if last < day {
        return Err(DateError::Backwards(s.to_owned()));
    }
    let mut out = vec![day];
    while day < last {
        day = day.succ();
        out.push(day);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_over_four_centuries() {
        let mut day = UtcDate::new(1970, 1, 1).unwrap();
        assert_eq!(day.midnight(), 0);
        for _ in 0..146_097 {
            assert_eq!(UtcDate::of_unix(day.midnight()), day);
            assert_eq!(UtcDate::of_unix(day.midnight() + DAY - 1), day);
            day = day.succ();
        }
        assert_eq!(day, UtcDate::new(2370, 1, 1).unwrap());
    }

    #[test]
    fn known_dates() {
        // Block 702861: 2021-09-30 11:50 UTC.
        assert_eq!(UtcDate::of_unix(1_633_002_600).to_string(), "2021-09-30");
        assert_eq!(
            "2024/02/29".parse::<UtcDate>().unwrap().midnight(),
            1_709_164_800
        );
        assert!("2023-02-29".parse::<UtcDate>().is_err());
        assert!("2023-1-05".parse::<UtcDate>().is_err());
        assert!("yesterday".parse::<UtcDate>().is_err());
    }

    #[test]
    fn ranges() {
        let days = parse_dates("2024-02-27..2024-03-01").unwrap();
        assert_eq!(days.len(), 4);
        assert_eq!(days[2].to_string(), "2024-02-29");
        assert_eq!(parse_dates("2024-01-01").unwrap().len(), 1);
        assert!(parse_dates("2024-01-02..2024-01-01").is_err());
    }
}
