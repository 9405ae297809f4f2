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
mod tests {
    use super::RedactedDebug;
    use crate::{EnrichedPersonResponse, PersonToEnrich, WebhookEvent};

    const MARKERS: [&str; 9] = [
        "MarkerFirst",
        "MarkerLast",
        "MarkerTitle",
        "MarkerEmployer",
        "MarkerTown",
        "linkedin.com/in/marker",
        "marker@example.com",
        "+44 7700 900123",
        "MarkerPastEmployer",
    ];

    fn person() -> EnrichedPersonResponse {
        serde_json::from_str(
            r#"{"externalID":"crm-42","firstName":"MarkerFirst","lastName":"MarkerLast",
                "jobTitle":"MarkerTitle","companyName":"MarkerEmployer","location":"MarkerTown",
                "linkedInUrl":"https://linkedin.com/in/marker","companyDomain":"example.org",
                "emails":[{"email":"marker@example.com","validationStatus":"VALID"}],
                "mobilePhones":[{"mobilePhone":"+44 7700 900123","confidenceScore":0.9}],
                "jobHistory":[{"companyName":"MarkerPastEmployer","jobTitle":"MarkerTitle"}],
                "status":"COMPLETED"}"#,
        )
        .expect("a person")
    }

    #[test]
    fn debug_of_a_person_and_its_event_shows_ids_and_counts_never_a_personal_value() {
        let person = person();
        let event: WebhookEvent = serde_json::from_value(serde_json::json!({
            "eventType": "person.enrichment.completed",
            "data": {"enrichmentID": "e-1", "person": serde_json::to_value(&person).unwrap()},
        }))
        .unwrap();
        for shown in [
            format!("{person:?}"),
            format!("{person:#?}"),
            format!("{event:?}"),
            format!("{event:#?}"),
            format!("{:?}", person.emails.as_ref().unwrap()[0]),
            format!("{:?}", person.mobile_phones.as_ref().unwrap()[0]),
            format!("{:?}", person.job_history.as_ref().unwrap()[0]),
        ] {
            for marker in MARKERS {
                assert!(!shown.contains(marker), "{marker} in {shown}");
            }
        }
        let shown = format!("{person:?}");
        for kept in ["crm-42", "example.org", "Some(<1 redacted>)", "Completed"] {
            assert!(shown.contains(kept), "{kept} missing from {shown}");
        }
        let full = format!("{:?}", person.unredacted());
        for marker in MARKERS {
            assert!(full.contains(marker), "{marker} missing from {full}");
        }
    }

    #[test]
    fn debug_of_a_person_to_enrich_redacts_names_and_linkedin() {
        let person = PersonToEnrich {
            first_name: Some("MarkerFirst".to_owned()),
            last_name: Some("MarkerLast".to_owned()),
            linkedin_url: Some("https://linkedin.com/in/marker".to_owned()),
            external_id: Some("crm-7".to_owned()),
            ..PersonToEnrich::default()
        };
        let shown = format!("{person:?}");
        assert!(
            !shown.contains("Marker") && !shown.contains("marker"),
            "{shown}"
        );
        assert!(shown.contains("crm-7"), "{shown}");
        assert!(format!("{:?}", person.unredacted()).contains("MarkerFirst"));
    }
}
