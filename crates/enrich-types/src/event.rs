//! The webhook envelope: `{ "eventType": …, "data": … }`.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::company::EnrichedCompanyResponse;
use crate::open_enum::open_enum;
use crate::person::EnrichedPersonResponse;

open_enum! {
    /// The kind of a webhook event, from the envelope's `eventType`. Matched byte for byte.
    pub enum EventType (exact) {
        /// One person of a bulk people enrichment has finished.
        PersonEnrichmentCompleted = "person.enrichment.completed",
        /// One company of a bulk company enrichment has finished.
        CompanyEnrichmentCompleted = "company.enrichment.completed",
        /// A whole bulk people enrichment has finished (reported by integrators, not on the
        /// official page; one of its two reported names).
        PersonBatchEnrichmentCompleted = "person.batch-enrichment.completed",
        /// A whole bulk enrichment has finished, under the other reported name.
        BatchEnrichmentCompleted = "batch.enrichment.completed",
    }
}

/// One webhook delivery's payload, decoded.
///
/// Known event types decode to typed variants; a known type whose `data` does not fit is an
/// error that names the path (it is never turned into [`WebhookEvent::Unknown`], which would hide
/// real breakage). Any other event type decodes to [`WebhookEvent::Unknown`], which keeps the type
/// and the raw `data` and encodes back to an equal envelope. New variants may be added, so a
/// `match` needs a wildcard arm.
///
/// ```
/// use enrich_types::WebhookEvent;
///
/// let body = r#"{"eventType":"person.enrichment.archived","data":{"enrichmentID":"b-1"}}"#;
/// let event: WebhookEvent = serde_json::from_str(body)?;
/// assert_eq!(event.event_type(), "person.enrichment.archived");
/// assert!(matches!(event, WebhookEvent::Unknown(_)));
/// assert_eq!(serde_json::to_string(&event)?, body);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `person.enrichment.completed`: one person of a batch is enriched.
    PersonEnrichmentCompleted(PersonEnrichmentCompleted),
    /// `company.enrichment.completed`: one company of a batch is enriched.
    CompanyEnrichmentCompleted(CompanyEnrichmentCompleted),
    /// `person.batch-enrichment.completed` or `batch.enrichment.completed`: a whole batch is done.
    BatchEnrichmentCompleted(BatchEnrichmentCompleted),
    /// An event type this version does not know, kept as received.
    Unknown(UnknownEvent),
}

/// The `data` of a `person.enrichment.completed` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct PersonEnrichmentCompleted {
    /// The id of the whole batch (the same for every person of it), as returned when the
    /// enrichment was started. Not a per-person id: pair it with the person's `externalID`.
    #[serde(rename = "enrichmentID", skip_serializing_if = "Option::is_none")]
    pub enrichment_id: Option<String>,
    /// The enriched person. Absent or `null` decodes as an empty person.
    #[serde(default, deserialize_with = "null_as_default")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<EnrichedPersonResponse>"))]
    pub person: EnrichedPersonResponse,
}

/// The `data` of a `company.enrichment.completed` event (its shape is inferred from the company
/// enrichment answer; the docs do not list it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CompanyEnrichmentCompleted {
    /// The id of the whole batch, as returned when the enrichment was started.
    #[serde(rename = "enrichmentID", skip_serializing_if = "Option::is_none")]
    pub enrichment_id: Option<String>,
    /// The enriched company. Absent or `null` decodes as an empty company.
    #[serde(default, deserialize_with = "null_as_default")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<EnrichedCompanyResponse>"))]
    pub company: EnrichedCompanyResponse,
}

/// The `data` of the batch completion event, sent once when a whole bulk enrichment is done.
///
/// Public sources report it under two names, `person.batch-enrichment.completed` and
/// `batch.enrichment.completed`; both decode to this type, which remembers the name it came with
/// (in `event_name`, not part of `data`) so that encoding gives back the same envelope. Every
/// field is optional. It is the natural moment to compare what arrived with
/// `GET /v2/people/enrich/{id}` and recover any delivery that never came.
///
/// ```
/// use enrich_types::{BatchEventName, WebhookEvent};
///
/// let body = r#"{"eventType":"batch.enrichment.completed","data":{"batchID":"b-1"}}"#;
/// let WebhookEvent::BatchEnrichmentCompleted(done) = serde_json::from_str(body)? else {
///     unreachable!("a batch completion event");
/// };
/// assert_eq!(done.event_name, BatchEventName::BatchEnrichmentCompleted);
/// assert_eq!(done.batch_id(), Some("b-1"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// The doc comment's example is for rustdoc; the schema gets the prose only.
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "The `data` of the batch completion event, sent once when a whole bulk \
            enrichment is done. Reported under two names, `person.batch-enrichment.completed` \
            and `batch.enrichment.completed`, not on the official page; every field is \
            optional. It is the natural moment to compare what arrived with \
            `GET /v2/people/enrich/{id}`."
    )
)]
#[non_exhaustive]
pub struct BatchEnrichmentCompleted {
    /// The id of the finished batch, as returned when the enrichment was started.
    #[serde(rename = "enrichmentID", skip_serializing_if = "Option::is_none")]
    pub enrichment_id: Option<String>,
    /// The batch id under the key one changelog reports; `enrichmentID` is preferred when both
    /// are present.
    #[serde(rename = "batchID", skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// The `GET` URL that returns the batch's results.
    #[serde(
        rename = "enrichmentCallbackURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub enrichment_callback_url: Option<String>,
    /// Free text for people; do not parse it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Which of the two reported event names this delivery used (not part of `data`).
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub event_name: BatchEventName,
}

impl BatchEnrichmentCompleted {
    /// The id of the finished batch: `enrichmentID`, else `batchID`.
    pub fn batch_id(&self) -> Option<&str> {
        self.enrichment_id.as_deref().or(self.batch_id.as_deref())
    }
}

/// The two names the batch completion event is reported under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchEventName {
    /// `person.batch-enrichment.completed`.
    #[default]
    PersonBatchEnrichmentCompleted,
    /// `batch.enrichment.completed`.
    BatchEnrichmentCompleted,
}

impl BatchEventName {
    /// The name as on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PersonBatchEnrichmentCompleted => "person.batch-enrichment.completed",
            Self::BatchEnrichmentCompleted => "batch.enrichment.completed",
        }
    }
}

/// An event of a type this version does not know: its type and its `data` object, exactly as
/// received.
///
/// It is made only by decoding, so its type is never one of the known ones. Its `data` is kept as
/// the raw JSON text, never parsed into values: an event type this version does not know is never
/// refused for what its `data` holds (nesting of any depth, numbers of any size), and encoding
/// the event again writes `data` back byte for byte.
#[derive(Debug, Clone)]
pub struct UnknownEvent {
    event_type: String,
    /// Always a JSON object: decoding refuses any other `data`.
    data: Box<RawValue>,
    /// `data.enrichmentID` when it is a string, read once while decoding.
    enrichment_id: Option<String>,
}

impl PartialEq for UnknownEvent {
    /// Equal when the type and the `data` text are the same.
    fn eq(&self, other: &Self) -> bool {
        self.event_type == other.event_type && self.data.get() == other.data.get()
    }
}

impl UnknownEvent {
    /// The event type exactly as received.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The `data` object exactly as received: its JSON text, always an object.
    ///
    /// ```
    /// use enrich_types::WebhookEvent;
    ///
    /// let body = r#"{"eventType":"person.enrichment.archived","data":{"enrichmentID":"b-1","size":2}}"#;
    /// let WebhookEvent::Unknown(event) = serde_json::from_str(body)? else { unreachable!() };
    /// assert_eq!(event.data().get(), r#"{"enrichmentID":"b-1","size":2}"#);
    /// assert_eq!(event.data_value()?["size"], 2);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn data(&self) -> &RawValue {
        &self.data
    }

    /// The `data` object parsed into a [`Value`]. It fails only where [`Value`] cannot hold what
    /// was received (nesting deeper than serde_json's limit, a number beyond `f64`).
    ///
    /// The order of its keys is the one of your build's `serde_json`: sorted by default, as
    /// received when some crate of the build enables serde_json's `preserve_order` feature (this
    /// crate never does).
    pub fn data_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.data.get())
    }
}

impl WebhookEvent {
    /// Decodes an event from its type and its `data` read from `deserializer`: what decoding the
    /// envelope does once it has read `eventType`. Useful to decode `data` stored apart from its
    /// envelope, or to locate an error inside `data` with a path-tracking deserializer.
    ///
    /// ```
    /// use enrich_types::WebhookEvent;
    ///
    /// let data = serde_json::json!({ "company": { "name": "Acme" } });
    /// let event = WebhookEvent::from_type_and_data("company.enrichment.completed", &data)?;
    /// assert_eq!(event.company().and_then(|c| c.name.as_deref()), Some("Acme"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_type_and_data<'de, D: Deserializer<'de>>(
        event_type: &str,
        data: D,
    ) -> Result<Self, D::Error> {
        DataSeed(&EventType::from(event_type)).deserialize(data)
    }

    /// The event type as on the wire, such as `person.enrichment.completed`.
    pub fn event_type(&self) -> &str {
        match self {
            Self::PersonEnrichmentCompleted(_) => EventType::PersonEnrichmentCompleted.as_str(),
            Self::CompanyEnrichmentCompleted(_) => EventType::CompanyEnrichmentCompleted.as_str(),
            Self::BatchEnrichmentCompleted(data) => data.event_name.as_str(),
            Self::Unknown(event) => event.event_type(),
        }
    }

    /// The batch id (`data.enrichmentID`), when the event has one. For an unknown event it is
    /// read from `data.enrichmentID` if that is a string.
    pub fn enrichment_id(&self) -> Option<&str> {
        match self {
            Self::PersonEnrichmentCompleted(data) => data.enrichment_id.as_deref(),
            Self::CompanyEnrichmentCompleted(data) => data.enrichment_id.as_deref(),
            Self::BatchEnrichmentCompleted(data) => data.batch_id(),
            Self::Unknown(event) => event.enrichment_id.as_deref(),
        }
    }

    /// The caller's own id of the enriched person or company (`externalID`), when present.
    pub fn external_id(&self) -> Option<&str> {
        match self {
            Self::PersonEnrichmentCompleted(data) => data.person.external_id.as_deref(),
            Self::CompanyEnrichmentCompleted(data) => data.company.external_id.as_deref(),
            Self::BatchEnrichmentCompleted(_) | Self::Unknown(_) => None,
        }
    }

    /// The enriched person, for a `person.enrichment.completed` event.
    pub fn person(&self) -> Option<&EnrichedPersonResponse> {
        match self {
            Self::PersonEnrichmentCompleted(data) => Some(&data.person),
            _ => None,
        }
    }

    /// The enriched company, for a `company.enrichment.completed` event.
    pub fn company(&self) -> Option<&EnrichedCompanyResponse> {
        match self {
            Self::CompanyEnrichmentCompleted(data) => Some(&data.company),
            _ => None,
        }
    }
}

/// Decodes `null` the same as an absent value: as `T::default()`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("eventType", self.event_type())?;
        match self {
            Self::PersonEnrichmentCompleted(data) => map.serialize_entry("data", data)?,
            Self::CompanyEnrichmentCompleted(data) => map.serialize_entry("data", data)?,
            Self::BatchEnrichmentCompleted(data) => map.serialize_entry("data", data)?,
            Self::Unknown(event) => map.serialize_entry("data", &event.data)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for WebhookEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum EnvelopeKey {
    #[serde(rename = "eventType")]
    EventType,
    #[serde(rename = "data")]
    Data,
    #[serde(other)]
    Ignored,
}

/// `data` as far as the envelope has read it.
#[allow(
    clippy::large_enum_variant,
    reason = "lives on the stack for one decode; boxing would allocate once per event"
)]
enum EnvelopeData {
    /// Decoded in place, because `eventType` came first (the usual order): error paths stay exact.
    Decoded(WebhookEvent),
    /// Buffered as raw JSON, because `data` came before `eventType`; decoded once the type is
    /// known (raw, so that an unknown type's `data` is kept exactly and never depth-limited).
    Buffered(Box<RawValue>),
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = WebhookEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a webhook event object with `eventType` and `data`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WebhookEvent, A::Error> {
        let mut event_type: Option<EventType> = None;
        let mut data: Option<EnvelopeData> = None;
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            match key {
                EnvelopeKey::EventType if event_type.is_some() => {
                    return Err(de::Error::duplicate_field("eventType"));
                }
                EnvelopeKey::EventType => event_type = Some(map.next_value()?),
                EnvelopeKey::Data if data.is_some() => {
                    return Err(de::Error::duplicate_field("data"));
                }
                EnvelopeKey::Data => {
                    data = Some(match &event_type {
                        Some(kind) => EnvelopeData::Decoded(map.next_value_seed(DataSeed(kind))?),
                        None => EnvelopeData::Buffered(map.next_value()?),
                    });
                }
                EnvelopeKey::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let event_type = event_type.ok_or_else(|| de::Error::missing_field("eventType"))?;
        match data.ok_or_else(|| de::Error::missing_field("data"))? {
            EnvelopeData::Decoded(event) => Ok(event),
            EnvelopeData::Buffered(raw) => DataSeed(&event_type)
                .deserialize(&mut serde_json::Deserializer::from_str(raw.get()))
                .map_err(de::Error::custom),
        }
    }
}

/// `enrichmentID` of a raw `data` object, when it is a string. Everything else is skipped
/// without being parsed into values (no depth limit, no number range).
fn enrichment_id_of(data: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Ids {
        #[serde(rename = "enrichmentID", default)]
        enrichment_id: Option<Value>,
    }
    match serde_json::from_str::<Ids>(data.get())
        .ok()?
        .enrichment_id?
    {
        Value::String(id) => Some(id),
        _ => None,
    }
}

/// Decodes `data` into the variant that `eventType` names.
struct DataSeed<'a>(&'a EventType);

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = WebhookEvent;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<WebhookEvent, D::Error> {
        Ok(match self.0 {
            EventType::PersonEnrichmentCompleted => {
                WebhookEvent::PersonEnrichmentCompleted(Deserialize::deserialize(deserializer)?)
            }
            EventType::CompanyEnrichmentCompleted => {
                WebhookEvent::CompanyEnrichmentCompleted(Deserialize::deserialize(deserializer)?)
            }
            EventType::PersonBatchEnrichmentCompleted | EventType::BatchEnrichmentCompleted => {
                let event_name = if *self.0 == EventType::BatchEnrichmentCompleted {
                    BatchEventName::BatchEnrichmentCompleted
                } else {
                    BatchEventName::PersonBatchEnrichmentCompleted
                };
                WebhookEvent::BatchEnrichmentCompleted(BatchEnrichmentCompleted {
                    event_name,
                    ..Deserialize::deserialize(deserializer)?
                })
            }
            EventType::Other(event_type) => {
                let data = Box::<RawValue>::deserialize(deserializer)?;
                if !data.get().starts_with('{') {
                    return Err(de::Error::invalid_type(
                        de::Unexpected::Other("a value that is not an object"),
                        &"a map",
                    ));
                }
                WebhookEvent::Unknown(UnknownEvent {
                    event_type: event_type.as_str().to_owned(),
                    enrichment_id: enrichment_id_of(&data),
                    data,
                })
            }
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for WebhookEvent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WebhookEvent".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        use schemars::{Schema, json_schema};

        let event_type = generator.subschema_for::<EventType>();
        let typed = |kind: EventType, data: Schema| {
            json_schema!({
                "if": {
                    "properties": { "eventType": { "const": kind.as_str() } },
                    "required": ["eventType"]
                },
                "then": { "properties": { "data": data } }
            })
        };
        let person = typed(
            EventType::PersonEnrichmentCompleted,
            generator.subschema_for::<PersonEnrichmentCompleted>(),
        );
        let company = typed(
            EventType::CompanyEnrichmentCompleted,
            generator.subschema_for::<CompanyEnrichmentCompleted>(),
        );
        let batch = generator.subschema_for::<BatchEnrichmentCompleted>();
        let batch = [
            EventType::PersonBatchEnrichmentCompleted,
            EventType::BatchEnrichmentCompleted,
        ]
        .map(|kind| typed(kind, batch.clone()));
        json_schema!({
            "description": "One webhook delivery: the event type and its data. Known event types \
                have a typed `data`; any other type is valid with any `data` object, so a receiver \
                keeps working when the API adds events.",
            "type": "object",
            "properties": {
                "eventType": event_type,
                "data": {
                    "description": "The event's payload; its shape depends on `eventType`.",
                    "type": "object"
                }
            },
            "required": ["eventType", "data"],
            "allOf": [person, company, batch[0], batch[1]]
        })
    }
}
