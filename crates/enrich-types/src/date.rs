//! Reading the API's dates, which arrive in more than one form.
//!
//! The docs give job dates as RFC 3339 (`2023-01-01T00:00:00Z`) and real traffic carries month
//! precision (`2019-01`). The model keeps the string as sent; [`PartialDate`] reads the calendar
//! date out of it, keeping the precision the API gave.

use std::fmt;

/// A calendar date known to the year, the month or the day.
///
/// ```
/// use enrich_types::PartialDate;
///
/// let month = PartialDate::parse("2019-01").unwrap();
/// assert_eq!((month.year, month.month, month.day), (2019, Some(1), None));
/// assert_eq!(PartialDate::new(2019, Some(1), None), Some(month));
///
/// let day = PartialDate::parse("2023-01-01T00:00:00Z").unwrap();
/// assert_eq!(day.to_string(), "2023-01-01");
///
/// assert_eq!(PartialDate::parse("last spring"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct PartialDate {
    /// The year, four digits on the wire.
    pub year: u16,
    /// The month, 1 to 12, when the date has one.
    pub month: Option<u8>,
    /// The day of the month, when the date has one (only together with a month).
    pub day: Option<u8>,
}

impl PartialDate {
    /// The date `year`, `year-month` or `year-month-day`; `None` for a date that cannot exist: a
    /// year past 9999, a month outside 1 to 12, a day that month does not have (`2023-02-30`), or
    /// a day without a month.
    pub fn new(year: u16, month: Option<u8>, day: Option<u8>) -> Option<Self> {
        if year > 9999 {
            return None;
        }
        match (month, day) {
            (None, Some(_)) => return None,
            (Some(month), _) if !(1..=12).contains(&month) => return None,
            (Some(month), Some(day)) if !(1..=days_in_month(year, month)).contains(&day) => {
                return None;
            }
            _ => {}
        }
        Some(Self { year, month, day })
    }

    /// Reads `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or an RFC 3339 timestamp (whose date part is taken
    /// as written, without moving it to another time zone). Returns `None` for anything else,
    /// including impossible dates such as `2023-02-30`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        // An RFC 3339 timestamp: the date is everything before the `T` (or space) separator.
        let date = match text.find(['T', 't', ' ']) {
            Some(separator) if separator == 10 => &text[..separator],
            Some(_) => return None,
            None => text,
        };
        let mut parts = date.split('-');
        let year = u16::try_from(parse_digits(parts.next()?, 4)?).ok()?;
        let mut next_part = || match parts.next() {
            None => Some(None),
            Some(part) => parse_digits(part, 2).map(|n| u8::try_from(n).ok()),
        };
        let month = next_part()?;
        let day = next_part()?;
        if next_part()?.is_some() {
            return None;
        }
        Self::new(year, month, day)
    }
}

impl fmt::Display for PartialDate {
    /// Writes the date in the ISO 8601 form of its precision: `2019`, `2019-01` or `2019-01-31`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(month) = self.month {
            write!(f, "-{month:02}")?;
            if let Some(day) = self.day {
                write!(f, "-{day:02}")?;
            }
        }
        Ok(())
    }
}

fn parse_digits(text: &str, width: usize) -> Option<u32> {
    if text.len() == width && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::PartialDate;

    fn parsed(text: &str) -> Option<String> {
        PartialDate::parse(text).map(|date| date.to_string())
    }

    #[test]
    fn reads_every_documented_and_observed_form() {
        assert_eq!(parsed("2019"), Some("2019".into()));
        assert_eq!(parsed("2019-01"), Some("2019-01".into()));
        assert_eq!(parsed("2019-01-31"), Some("2019-01-31".into()));
        assert_eq!(parsed("2023-01-01T00:00:00Z"), Some("2023-01-01".into()));
        assert_eq!(
            parsed("2023-06-30T23:59:59.123+02:00"),
            Some("2023-06-30".into())
        );
        assert_eq!(parsed(" 2019-01 "), Some("2019-01".into()));
    }

    #[test]
    fn new_refuses_what_parse_refuses() {
        assert_eq!(
            PartialDate::new(2019, None, None).map(|d| d.to_string()),
            Some("2019".into())
        );
        assert_eq!(
            PartialDate::new(2024, Some(2), Some(29)).map(|d| d.to_string()),
            Some("2024-02-29".into())
        );
        assert_eq!(PartialDate::new(2023, Some(2), Some(29)), None);
        assert_eq!(PartialDate::new(2019, Some(13), None), None);
        assert_eq!(PartialDate::new(2019, Some(0), None), None);
        assert_eq!(PartialDate::new(2019, None, Some(1)), None);
        assert_eq!(PartialDate::new(2019, Some(4), Some(0)), None);
        assert_eq!(PartialDate::new(10_000, None, None), None);
    }

    #[test]
    fn refuses_impossible_or_foreign_forms() {
        for text in [
            "",
            "19-01",
            "2019-1",
            "2019-13",
            "2019-00",
            "2023-02-29",
            "2019-04-31",
            "2019-01-01-01",
            "01/2019",
            "2019-01T",
            "20190101",
            "abcd",
            "2019-01-01X00:00",
        ] {
            assert_eq!(parsed(text), None, "{text:?} should not parse");
        }
        assert_eq!(parsed("2024-02-29"), Some("2024-02-29".into()));
        assert_eq!(parsed("2000-02-29"), Some("2000-02-29".into()));
        assert_eq!(parsed("1900-02-29"), None);
    }
}
