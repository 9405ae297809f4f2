//! Open enums: enumerated strings whose value set the API may grow at any time.
//!
//! The API documents a few values for each of its enumerated strings, and real traffic carries
//! others (`NOT_FOUND` as a status, a new event type). A closed Rust enum would turn every new value
//! into a decoding error, so each of these types has one variant per documented value plus
//! `Other`, which keeps any other string verbatim. `Other` holds an [`UnknownValue`], which can only
//! be made by parsing, so a known value can never hide inside it: `ValidationStatus::from("VALID")`
//! is always `ValidationStatus::Valid`, and decoding then encoding gives back the same value.

use std::fmt;

/// A string that none of an open enum's known values matched, kept exactly as received.
///
/// It is made only by parsing (`From<&str>`/`From<String>` on the enum, or decoding), which
/// guarantees that it never holds one of the enum's known values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnknownValue(String);

impl UnknownValue {
    /// The value exactly as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl UnknownValue {
    /// Wraps a string the caller has already checked against the known values.
    pub(crate) fn new_unchecked(value: String) -> Self {
        Self(value)
    }
}

/// Declares an open enum: one variant per documented wire value, plus `Other(UnknownValue)`.
///
/// `lenient` enums ignore surrounding whitespace when matching a known value (the API's own type
/// definition spells one value `" CATCH_ALL"`); `exact` ones match byte for byte.
macro_rules! open_enum {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident ($matching:ident) {
            $( $(#[doc = $variant_doc:literal])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[doc = $doc])*
        ///
        /// New values may be added in a minor release (they arrive as `Other` until then), so a
        /// `match` needs a wildcard arm.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[doc = $variant_doc])* $variant, )+
            /// A value this version does not know, kept verbatim.
            Other($crate::open_enum::UnknownValue),
        }

        impl $name {
            /// Every value this version knows, as spelled on the wire.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            /// The value as spelled on the wire (known values in their canonical spelling).
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(value) => value.as_str(),
                }
            }

            /// Whether this is one of the documented values.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }

            fn known(value: &str) -> Option<Self> {
                match open_enum!(@key $matching value) {
                    $( $wire => Some(Self::$variant), )+
                    _ => None,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::known(value).unwrap_or_else(|| {
                    Self::Other($crate::open_enum::UnknownValue::new_unchecked(value.to_owned()))
                })
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::known(&value)
                    .unwrap_or_else(|| Self::Other($crate::open_enum::UnknownValue::new_unchecked(value)))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let known = [$( ($wire, $crate::open_enum::doc_text(&[$($variant_doc),*])) ),+];
                $crate::open_enum::schema($crate::open_enum::doc_text(&[$($doc),*]), &known)
            }
        }
    };
    (@key lenient $value:ident) => { $value.trim() };
    (@key exact $value:ident) => { $value };
}

pub(crate) use open_enum;

/// Joins the lines of a doc comment the way rustdoc shows them as one paragraph.
#[cfg(feature = "schema")]
pub(crate) fn doc_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The schema of an open enum: any string, with each known value listed and described.
#[cfg(feature = "schema")]
pub(crate) fn schema(description: String, known: &[(&str, String)]) -> schemars::Schema {
    let mut any_of: Vec<serde_json::Value> = known
        .iter()
        .map(|(value, doc)| serde_json::json!({ "const": value, "description": doc }))
        .collect();
    any_of.push(serde_json::json!({
        "type": "string",
        "description": "A value this version does not know yet; receivers keep it verbatim."
    }));
    schemars::json_schema!({
        "description": description,
        "type": "string",
        "anyOf": any_of,
    })
}
