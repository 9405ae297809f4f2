//! Whole numbers read the way JSON Schema reads `integer`: any number without a fractional part.
//!
//! The schema of a `u64`/`i64` field says `"type": "integer"`, which JSON Schema defines as a
//! number whose fractional part is zero, so `1000.0` is valid. serde's own integer decoding
//! refuses `1000.0`; these helpers accept it (and still refuse `1.5`, or a value out of range), so
//! the decoder and the schema agree. The API documents these fields only as "number".

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{self, Unexpected, Visitor};

/// Decodes an optional whole number: absent or `null` is `None`; `1000` and `1000.0` are
/// `Some(1000)`. Use with `#[serde(default, deserialize_with = "…")]`.
pub(crate) fn optional_whole<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    deserializer.deserialize_option(OptionalWhole(PhantomData))
}

struct OptionalWhole<T>(PhantomData<T>);

impl<'de, T: TryFrom<i128>> Visitor<'de> for OptionalWhole<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(Whole(PhantomData)).map(Some)
    }
}

struct Whole<T>(PhantomData<T>);

impl<T: TryFrom<i128>> Whole<T> {
    fn convert<E: de::Error>(&self, value: i128, unexpected: Unexpected<'_>) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(unexpected, self))
    }
}

impl<'de, T: TryFrom<i128>> Visitor<'de> for Whole<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a whole number that fits in {}",
            std::any::type_name::<T>()
        )
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        self.convert(value.into(), Unexpected::Signed(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        self.convert(value.into(), Unexpected::Unsigned(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        // Any finite f64 below 2^127 in magnitude fits in an i128; larger ones fit no target type.
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e38 {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "checked whole and in range"
            )]
            self.convert(value as i128, Unexpected::Float(value))
        } else {
            Err(E::invalid_value(Unexpected::Float(value), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Counts {
        #[serde(default, deserialize_with = "super::optional_whole")]
        unsigned: Option<u64>,
        #[serde(default, deserialize_with = "super::optional_whole")]
        signed: Option<i64>,
    }

    fn decode(json: &str) -> Result<Counts, String> {
        serde_json::from_str(json).map_err(|error| error.to_string())
    }

    #[test]
    fn reads_integers_and_whole_floats_alike() {
        let both = |unsigned, signed| Ok(Counts { unsigned, signed });
        assert_eq!(decode("{}"), both(None, None));
        assert_eq!(
            decode(r#"{"unsigned":null,"signed":null}"#),
            both(None, None)
        );
        assert_eq!(
            decode(r#"{"unsigned":1000,"signed":-3}"#),
            both(Some(1000), Some(-3))
        );
        assert_eq!(
            decode(r#"{"unsigned":1000.0,"signed":-3.0}"#),
            both(Some(1000), Some(-3))
        );
        assert_eq!(decode(r#"{"unsigned":1e3}"#), both(Some(1000), None));
        assert_eq!(
            decode(r#"{"unsigned":18446744073709551615}"#),
            both(Some(u64::MAX), None)
        );
    }

    #[test]
    fn refuses_fractions_out_of_range_values_and_other_types() {
        for json in [
            r#"{"unsigned":1.5}"#,
            r#"{"unsigned":-1}"#,
            r#"{"unsigned":-1.0}"#,
            r#"{"unsigned":1e20}"#,
            r#"{"unsigned":18446744073709551616}"#,
            r#"{"signed":1e19}"#,
            r#"{"unsigned":"50"}"#,
            r#"{"unsigned":true}"#,
            r#"{"unsigned":[1]}"#,
        ] {
            assert!(decode(json).is_err(), "{json} should not decode");
        }
    }
}
