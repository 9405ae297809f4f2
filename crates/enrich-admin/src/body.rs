//! A stored body as the page shows it: redacted by default, in full only when allowed.

use enrich_types::WebhookEvent;

/// The text shown for a stored body.
pub(crate) fn shown(raw: Option<&[u8]>, full: bool) -> String {
    let Some(raw) = raw else {
        return "(purged: the inbox no longer holds this body)".to_owned();
    };
    if full {
        return match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(value) => serde_json::to_string_pretty(&value)
                .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned()),
            Err(_) => String::from_utf8_lossy(raw).into_owned(),
        };
    }
    // The typed event's `Debug` form leaves out names, emails, phones, LinkedIn URLs and job
    // histories (enrich-types' `RedactedDebug`); an event this version does not know keeps
    // its `data` verbatim, so it is not shown at all.
    match serde_json::from_slice::<WebhookEvent>(raw) {
        Ok(WebhookEvent::Unknown(event)) => format!(
            "(not shown: the event type {:?} is unknown to this version, so its {} bytes cannot \
             be redacted)",
            event.event_type(),
            raw.len()
        ),
        Ok(event) => format!("{event:#?}"),
        Err(_) => format!(
            "(not shown: {} bytes that do not decode as an event, so they cannot be redacted)",
            raw.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"e-1","person":{"externalID":"crm-1","firstName":"Ada","lastName":"Lovelace","emails":[{"email":"ada@example.com"}],"mobilePhones":[{"mobilePhone":"+44 20 7946 0000"}]}}}"#;

    #[test]
    fn redacted_keeps_ids_and_drops_names_emails_and_phones() {
        let text = shown(Some(BODY.as_bytes()), false);
        assert!(text.contains("crm-1") && text.contains("e-1"), "{text}");
        for personal in ["Ada", "Lovelace", "ada@example.com", "7946"] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
    }

    #[test]
    fn full_shows_everything_and_unknown_events_show_nothing() {
        assert!(shown(Some(BODY.as_bytes()), true).contains("ada@example.com"));
        let unknown = r#"{"eventType":"person.secret","data":{"email":"ada@example.com"}}"#;
        assert!(!shown(Some(unknown.as_bytes()), false).contains("ada@"));
        assert!(!shown(Some(b"not json ada@example.com"), false).contains("ada@"));
        assert!(shown(None, true).contains("purged"));
    }
}
