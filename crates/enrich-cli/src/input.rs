//! Reading the people or companies to enrich from a CSV or JSON file, or JSON on stdin.
//!
//! CSV needs a header row. Its column names are matched loosely (case, spaces, `_` and `-`
//! ignored), so `firstName`, `first_name` and `First name` are the same column; the wire key
//! (`linkedinUrl`, `externalID`, …) always works. JSON is an array of items with the wire keys,
//! or an object whose `people` (or `companies`) member is that array.

use std::io::Read;
use std::path::Path;

use enrich_types::{CompanyToEnrich, PersonToEnrich};

use crate::error::Error;
use serde::de::DeserializeOwned;

/// One field: the (normalized) column names it is known by, and how to set it.
type Column<T> = (&'static [&'static str], fn(&mut T, String));

/// Which columns a CSV may have: each item field with the names it is known by.
trait CsvItem: Default + DeserializeOwned + 'static {
    /// The JSON member that holds the array, in the object form.
    const MEMBER: &'static str;
    /// (normalized column names, setter) per field.
    const COLUMNS: &'static [Column<Self>];
}

impl CsvItem for PersonToEnrich {
    const MEMBER: &'static str = "people";
    const COLUMNS: &'static [Column<Self>] = &[
        (&["firstname", "givenname"], |p, v| p.first_name = Some(v)),
        (&["lastname", "familyname", "surname"], |p, v| {
            p.last_name = Some(v)
        }),
        (&["companyname", "company"], |p, v| p.company_name = Some(v)),
        (&["companydomain", "domain"], |p, v| {
            p.company_domain = Some(v)
        }),
        (&["linkedinurl", "linkedin"], |p, v| {
            p.linkedin_url = Some(v)
        }),
        (&["externalid", "id"], |p, v| p.external_id = Some(v)),
    ];
}

impl CsvItem for CompanyToEnrich {
    const MEMBER: &'static str = "companies";
    const COLUMNS: &'static [Column<Self>] = &[
        (&["domain", "companydomain", "website"], |c, v| {
            c.domain = Some(v)
        }),
        (&["externalid", "id"], |c, v| c.external_id = Some(v)),
    ];
}

/// The people listed in `path`.
pub fn people(path: &Path) -> Result<Vec<PersonToEnrich>, Error> {
    items(path)
}

/// The companies listed in `path`.
pub fn companies(path: &Path) -> Result<Vec<CompanyToEnrich>, Error> {
    items(path)
}

fn items<T: CsvItem>(path: &Path) -> Result<Vec<T>, Error> {
    let shown = path.display();
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(Error::io("cannot read stdin"))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(Error::io(format!("cannot read {shown}")))?
    };
    let is_csv = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"))
        || (path != Path::new("-")
            && !path
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
            && !text.trim_start().starts_with(['[', '{']));
    let items = if is_csv {
        from_csv(&text)
    } else {
        from_json(&text)
    }
    .map_err(|problem| Error::Input(format!("{shown}: {problem}")))?;
    if items.is_empty() {
        return Err(Error::Input(format!("{shown} lists nothing to enrich")));
    }
    Ok(items)
}

fn from_json<T: CsvItem>(text: &str) -> Result<Vec<T>, String> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Listing<T> {
        Array(Vec<T>),
        Object(serde_json::Map<String, serde_json::Value>),
    }
    match serde_json::from_str::<Listing<T>>(text) {
        Ok(Listing::Array(items)) => Ok(items),
        Ok(Listing::Object(mut object)) => {
            let member = object
                .remove(T::MEMBER)
                .ok_or_else(|| format!("the JSON object has no `{}` array", T::MEMBER))?;
            serde_json::from_value(member)
                .map_err(|error| format!("`{}` is not a list of items: {error}", T::MEMBER))
        }
        Err(_) => {
            // Decode again as an array, for an error with a line and column.
            serde_json::from_str::<Vec<T>>(text)
                .map_err(|error| format!("not a JSON list of items: {error}"))
        }
    }
}

/// A column name without case, spaces, `_` or `-`.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn from_csv<T: CsvItem>(text: &str) -> Result<Vec<T>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| format!("cannot read the header row: {error}"))?
        .clone();
    let mut setters = Vec::with_capacity(headers.len());
    for header in &headers {
        let name = normalize(header);
        let setter = T::COLUMNS
            .iter()
            .find(|(names, _)| names.contains(&name.as_str()))
            .map(|(_, setter)| *setter)
            .ok_or_else(|| {
                let known: Vec<&str> = T::COLUMNS.iter().map(|(names, _)| names[0]).collect();
                format!(
                    "unknown column {:?} in the header row (known columns: {})",
                    crate::text::clean(header),
                    known.join(", ")
                )
            })?;
        setters.push(setter);
    }
    let mut items = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| csv_error(&error))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            return Err(format!("line {line}: the row is empty"));
        }
        let mut item = T::default();
        for (value, setter) in record.iter().zip(&setters) {
            if !value.is_empty() {
                setter(&mut item, value.to_owned());
            }
        }
        items.push(item);
    }
    Ok(items)
}

fn csv_error(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: the row has {len} fields; the header row has {expected_len}",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: the row is not valid UTF-8",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_match_loosely_and_empty_cells_are_absent() {
        let people: Vec<PersonToEnrich> = from_csv(
            "First name,last_name,Company,linkedinUrl,externalID\n\
             Ada,Lovelace,Engines,,crm-1\n\
             ,,,https://www.linkedin.com/in/x,crm-2\n",
        )
        .unwrap();
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].first_name.as_deref(), Some("Ada"));
        assert_eq!(people[0].company_name.as_deref(), Some("Engines"));
        assert_eq!(people[0].linkedin_url, None);
        assert_eq!(people[1].first_name, None);
        assert_eq!(people[1].external_id.as_deref(), Some("crm-2"));
    }

    #[test]
    fn csv_errors_name_the_line() {
        let error =
            from_csv::<PersonToEnrich>("firstName,lastName\nAda,Lovelace\nGrace\n").unwrap_err();
        assert_eq!(error, "line 3: the row has 1 fields; the header row has 2");
        let error = from_csv::<PersonToEnrich>("firstName,shoeSize\nAda,38\n").unwrap_err();
        assert!(error.starts_with("unknown column \"shoeSize\""), "{error}");
    }

    #[test]
    fn json_is_an_array_or_an_object_with_the_list() {
        let array: Vec<CompanyToEnrich> =
            from_json(r#"[{"domain":"a.example","externalID":"1"}]"#).unwrap();
        assert_eq!(array[0].domain.as_deref(), Some("a.example"));
        let object: Vec<PersonToEnrich> =
            from_json(r#"{"include":{"email":true},"people":[{"firstName":"Ada"}]}"#).unwrap();
        assert_eq!(object[0].first_name.as_deref(), Some("Ada"));
        let error = from_json::<PersonToEnrich>("[\n{\"firstName\": 5}\n]").unwrap_err();
        assert!(error.contains("line 2"), "{error}");
    }
}
