//! `Debug` without personal data: the person types print their ids, statuses and counts, and
//! `<redacted>` in place of names, email addresses, phone numbers, LinkedIn URLs and job
//! histories, so that `{:?}` in a log line never carries a person. Tests and debugging sessions
//! that need the values ask for them explicitly: `person.unredacted()`.

use std::fmt;

/// A type whose `Debug` form leaves out personal data unless asked for it: names, email
/// addresses, phone numbers, LinkedIn URLs, job histories print as `<redacted>` (lists as how
/// many), with `{:?}` and `{:#?}` alike. Ids, statuses and counts stay.
///
/// ```
/// use enrich_types::{EnrichedPersonResponse, RedactedDebug};
///
/// let person: EnrichedPersonResponse =
///     serde_json::from_str(r#"{"externalID":"crm-42","firstName":"Ada"}"#)?;
/// assert!(!format!("{person:?}").contains("Ada"));
/// assert!(!format!("{person:#?}").contains("Ada"));
/// assert!(format!("{:?}", person.unredacted()).contains("Ada"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait RedactedDebug {
    /// Writes the `Debug` form: with every value when `full`, else with the personal ones
    /// replaced by `<redacted>`.
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>, full: bool) -> fmt::Result;

    /// The `Debug` form with every value, personal data included (for tests; never for logs).
    fn unredacted(&self) -> Unredacted<'_, Self> {
        Unredacted(self)
    }
}

/// Shows every value of `T` in its `Debug` form, personal data included
/// ([`RedactedDebug::unredacted`]).
pub struct Unredacted<'a, T: ?Sized>(&'a T);

impl<T: RedactedDebug + ?Sized> fmt::Debug for Unredacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_redacted(f, true)
    }
}

/// A personal value: itself when `full`, else `Some(<redacted>)` (or `None`).
pub(crate) struct Personal<'a, T>(pub &'a Option<T>, pub bool);

impl<T: fmt::Debug> fmt::Debug for Personal<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (value, true) => value.fmt(f),
            (None, false) => f.write_str("None"),
            (Some(_), false) => f.write_str("Some(<redacted>)"),
        }
    }
}

/// A list of personal items: each with its own redaction, or (redacted) only how many.
pub(crate) struct PersonalList<'a, T>(pub &'a Option<Vec<T>>, pub bool);

impl<T: RedactedDebug> fmt::Debug for PersonalList<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (None, _) => f.write_str("None"),
            (Some(items), true) => f
                .debug_list()
                .entries(items.iter().map(RedactedDebug::unredacted))
                .finish(),
            (Some(items), false) => write!(f, "Some(<{} redacted>)", items.len()),
        }
    }
}

/// `impl Debug` through [`RedactedDebug`], redacted.
macro_rules! redacted_debug {
    ($($type:ty),* $(,)?) => {
        $(
            impl std::fmt::Debug for $type {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    $crate::redact::RedactedDebug::fmt_redacted(self, f, false)
                }
            }
        )*
    };
}

pub(crate) use redacted_debug;

#[cfg(test)]
mod tests;
