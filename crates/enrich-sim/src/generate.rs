//! Deterministic, realistic enriched people and companies, with the wire quirks real traffic has.
//!
//! Each result depends only on the seed, the batch number, the item's position and the request,
//! so the same run gives the same people. Values come from small fictional lists: company
//! domains use the reserved `.example` top-level domain, and phone numbers the ranges set aside
//! for fiction where a country has one, so nothing generated reaches a real person.

use enrich_types::{
    CompanyToEnrich, EmailType, EnrichedCompanyResponse, EnrichedPersonEmail,
    EnrichedPersonMobilePhone, EnrichedPersonResponse, EnrichmentStatus, Include, JobPosition,
    PersonToEnrich, ValidationStatus,
};
use fastrand::Rng;
use serde_json::Value;

const FIRST_NAMES: [&str; 20] = [
    "Camille", "Hugo", "Léa", "Jonas", "Aiko", "Mateo", "Priya", "Sofia", "Liam", "Noor", "Elena",
    "Kwame", "Inès", "Oskar", "Yuki", "Amara", "Lucas", "Chloé", "Rafael", "Mei",
];

const LAST_NAMES: [&str; 20] = [
    "Durand", "Martin", "Weber", "Tanaka", "García", "Sharma", "Rossi", "Okafor", "Silva", "Nowak",
    "Laurent", "Jensen", "Haddad", "Kim", "Novak", "Moreau", "Fischer", "Costa", "Ivanova",
    "Bauer",
];

/// Name and domain of fictional employers.
const COMPANIES: [(&str, &str); 10] = [
    ("Lumen Analytics", "lumen-analytics.example"),
    ("Northwind Logistics", "northwind.example"),
    ("Brightpath Health", "brightpath-health.example"),
    ("Cobalt Robotics", "cobalt-robotics.example"),
    ("Fernhill Bank", "fernhill.example"),
    ("Quayside Media", "quayside-media.example"),
    ("Helix Biotech", "helix-bio.example"),
    ("Atlas Mobility", "atlas-mobility.example"),
    ("Verdant Energy", "verdant-energy.example"),
    ("Pinecrest Software", "pinecrest.example"),
];

/// Title, department and seniority.
const ROLES: [(&str, &str, &str); 10] = [
    ("Head of Data", "Engineering", "Head"),
    ("Senior Software Engineer", "Engineering", "Senior"),
    ("Marketing Manager", "Marketing", "Manager"),
    ("VP Sales", "Sales", "VP"),
    ("Product Designer", "Design", "Senior"),
    ("Chief Financial Officer", "Finance", "C-Level"),
    ("HR Business Partner", "Human Resources", "Senior"),
    ("Account Executive", "Sales", "Entry"),
    ("Research Scientist", "R&D", "Senior"),
    ("Operations Director", "Operations", "Director"),
];

/// Location, country, and a mobile number pattern (`#` is a random digit; the UK and North
/// American patterns are the ranges reserved for fiction).
const PLACES: [(&str, &str, &str); 8] = [
    ("Paris, Île-de-France", "France", "+33 6 ## ## ## ##"),
    ("Berlin, Berlin", "Germany", "+49 151 #### ####"),
    ("London, England", "United Kingdom", "+44 7700 900###"),
    ("Madrid, Community of Madrid", "Spain", "+34 6## ## ## ##"),
    ("Milan, Lombardy", "Italy", "+39 3## ### ####"),
    ("Amsterdam, North Holland", "Netherlands", "+31 6 #### ####"),
    ("New York, New York", "United States", "+1 212 555 01##"),
    ("Toronto, Ontario", "Canada", "+1 416 555 01##"),
];

const INDUSTRIES: [(&str, &str); 6] = [
    ("Software", "Business Intelligence"),
    ("Transportation", "Freight & Logistics"),
    ("Healthcare", "Digital Health"),
    ("Manufacturing", "Industrial Automation"),
    ("Financial Services", "Retail Banking"),
    ("Energy", "Renewables"),
];

/// A random generator for one item: the same inputs always give the same values.
pub(crate) fn rng_for(seed: u64, batch: u64, index: usize, purpose: u64) -> Rng {
    // SplitMix64-style mixing so that neighbouring inputs give unrelated streams.
    let mut x =
        seed ^ batch.rotate_left(17) ^ (index as u64).rotate_left(34) ^ purpose.rotate_left(51);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Rng::with_seed(x ^ (x >> 31))
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())]
}

/// `pattern` with each `#` replaced by a random digit.
fn digits(rng: &mut Rng, pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| if c == '#' { rng.digit(10) } else { c })
        .collect()
}

/// Lower-case ASCII for an email local part or a profile slug: accents dropped, spaces to `sep`.
fn ascii_slug(text: &str, sep: char) -> String {
    text.chars()
        .filter_map(|c| {
            let base = match c {
                'à' | 'á' | 'â' | 'ä' | 'À' | 'Á' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ó' | 'ò' | 'ô' | 'ö' => 'o',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                'ñ' => 'n',
                ' ' | '-' | '.' | '_' => sep,
                c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
                _ => return None,
            };
            Some(base)
        })
        .collect()
}

/// The enriched person for `wanted`, as it goes on the wire (with quirks).
pub(crate) fn person(mut rng: Rng, wanted: &PersonToEnrich, include: &Include) -> Value {
    let first = wanted
        .first_name
        .clone()
        .unwrap_or_else(|| pick(&mut rng, &FIRST_NAMES).to_owned());
    let last = wanted
        .last_name
        .clone()
        .unwrap_or_else(|| pick(&mut rng, &LAST_NAMES).to_owned());
    let (default_company, default_domain) = pick(&mut rng, &COMPANIES);
    let company = match (&wanted.company_name, &wanted.company_domain) {
        (Some(name), _) => name.clone(),
        (None, Some(domain)) => name_of_domain(domain),
        (None, None) => default_company.to_owned(),
    };
    let domain = wanted
        .company_domain
        .clone()
        .unwrap_or_else(|| default_domain.to_owned());
    let (title, department, seniority) = pick(&mut rng, &ROLES);
    let (location, country, phone_pattern) = pick(&mut rng, &PLACES);
    let not_found = rng.u8(..100) < 3;

    let mut person = EnrichedPersonResponse::default();
    person.external_id = wanted.external_id.clone();
    person.first_name = Some(first.clone());
    person.last_name = Some(last.clone());
    if not_found {
        // Observed: a person the API could not find comes back with a status beyond the
        // documented ones and nothing else.
        person.status = Some(EnrichmentStatus::from("NOT_FOUND"));
        let mut value = to_value(&person);
        if include.email {
            value["emails"] = Value::Null;
        }
        return value;
    }
    person.job_title = Some(title.to_owned());
    person.company_name = Some(company.clone());
    person.company_domain = Some(domain.clone());
    person.country = Some(country.to_owned());
    person.location = Some(location.to_owned());
    person.departments = Some(vec![department.to_owned()]);
    person.seniorities = Some(vec![seniority.to_owned()]);
    person.status = Some(EnrichmentStatus::Completed);
    if include.linked_in_url || wanted.linkedin_url.is_some() {
        person.linked_in_url = Some(wanted.linkedin_url.clone().unwrap_or_else(|| {
            // Observed both with and without `www`.
            let host = if rng.u8(..100) < 80 {
                "www.linkedin.com"
            } else {
                "linkedin.com"
            };
            format!(
                "https://{host}/in/{}-{}-{:04x}",
                ascii_slug(&first, '-'),
                ascii_slug(&last, '-'),
                rng.u16(..)
            )
        }));
    }
    let mut catch_all_with_space = false;
    let emails_found = include.email && rng.u8(..100) >= 15;
    if emails_found {
        let roll = rng.u8(..100);
        let status = if roll < 75 {
            ValidationStatus::Valid
        } else {
            // The docs' own type spells it " CATCH_ALL"; half of the sim's catch-alls do too.
            catch_all_with_space = rng.bool();
            ValidationStatus::CatchAll
        };
        let mut work = EnrichedPersonEmail::default();
        work.email = Some(format!(
            "{}.{}@{domain}",
            ascii_slug(&first, '-'),
            ascii_slug(&last, '-')
        ));
        work.validation_status = Some(status);
        work.email_type = Some(EmailType::Professional);
        person.emails = Some(vec![work]);
    }
    if include.mobile {
        // Observed: `[]` when no number was found.
        person.mobile_phones = Some(if rng.u8(..100) < 70 {
            let mut phone = EnrichedPersonMobilePhone::default();
            phone.mobile_phone = Some(digits(&mut rng, phone_pattern));
            phone.confidence_score = Some(f64::from(rng.u8(55..=99)) / 100.0);
            vec![phone]
        } else {
            Vec::new()
        });
    }
    if include.job_history {
        person.job_history = Some(job_history(&mut rng, &company, title));
    }
    let mut value = to_value(&person);
    if include.email && !emails_found {
        // Observed: `"emails": null` rather than an absent key or `[]`.
        value["emails"] = Value::Null;
    }
    if catch_all_with_space {
        value["emails"][0]["validationStatus"] = Value::from(" CATCH_ALL");
    }
    value
}

/// One to three positions, the current one first (no end date). Dates are month precision as
/// observed (`2019-01`), sometimes the documented RFC 3339 form.
fn job_history(rng: &mut Rng, company: &str, title: &str) -> Vec<JobPosition> {
    let count = rng.usize(1..=3);
    let mut end_year = 2026 - i32::from(rng.u8(0..2));
    let mut positions = Vec::with_capacity(count);
    for position in 0..count {
        let start_year = end_year - i32::from(rng.u8(1..6));
        let month = rng.u8(1..=12);
        let date = |rng: &mut Rng, year: i32| {
            if rng.u8(..100) < 80 {
                format!("{year}-{month:02}")
            } else {
                format!("{year}-{month:02}-01T00:00:00Z")
            }
        };
        let (name, job_title) = if position == 0 {
            (company.to_owned(), title.to_owned())
        } else {
            let (name, _) = pick(rng, &COMPANIES);
            let (job_title, _, _) = pick(rng, &ROLES);
            (name.to_owned(), job_title.to_owned())
        };
        let mut job = JobPosition::default();
        job.linked_in_url = Some(if rng.bool() {
            format!("urn:li:company:{}", rng.u32(100_000..10_000_000))
        } else {
            format!(
                "https://www.linkedin.com/company/{}",
                ascii_slug(&name, '-')
            )
        });
        job.company_name = Some(name);
        job.job_title = Some(job_title);
        job.start_date = Some(date(rng, start_year));
        job.end_date = (position > 0).then(|| date(rng, end_year));
        positions.push(job);
        end_year = start_year;
    }
    positions
}

/// A company name made from a domain's first label: `cobalt-robotics.example` → `Cobalt Robotics`.
fn name_of_domain(domain: &str) -> String {
    let label = domain.split('.').next().unwrap_or(domain);
    label
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The enriched company for `wanted`.
pub(crate) fn company(mut rng: Rng, wanted: &CompanyToEnrich) -> Value {
    let domain = wanted
        .domain
        .clone()
        .unwrap_or_else(|| pick(&mut rng, &COMPANIES).1.to_owned());
    let label = domain.split('.').next().unwrap_or(&domain);
    let name = name_of_domain(&domain);
    let (industry, sub_industry) = pick(&mut rng, &INDUSTRIES);
    let (location, country, _) = pick(&mut rng, &PLACES);
    let mut company = EnrichedCompanyResponse::default();
    company.external_id = wanted.external_id.clone();
    company.description = Some(format!(
        "{name} builds {} products.",
        sub_industry.to_lowercase()
    ));
    company.name = Some(name);
    company.industry = Some(industry.to_owned());
    company.sub_industry = Some(sub_industry.to_owned());
    company.hq_address = Some(location.to_owned());
    company.hq_country = Some(country.to_owned());
    company.founded = Some((1990 + rng.u32(0..35)).to_string());
    company.revenue = Some(pick(&mut rng, &["1-10M", "10-50M", "50-100M", "100-500M"]).to_owned());
    company.linked_in_url = Some(format!("https://www.linkedin.com/company/{label}"));
    company.employee_count = Some(rng.u64(5..20_000));
    company.followers_count_linkedin = Some(rng.u64(100..500_000));
    company.is_public = Some(rng.u8(..100) < 15);
    company.websites = Some(vec![format!("https://{domain}")]);
    company.status = Some(EnrichmentStatus::Completed);
    to_value(&company)
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    // The model's types hold only strings, numbers, booleans and lists of them.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everything() -> Include {
        let mut include = Include::default();
        include.email = true;
        include.mobile = true;
        include.linked_in_url = true;
        include.job_history = true;
        include
    }

    #[test]
    fn the_same_inputs_give_the_same_person_and_others_differ() {
        let wanted = PersonToEnrich::default();
        let a = person(rng_for(7, 1, 0, 0), &wanted, &everything());
        let b = person(rng_for(7, 1, 0, 0), &wanted, &everything());
        assert_eq!(a, b);
        let others: Vec<Value> = (1..20)
            .map(|index| person(rng_for(7, 1, index, 0), &wanted, &everything()))
            .collect();
        assert!(others.iter().all(|other| *other != a));
    }

    #[test]
    fn every_generated_person_decodes_and_the_quirks_all_occur() {
        let mut seen_null_emails = false;
        let mut seen_spaced_catch_all = false;
        let mut seen_month_date = false;
        let mut seen_no_www = false;
        for index in 0..400 {
            let wanted = PersonToEnrich::default();
            let value = person(rng_for(42, 3, index, 0), &wanted, &everything());
            let decoded: EnrichedPersonResponse = serde_json::from_value(value.clone())
                .unwrap_or_else(|error| panic!("{value}: {error}"));
            seen_null_emails |= value.get("emails") == Some(&Value::Null);
            seen_spaced_catch_all |= value.to_string().contains("\" CATCH_ALL\"");
            seen_month_date |= decoded
                .job_history
                .iter()
                .flatten()
                .any(|job| job.start_date.as_ref().is_some_and(|date| date.len() == 7));
            seen_no_www |= decoded
                .linked_in_url
                .is_some_and(|url| url.starts_with("https://linkedin.com/in/"));
            if let Some(phones) = decoded.mobile_phones {
                for phone in phones {
                    assert!(
                        phone
                            .mobile_phone
                            .is_some_and(|number| number.starts_with('+') && number.contains(' '))
                    );
                }
            }
        }
        assert!(seen_null_emails && seen_spaced_catch_all && seen_month_date && seen_no_www);
    }

    #[test]
    fn requested_values_are_kept_and_unrequested_data_is_left_out() {
        let mut wanted = PersonToEnrich::default();
        wanted.first_name = Some("Ada".into());
        wanted.last_name = Some("Lovelace".into());
        wanted.company_domain = Some("engines.example".into());
        wanted.external_id = Some("crm-1".into());
        let mut only_email = Include::default();
        only_email.email = true;
        for index in 0..50 {
            let value = person(rng_for(1, 1, index, 0), &wanted, &only_email);
            assert_eq!(value["externalID"], "crm-1");
            assert_eq!(value["firstName"], "Ada");
            assert!(value.get("mobilePhones").is_none() && value.get("jobHistory").is_none());
            if let Some(email) = value["emails"][0]["email"].as_str() {
                assert_eq!(email, "ada.lovelace@engines.example");
            }
        }
    }

    #[test]
    fn companies_decode_and_are_named_after_their_domain() {
        let mut wanted = CompanyToEnrich::default();
        wanted.domain = Some("cobalt-robotics.example".into());
        wanted.external_id = Some("acct-9".into());
        let value = company(rng_for(1, 2, 0, 0), &wanted);
        let decoded: EnrichedCompanyResponse = serde_json::from_value(value).unwrap();
        assert_eq!(decoded.name.as_deref(), Some("Cobalt Robotics"));
        assert_eq!(decoded.external_id.as_deref(), Some("acct-9"));
    }
}
