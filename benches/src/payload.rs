//! Generated payloads: realistic people, the webhook events that carry them, and the
//! `GET /v2/people/enrich/:id` answer for a whole batch.
//!
//! Everything is deterministic (a fixed-seed generator), so every run measures the same bytes.

use enrich_types::{
    EmailType, EnrichPeopleResult, EnrichedPersonEmail, EnrichedPersonMobilePhone,
    EnrichedPersonResponse, EnrichmentStatus, JobPosition, ValidationStatus, WebhookEvent,
};
use serde::Serialize;

/// The signing secret every benchmark signs and verifies with.
pub const SECRET: &str = "whsec_benchmark_secret_0123456789";

/// The batch id every generated event carries.
pub const ENRICHMENT_ID: &str = "0195be44-1a0d-718a-967b-042c9d17ffd7";

const FIRST_NAMES: &[&str] = &[
    "Camille", "Hugo", "Léa", "Mathis", "Chloé", "Lucas", "Inès", "Gabriel", "Manon", "Arthur",
    "Sofia", "Jonas", "Amélie", "Nathan", "Zoé", "Raphaël",
];
const LAST_NAMES: &[&str] = &[
    "Durand",
    "Martin",
    "Bernard",
    "Lefèvre",
    "Moreau",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Mercier",
    "Blanchard",
];
const COMPANIES: &[(&str, &str)] = &[
    ("Lumen Analytics", "lumen-analytics.fr"),
    ("Octave Logistique", "octave-logistique.com"),
    ("Banque Méridionale", "banque-meridionale.fr"),
    ("Nordwind Energy GmbH", "nordwind-energy.de"),
    ("Brightline Health", "brightlinehealth.io"),
    ("Atelier Sablier", "ateliersablier.com"),
    ("Quantia Software", "quantia.software"),
    ("Helio Mobility", "heliomobility.eu"),
];
const TITLES: &[&str] = &[
    "Head of Data Engineering",
    "Senior Data Engineer",
    "Business Intelligence Analyst",
    "VP Sales EMEA",
    "Account Executive",
    "Chief Technology Officer",
    "Product Marketing Manager",
    "Research Intern",
];
const LOCATIONS: &[(&str, &str)] = &[
    ("France", "Paris, Île-de-France"),
    ("France", "Lyon, Auvergne-Rhône-Alpes"),
    ("Germany", "Berlin, Berlin"),
    ("Spain", "Barcelona, Catalonia"),
    ("United Kingdom", "London, England"),
];
const DEPARTMENTS: &[&str] = &["Engineering", "R&D", "Sales", "Marketing", "Operations"];
const SENIORITIES: &[&str] = &["Head", "Manager", "Senior", "Director", "Entry"];

/// A small deterministic generator (SplitMix64): no dependency, same values on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// How much the API found about a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Email addresses.
    pub emails: usize,
    /// Mobile phone numbers.
    pub phones: usize,
    /// Positions in the job history.
    pub jobs: usize,
}

impl Shape {
    /// The realistic delivery of the benchmarks: two emails, two phones, five positions.
    pub const FULL: Shape = Shape {
        emails: 2,
        phones: 2,
        jobs: 5,
    };
}

/// Builds a struct of `enrich_types` from its fields the way code outside that crate must (the
/// structs are `#[non_exhaustive]`): its default, then each field assigned, in the order written.
macro_rules! build {
    ($type:path { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let mut built = <$type>::default();
        $( built.$field = build!(@value $field $(, $value)?); )*
        built
    }};
    (@value $field:ident) => { $field };
    (@value $field:ident, $value:expr) => { $value };
}

/// A person with every field filled in, as the API answers for a well-known profile.
pub fn person(index: u64, shape: Shape, rng: &mut Rng) -> EnrichedPersonResponse {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let (company, domain) = *rng.pick(COMPANIES);
    let (country, location) = *rng.pick(LOCATIONS);
    let slug = format!(
        "{}-{}-{:x}",
        ascii_lower(first),
        ascii_lower(last),
        rng.next_u64() & 0xffff
    );
    let emails = (0..shape.emails)
        .map(|n| {
            let personal = n % 2 == 1;
            build!(EnrichedPersonEmail {
                email: Some(if personal {
                    format!("{slug}.perso@gmail.com")
                } else {
                    format!("{}.{}@{domain}", ascii_lower(first), ascii_lower(last))
                }),
                validation_status: Some(if rng.below(4) == 0 {
                    ValidationStatus::CatchAll
                } else {
                    ValidationStatus::Valid
                }),
                email_type: Some(if personal {
                    EmailType::Personal
                } else {
                    EmailType::Professional
                }),
            })
        })
        .collect();
    let mobile_phones = (0..shape.phones)
        .map(|_| {
            build!(EnrichedPersonMobilePhone {
                mobile_phone: Some(format!(
                    "+33 {} {:02} {:02} {:02} {:02}",
                    6 + rng.below(2),
                    rng.below(100),
                    rng.below(100),
                    rng.below(100),
                    rng.below(100)
                )),
                confidence_score: Some((rng.below(100) as f64) / 100.0),
            })
        })
        .collect();
    let mut year = 2024 - rng.below(3);
    let job_history = (0..shape.jobs)
        .map(|n| {
            let (employer, _) = if n == 0 {
                (company, domain)
            } else {
                *rng.pick(COMPANIES)
            };
            let start = year - 1 - rng.below(3);
            let position = build!(JobPosition {
                company_name: Some(employer.to_owned()),
                job_title: Some((*rng.pick(TITLES)).to_owned()),
                start_date: Some(format!("{start}-{:02}-01T00:00:00Z", 1 + rng.below(12))),
                end_date: (n > 0).then(|| format!("{year}-{:02}-28T00:00:00Z", 1 + rng.below(12))),
                linked_in_url: Some(if rng.below(3) == 0 {
                    format!("urn:li:company:{}", 1_000_000 + rng.below(9_000_000))
                } else {
                    format!(
                        "https://www.linkedin.com/company/{}",
                        ascii_lower(employer).replace(' ', "-")
                    )
                }),
            });
            year = start;
            position
        })
        .collect();
    build!(EnrichedPersonResponse {
        external_id: Some(format!("crm-contact-{}", 10_000 + index)),
        first_name: Some(first.to_owned()),
        last_name: Some(last.to_owned()),
        job_title: Some((*rng.pick(TITLES)).to_owned()),
        company_name: Some(company.to_owned()),
        company_domain: Some(domain.to_owned()),
        country: Some(country.to_owned()),
        location: Some(location.to_owned()),
        linked_in_url: Some(format!("https://www.linkedin.com/in/{slug}")),
        departments: Some(vec![
            (*rng.pick(DEPARTMENTS)).to_owned(),
            (*rng.pick(DEPARTMENTS)).to_owned(),
        ]),
        seniorities: Some(vec![
            (*rng.pick(SENIORITIES)).to_owned(),
            (*rng.pick(SENIORITIES)).to_owned(),
        ]),
        emails: Some(emails),
        mobile_phones: Some(mobile_phones),
        job_history: Some(job_history),
        status: Some(EnrichmentStatus::Completed),
    })
}

/// A person the API found little about (or nothing: `NOT_FOUND`).
fn sparse_person(index: u64, rng: &mut Rng) -> EnrichedPersonResponse {
    let found = rng.below(2) == 0;
    build!(EnrichedPersonResponse {
        external_id: Some(format!("crm-contact-{}", 10_000 + index)),
        first_name: Some((*rng.pick(FIRST_NAMES)).to_owned()),
        last_name: Some((*rng.pick(LAST_NAMES)).to_owned()),
        company_name: found.then(|| rng.pick(COMPANIES).0.to_owned()),
        emails: found.then(Vec::new),
        mobile_phones: found.then(Vec::new),
        status: Some(if found {
            EnrichmentStatus::Completed
        } else {
            EnrichmentStatus::from("NOT_FOUND")
        }),
    })
}

fn ascii_lower(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'ï' | 'î' => 'i',
            'ö' | 'ô' => 'o',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A `person.enrichment.completed` body: the event of a fully enriched person (two emails, two
/// phones, five positions), pretty-printed like the API documentation's examples: about 2.6 KB.
pub fn realistic_event() -> Vec<u8> {
    to_pretty(&realistic_person_event())
}

/// The same event as [`realistic_event`] as compact JSON (no whitespace): about 1.9 KB.
pub fn realistic_event_compact() -> Vec<u8> {
    serde_json::to_vec(&realistic_person_event()).expect("a generated event serializes")
}

fn realistic_person_event() -> WebhookEvent {
    let person = person(482, Shape::FULL, &mut Rng::new(7));
    WebhookEvent::PersonEnrichmentCompleted(build!(enrich_types::PersonEnrichmentCompleted {
        enrichment_id: Some(ENRICHMENT_ID.to_owned()),
        person,
    }))
}

/// The smallest complete `person.enrichment.completed` body: a batch id and an external id.
pub fn minimal_event() -> Vec<u8> {
    format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"{ENRICHMENT_ID}","person":{{"externalID":"crm-contact-10482","status":"COMPLETED"}}}}}}"#
    )
    .into_bytes()
}

/// The `GET /v2/people/enrich/:id` answer for a finished batch of `count` people: about four in
/// five fully enriched (one to six positions), the rest sparse or not found. Compact JSON.
pub fn people_result(count: usize) -> Vec<u8> {
    let mut rng = Rng::new(42);
    let people = (0..count as u64)
        .map(|index| {
            if rng.below(5) == 0 {
                sparse_person(index, &mut rng)
            } else {
                let shape = Shape {
                    emails: 1 + rng.below(3),
                    phones: rng.below(3),
                    jobs: 1 + rng.below(6),
                };
                person(index, shape, &mut rng)
            }
        })
        .collect();
    let result = build!(EnrichPeopleResult {
        enrichment_id: Some(ENRICHMENT_ID.to_owned()),
        status: Some(EnrichmentStatus::Completed),
        percent_completed: Some(100.0),
        people: Some(people),
    });
    serde_json::to_vec(&result).expect("a generated result serializes")
}

/// A valid event of exactly `size` bytes: the realistic event with an unknown `padding` key
/// (ignored by the decoder) that fills it up. `None` if `size` is smaller than the event.
pub fn event_of_size(size: usize) -> Option<Vec<u8>> {
    let event = realistic_event();
    let mut value: serde_json::Value = serde_json::from_slice(&event).ok()?;
    let object = value.as_object_mut()?;
    object.insert(
        "padding".to_owned(),
        serde_json::Value::String(String::new()),
    );
    let base = serde_json::to_vec(&value).ok()?.len();
    let fill = size.checked_sub(base)?;
    let object = value.as_object_mut()?;
    object.insert(
        "padding".to_owned(),
        serde_json::Value::String("x".repeat(fill)),
    );
    let body = serde_json::to_vec(&value).ok()?;
    (body.len() == size).then_some(body)
}

fn to_pretty(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("a generated event serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_realistic_event_is_a_full_person_of_a_few_kilobytes() {
        let body = realistic_event();
        assert!((2_500..=3_600).contains(&body.len()), "{}", body.len());
        let event: WebhookEvent = serde_json::from_slice(&body).unwrap();
        let person = event.person().unwrap();
        assert_eq!(person.emails.as_ref().unwrap().len(), 2);
        assert_eq!(person.mobile_phones.as_ref().unwrap().len(), 2);
        assert_eq!(person.job_history.as_ref().unwrap().len(), 5);
        let compact = realistic_event_compact();
        assert!(compact.len() < body.len());
        assert_eq!(
            serde_json::from_slice::<WebhookEvent>(&compact).unwrap(),
            event
        );
    }

    #[test]
    fn the_minimal_event_decodes() {
        let event: WebhookEvent = serde_json::from_slice(&minimal_event()).unwrap();
        assert_eq!(event.external_id(), Some("crm-contact-10482"));
    }

    #[test]
    fn a_people_result_decodes_with_every_person() {
        let body = people_result(50);
        let result: EnrichPeopleResult = serde_json::from_slice(&body).unwrap();
        assert_eq!(result.people.unwrap().len(), 50);
    }

    #[test]
    fn events_of_an_exact_size_decode() {
        for size in [4_096, 65_536, 1024 * 1024] {
            let body = event_of_size(size).unwrap();
            assert_eq!(body.len(), size);
            assert!(serde_json::from_slice::<WebhookEvent>(&body).is_ok());
        }
        assert_eq!(event_of_size(10), None);
    }
}
