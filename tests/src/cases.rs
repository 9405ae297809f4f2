//! The table: every case the four adapters and the `http` entry point must answer identically.
//!
//! Each [`Case`] says what goes on the wire (an [`Exchange`]), under which receiver configuration
//! (a [`Setup`]), and what must come back ([`Expect`], one per response): the handler's view, the
//! pipeline's acknowledgement of an event the extractor does not take, or a refusal with its
//! status and code. The exact bytes of every answer are in the case's snapshot.

use std::time::Duration;

use enrich_webhook::testing::{now, sign};
use enrich_webhook::{SIGNATURE_HEADER, SignatureTimestamp, WebhookConfig};
use serde_json::Value;

use crate::client::RawRequest;
use crate::view::Route;

/// The secret every signed case uses, unless it says otherwise.
pub const SECRET: &str = "whsec_conformance_current";
/// The secret being rotated out ([`Setup::Rotated`] accepts both).
pub const PREVIOUS_SECRET: &str = "whsec_conformance_previous";
/// A secret no setup accepts.
pub const FOREIGN_SECRET: &str = "whsec_someone_else";
/// The body limit of [`Setup::SmallLimit`].
pub const SMALL_LIMIT: usize = 4096;

/// The `eventType` of person events.
pub const PERSON: &str = "person.enrichment.completed";
/// The `eventType` of company events.
pub const COMPANY: &str = "company.enrichment.completed";
/// An `eventType` no version of the library knows.
pub const UNKNOWN: &str = "person.enrichment.archived";

/// The batch id of every fixture.
pub const BATCH: &str = "0195be44-1a0d-718a-967b-042c9d17ffd7";

/// A person event in the documented shape, compact, every key in the library's own order (so it
/// re-serializes to the same document).
pub const PERSON_BODY: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{"externalID":"crm-42","firstName":"Camille","lastName":"Durand","jobTitle":"Head of Data Engineering","companyName":"Lumen Analytics","companyDomain":"lumen-analytics.fr","country":"France","location":"Paris, Île-de-France","linkedInUrl":"https://www.linkedin.com/in/camille-durand","departments":["Engineering","R&D"],"seniorities":["Head"],"emails":[{"email":"camille.durand@lumen-analytics.fr","validationStatus":"VALID","emailType":"professional"}],"mobilePhones":[{"mobilePhone":"+33 6 12 34 56 78","confidenceScore":0.92}],"jobHistory":[{"companyName":"Lumen Analytics","jobTitle":"Head of Data Engineering","startDate":"2022-09-01T00:00:00Z","linkedInURL":"urn:li:company:123456"}],"status":"COMPLETED"}}}"#;

/// A company event.
pub const COMPANY_BODY: &str = r#"{"eventType":"company.enrichment.completed","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","company":{"externalID":"acct-7","name":"Lumen Analytics","industry":"Software","hqCountry":"France","employeeCount":120,"isPublic":false,"websites":["https://lumen-analytics.fr"],"status":"COMPLETED"}}}"#;

/// An event of a type the library does not know; it must reach `/webhook` and `/event`
/// handlers verbatim.
pub const UNKNOWN_BODY: &str = r#"{"eventType":"person.enrichment.archived","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","summary":{"total":3,"failed":0},"tags":["a",null,1.5]}}"#;

/// The receiver configuration a case's servers start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Verifies with [`SECRET`]; default limit (1 MiB) and tolerance (5 min old, 1 min ahead).
    Standard,
    /// [`Setup::Standard`] with a body limit of [`SMALL_LIMIT`] bytes.
    SmallLimit,
    /// Verifies with [`SECRET`] and [`PREVIOUS_SECRET`] (a rotation in progress).
    Rotated,
    /// Skips verification (`insecure_skip_verification`).
    Insecure,
}

impl Setup {
    /// The configuration.
    pub fn config(self) -> WebhookConfig {
        let with = |secrets: &[&str]| {
            WebhookConfig::with_secrets(secrets.iter().copied())
                .unwrap_or_else(|error| panic!("test secrets are valid: {error}"))
        };
        match self {
            Setup::Standard => with(&[SECRET]),
            Setup::SmallLimit => with(&[SECRET]).body_limit(SMALL_LIMIT),
            Setup::Rotated => with(&[SECRET, PREVIOUS_SECRET]),
            Setup::Insecure => WebhookConfig::insecure_skip_verification(),
        }
    }
}

/// What the client does on the wire.
#[derive(Debug, Clone)]
pub enum Exchange {
    /// One request on a new connection; one response.
    One(RawRequest),
    /// Raw bytes on a new connection; only the first response is read (whatever the server
    /// makes of the bytes after the first request is not part of the case).
    FirstResponse(Vec<u8>),
    /// Raw bytes, then the client closes its sending side (the body ends early); one response.
    ThenStop(Vec<u8>),
    /// Raw bytes (a head whose body is never sent) on a new connection; the first response is
    /// read, an interim `1xx` included.
    HeadOnly(Vec<u8>),
    /// Several requests on ONE connection, each response read before the next request.
    KeepAlive(Vec<RawRequest>),
    /// A header block announcing a chunked body, then chunks that never end, until the
    /// response arrives (it can only arrive if the server stops reading at its limit).
    EndlessChunks {
        /// The request line and headers (its body is not sent).
        head: RawRequest,
        /// The payload of every chunk.
        chunk: Vec<u8>,
    },
}

/// What one response must show.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// The handler ran: 200 with the handler's view.
    Handled {
        /// The route whose handler answered.
        route: Route,
        /// The event type the handler saw.
        event_type: &'static str,
        /// `externalID` of the person or company, if the event has one.
        external_id: Option<&'static str>,
        /// `verified` as `/webhook` reports it (`None` on the other routes).
        verified: Option<bool>,
        /// The re-serialized event the handler saw, when the case pins it exactly.
        event: Option<Value>,
    },
    /// The extractor acknowledged an event it does not take, without running the handler: 200
    /// with `{"status":"ignored","eventType":…}`.
    Ignored {
        /// The event type that was acknowledged.
        event_type: &'static str,
    },
    /// `405 Method Not Allowed` with `Allow: POST` and an empty body.
    MethodNotAllowed,
    /// An interim answer (`100 Continue`) before any final one.
    Interim {
        /// The `1xx` status.
        status: u16,
    },
    /// A refusal: the status, `application/problem+json`, and this `code`.
    Refusal {
        /// The HTTP status.
        status: u16,
        /// The problem `code`.
        code: &'static str,
        /// The problem `pointer`, for `invalid_payload`.
        pointer: Option<&'static str>,
    },
}

impl Expect {
    /// The handler of `route` ran on a verified delivery of `event_type`.
    pub fn handled(route: Route, event_type: &'static str) -> Self {
        Expect::Handled {
            route,
            event_type,
            external_id: None,
            verified: (route == Route::Webhook).then_some(true),
            event: None,
        }
    }

    /// Sets the expected `externalID`.
    pub fn external_id(mut self, id: &'static str) -> Self {
        if let Expect::Handled { external_id, .. } = &mut self {
            *external_id = Some(id);
        }
        self
    }

    /// Sets the exact event the handler must have seen.
    pub fn event(mut self, json: &str) -> Self {
        if let Expect::Handled { event, .. } = &mut self {
            *event = Some(parse(json));
        }
        self
    }

    /// Sets the expected `verified` (on `/webhook`).
    pub fn verified(mut self, value: bool) -> Self {
        if let Expect::Handled { verified, .. } = &mut self {
            *verified = Some(value);
        }
        self
    }

    /// A refusal with `status` and `code`.
    pub fn refusal(status: u16, code: &'static str) -> Self {
        Expect::Refusal {
            status,
            code,
            pointer: None,
        }
    }

    /// A 422 `invalid_payload` naming `pointer`.
    pub fn invalid_payload(pointer: &'static str) -> Self {
        Expect::Refusal {
            status: 422,
            code: "invalid_payload",
            pointer: Some(pointer),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique, snake_case; also the snapshot's name.
    pub name: &'static str,
    /// What the case shows, in a sentence (the snapshot's description).
    pub doc: &'static str,
    /// The receiver configuration.
    pub setup: Setup,
    /// What goes on the wire.
    pub exchange: Exchange,
    /// One entry per response read.
    pub expect: Vec<Expect>,
    /// The adapters that cannot give this case the common answer because their framework
    /// decides before the adapter runs. Empty for almost every case.
    pub divergences: Vec<Divergence>,
}

/// A documented, framework-forced difference: what one adapter answers instead, and why. The
/// runner still requires the other adapters to agree, and this adapter to give exactly this.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// [`Adapter::NAME`](crate::server::Adapter::NAME) of the adapter that differs.
    pub adapter: &'static str,
    /// What it answers instead (one per response).
    pub expect: Vec<Expect>,
    /// Why the framework forces it.
    pub why: &'static str,
}

fn case(name: &'static str, doc: &'static str, exchange: Exchange, expect: Expect) -> Case {
    Case {
        name,
        doc,
        setup: Setup::Standard,
        exchange,
        expect: vec![expect],
        divergences: Vec::new(),
    }
}

impl Case {
    fn setup(mut self, setup: Setup) -> Self {
        self.setup = setup;
        self
    }

    fn except(mut self, adapter: &'static str, expect: Expect, why: &'static str) -> Self {
        self.divergences.push(Divergence {
            adapter,
            expect: vec![expect],
            why,
        });
        self
    }
}

/// Rocket 0.5.2 reads the first bytes of every body before routing (`preprocess_request` peeks
/// 14 bytes for a `_method` form field), which makes hyper send `100 Continue` first.
const ROCKET_PEEKS_AT_EVERY_BODY: &str = "Rocket 0.5.2 peeks at the first 14 bytes of every body \
    before any route or guard runs, so hyper sends 100 Continue before the data guard can refuse";

/// actix-web 4's HTTP/1 dispatcher answers `Expect: 100-continue` through its expect service,
/// which `HttpServer` does not let an application replace: `100 Continue` goes out before any
/// route or extractor runs.
const ACTIX_CONTINUES_BEFORE_ROUTING: &str = "actix-web 4 sends 100 Continue from its HTTP/1 \
    dispatcher before any route or extractor runs, and HttpServer offers no expect handler";

/// Rocket 0.5 turns hyper's request into its own before any route or guard runs, and drops
/// every header whose value is not UTF-8 (`Request::from_hyp`, "Dropping header"); the guard
/// cannot see such a header at all, so it reads as absent.
const ROCKET_DROPS_NON_UTF8_HEADERS: &str = "Rocket 0.5 drops header values that are not UTF-8 \
    before the data guard runs, so the header reads as absent";

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|error| panic!("fixture JSON is valid: {error}"))
}

/// How a request is signed.
#[derive(Debug, Clone)]
enum Signature {
    /// `t=<ms>,v0=<hmac>` with this secret at this time.
    By(&'static str, SignatureTimestamp),
    /// This header value, as is.
    Raw(Vec<u8>),
    /// No header.
    Absent,
}

/// A delivery to build: by default a signed (now, [`SECRET`]) `application/json` POST.
#[derive(Debug, Clone)]
struct Delivery {
    route: Route,
    body: Vec<u8>,
    content_type: Option<Vec<u8>>,
    signature: Signature,
    /// Sign these bytes instead of the body (for a body that changes after signing).
    signed_body: Option<Vec<u8>>,
}

fn to(route: Route, body: impl Into<Vec<u8>>) -> Delivery {
    Delivery {
        route,
        body: body.into(),
        content_type: Some(b"application/json".to_vec()),
        signature: Signature::By(SECRET, now()),
        signed_body: None,
    }
}

impl Delivery {
    fn content_type(mut self, value: Option<&[u8]>) -> Self {
        self.content_type = value.map(<[u8]>::to_vec);
        self
    }

    fn signed(mut self, secret: &'static str, at: SignatureTimestamp) -> Self {
        self.signature = Signature::By(secret, at);
        self
    }

    fn signature(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.signature = Signature::Raw(value.into());
        self
    }

    fn unsigned(mut self) -> Self {
        self.signature = Signature::Absent;
        self
    }

    fn signing(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.signed_body = Some(bytes.into());
        self
    }

    fn signature_value(&self) -> Option<Vec<u8>> {
        match &self.signature {
            Signature::By(secret, at) => {
                let signed = self.signed_body.as_deref().unwrap_or(&self.body);
                Some(sign(secret, *at, signed).into_bytes())
            }
            Signature::Raw(value) => Some(value.clone()),
            Signature::Absent => None,
        }
    }

    /// The headers (without framing), in the order the API sends them.
    fn head(&self) -> RawRequest {
        let mut request = RawRequest::post(self.route.path());
        if let Some(content_type) = &self.content_type {
            request = request.header("content-type", content_type.clone());
        }
        if let Some(signature) = self.signature_value() {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        request
    }

    /// The request with a truthful `Content-Length`.
    fn request(&self) -> RawRequest {
        self.head().body(self.body.clone())
    }

    fn one(&self) -> Exchange {
        Exchange::One(self.request())
    }
}

fn shift(at: SignatureTimestamp, by: Duration, later: bool) -> SignatureTimestamp {
    let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
    let millis = at.unix_millis();
    SignatureTimestamp::from_unix_millis(if later {
        millis.saturating_add(by)
    } else {
        millis.saturating_sub(by)
    })
}

/// `body` with whitespace inserted before its final `}` so that it is exactly `length` bytes.
pub fn padded_to(body: &str, length: usize) -> Vec<u8> {
    let (open, close) = body.split_at(body.len() - 1);
    let padding = length
        .checked_sub(body.len())
        .unwrap_or_else(|| panic!("the fixture is longer than {length} bytes"));
    let mut padded = open.as_bytes().to_vec();
    padded.resize(open.len() + padding, b' ');
    padded.extend_from_slice(close.as_bytes());
    padded
}

/// Every case. Signatures are made now, with the real clock the servers use too.
pub fn cases() -> Vec<Case> {
    use Route::{Company, Event, Person, Stored, Webhook};

    let person = || Expect::handled(Webhook, PERSON).external_id("crm-42");
    let t = now();
    let v0_zeros = "0".repeat(64);

    vec![
        // Accepted deliveries and what the handler sees.
        case(
            "valid_person_event",
            "A signed person event in the documented shape reaches the handler, decoded exactly.",
            to(Webhook, PERSON_BODY).one(),
            person().event(PERSON_BODY),
        ),
        case(
            "valid_company_event",
            "A signed company event reaches the /webhook handler, decoded.",
            to(Webhook, COMPANY_BODY).one(),
            Expect::handled(Webhook, COMPANY)
                .external_id("acct-7")
                .event(COMPANY_BODY),
        ),
        case(
            "unknown_event_type",
            "An event type the library does not know is accepted (200) and reaches the handler \
             as Unknown, its data kept verbatim.",
            to(Webhook, UNKNOWN_BODY).one(),
            Expect::handled(Webhook, UNKNOWN).event(UNKNOWN_BODY),
        ),
        case(
            "unknown_keys_everywhere",
            "Keys the library does not know, at every level, are ignored; the handler sees the \
             known fields.",
            to(
                Webhook,
                r#"{"deliveryID":"d-1","eventType":"person.enrichment.completed","version":2,"data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","batchSize":10,"person":{"externalID":"crm-42","futureField":{"nested":[1,2]},"emails":[{"email":"a@b.example","validationStatus":"VALID","score":99}],"mobilePhones":[{"mobilePhone":"+33 6 12 34 56 78","confidenceScore":0.5,"carrier":"X"}]}}}"#,
            )
            .one(),
            person().event(
                r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{"externalID":"crm-42","emails":[{"email":"a@b.example","validationStatus":"VALID"}],"mobilePhones":[{"mobilePhone":"+33 6 12 34 56 78","confidenceScore":0.5}]}}}"#,
            ),
        ),
        case(
            "observed_shapes",
            "Shapes seen in real traffic decode: null for absent, an empty list, \" CATCH_ALL\" \
             with its leading space, a month-only date, a status beyond the documented ones.",
            to(
                Webhook,
                r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{"externalID":"crm-42","companyName":null,"emails":[{"email":"x@y.example","validationStatus":" CATCH_ALL"}],"mobilePhones":[],"jobHistory":[{"companyName":"Old Co","startDate":"2019-01","endDate":null}],"status":"NOT_FOUND"}}}"#,
            )
            .one(),
            person(),
        ),
        case(
            "data_before_event_type",
            "`data` may come before `eventType`.",
            to(
                Webhook,
                r#"{"data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{"externalID":"crm-42"}},"eventType":"person.enrichment.completed"}"#,
            )
            .one(),
            person(),
        ),
        // Content types.
        case(
            "content_type_with_charset",
            "`application/json; charset=utf-8` is JSON.",
            to(Webhook, PERSON_BODY)
                .content_type(Some(b"application/json; charset=utf-8"))
                .one(),
            person(),
        ),
        case(
            "content_type_mixed_case",
            "Media types are case-insensitive: `Application/JSON`.",
            to(Webhook, PERSON_BODY)
                .content_type(Some(b"Application/JSON"))
                .one(),
            person(),
        ),
        case(
            "content_type_structured_json",
            "`application/<vendor>+json` is JSON.",
            to(Webhook, PERSON_BODY)
                .content_type(Some(b"application/vnd.surfe.v2+json"))
                .one(),
            person(),
        ),
        case(
            "no_content_type",
            "A request without Content-Type is read as JSON (lenient on input).",
            to(Webhook, PERSON_BODY).content_type(None).one(),
            person(),
        ),
        case(
            "text_plain",
            "`text/plain` is refused before the body is read.",
            to(Webhook, PERSON_BODY)
                .content_type(Some(b"text/plain"))
                .one(),
            Expect::refusal(415, "unsupported_media_type"),
        ),
        case(
            "form_urlencoded",
            "`application/x-www-form-urlencoded` is refused.",
            to(Webhook, "eventType=person.enrichment.completed")
                .content_type(Some(b"application/x-www-form-urlencoded"))
                .one(),
            Expect::refusal(415, "unsupported_media_type"),
        ),
        case(
            "non_utf8_content_type",
            "A Content-Type with bytes that are not UTF-8 is not JSON: 415. Rocket never shows \
             the header to the guard, so the delivery is read as having no Content-Type: 200.",
            to(Webhook, PERSON_BODY)
                .content_type(Some(b"application/json\xff"))
                .one(),
            Expect::refusal(415, "unsupported_media_type"),
        )
        .except("rocket", person(), ROCKET_DROPS_NON_UTF8_HEADERS),
        case(
            "duplicate_content_types_first_not_utf8",
            "Two Content-Type headers, the first not UTF-8, the second `application/json`: the \
             first one counts, and it is not JSON: 415. Rocket drops the first before the guard \
             runs and sees only the second: accepted.",
            Exchange::One(
                to(Webhook, PERSON_BODY)
                    .content_type(Some(b"application/json\xff"))
                    .head()
                    .header("content-type", "application/json")
                    .body(PERSON_BODY),
            ),
            Expect::refusal(415, "unsupported_media_type"),
        )
        .except("rocket", person(), ROCKET_DROPS_NON_UTF8_HEADERS),
        // Bodies that are not one JSON document.
        case(
            "empty_body",
            "A signed empty body is malformed JSON.",
            to(Webhook, "").one(),
            Expect::refusal(400, "malformed_json"),
        ),
        case(
            "truncated_json",
            "A body cut in the middle is malformed JSON, with its position.",
            to(Webhook, &PERSON_BODY[..120]).one(),
            Expect::refusal(400, "malformed_json"),
        ),
        case(
            "trailing_garbage",
            "Bytes after the JSON document make the body malformed.",
            to(Webhook, format!("{PERSON_BODY} x")).one(),
            Expect::refusal(400, "malformed_json"),
        ),
        case(
            "non_utf8_body",
            "A body with bytes that are not UTF-8 is malformed JSON.",
            to(
                Webhook,
                b"{\"eventType\":\"person.enrichment.completed\",\"data\":{\"person\":{\"firstName\":\"\xff\xfe\"}}}"
                    .to_vec(),
            )
            .one(),
            Expect::refusal(400, "malformed_json"),
        ),
        case(
            "nested_arrays_10000",
            "10,000 nested arrays in a modelled field are valid JSON of the wrong type: 422 at the \
             first element, no nesting limit, no stack overflow.",
            to(Webhook, nested_departments(10_000, 10_000)).one(),
            Expect::invalid_payload("/data/person/departments/0"),
        ),
        case(
            "nested_arrays_10000_unclosed",
            "10,000 nested arrays with one left open are broken JSON: 400 malformed_json.",
            to(Webhook, nested_departments(10_000, 9_999)).one(),
            Expect::refusal(400, "malformed_json"),
        ),
        case(
            "unknown_event_with_deep_data",
            "An event type this version does not know is never refused for what its data holds: \
             1,000 nested arrays (beyond serde_json's nesting limit) and a number beyond f64 are \
             acknowledged and kept as sent.",
            to(Event, {
                let mut body = br#"{"eventType":"person.enrichment.archived","data":{"big":1e309,"deep":"#.to_vec();
                body.extend(std::iter::repeat_n(b'[', 1_000));
                body.extend(std::iter::repeat_n(b']', 1_000));
                body.extend_from_slice(b"}}");
                body
            })
            .one(),
            Expect::handled(Event, "person.enrichment.archived"),
        ),
        // JSON that is not a webhook event.
        case(
            "wrong_type_deep_in_person",
            "A wrong type deep inside `person` is 422 with the JSON Pointer to it.",
            to(
                Webhook,
                r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"crm-42","mobilePhones":[{"mobilePhone":"+33 6 12 34 56 78","confidenceScore":"high"}]}}}"#,
            )
            .one(),
            Expect::invalid_payload("/data/person/mobilePhones/0/confidenceScore"),
        ),
        case(
            "data_is_an_array",
            "`data` must be an object.",
            to(
                Webhook,
                r#"{"eventType":"person.enrichment.completed","data":[]}"#,
            )
            .one(),
            Expect::invalid_payload("/data"),
        ),
        case(
            "missing_event_type",
            "An object without `eventType` is not a webhook event.",
            to(Webhook, r#"{"data":{"person":{}}}"#).one(),
            Expect::invalid_payload(""),
        ),
        case(
            "body_is_a_json_string",
            "A JSON document that is not an object is not a webhook event.",
            to(Webhook, r#""person.enrichment.completed""#).one(),
            Expect::invalid_payload(""),
        ),
        // Signatures.
        case(
            "missing_signature",
            "No x-surfe-signature header: 401.",
            to(Webhook, PERSON_BODY).unsigned().one(),
            Expect::refusal(401, "missing_signature"),
        ),
        case(
            "malformed_signature_header",
            "A signature header that is not `t=<digits>,v0=<64 hex>` is malformed.",
            to(Webhook, PERSON_BODY)
                .signature(format!("t=soon,v0={v0_zeros}"))
                .one(),
            Expect::refusal(401, "malformed_signature"),
        ),
        case(
            "non_ascii_signature_header",
            "A signature header with non-ASCII (UTF-8) characters is malformed.",
            to(Webhook, PERSON_BODY)
                .signature(format!("t={},v0=é{}", t.unix_millis(), &v0_zeros[2..]))
                .one(),
            Expect::refusal(401, "malformed_signature"),
        ),
        case(
            "non_utf8_signature_header",
            "A signature header with bytes that are not UTF-8 is malformed. Rocket never shows \
             the header to the guard: missing.",
            to(Webhook, PERSON_BODY)
                .signature({
                    let mut value = sign(SECRET, t, PERSON_BODY.as_bytes()).into_bytes();
                    value.push(0xff);
                    value
                })
                .one(),
            Expect::refusal(401, "malformed_signature"),
        )
        .except(
            "rocket",
            Expect::refusal(401, "missing_signature"),
            ROCKET_DROPS_NON_UTF8_HEADERS,
        ),
        case(
            "duplicate_signature_headers_first_not_utf8",
            "Two signature headers, the first not UTF-8, the second genuine: the first one \
             counts, and it is malformed. Rocket drops the first before the guard runs and \
             sees only the second: accepted.",
            Exchange::One({
                let mut first = sign(SECRET, t, PERSON_BODY.as_bytes()).into_bytes();
                first.push(0xff);
                to(Webhook, PERSON_BODY)
                    .signature(first)
                    .head()
                    .header(SIGNATURE_HEADER, sign(SECRET, t, PERSON_BODY.as_bytes()))
                    .body(PERSON_BODY)
            }),
            Expect::refusal(401, "malformed_signature"),
        )
        .except("rocket", person(), ROCKET_DROPS_NON_UTF8_HEADERS),
        case(
            "wrong_signature",
            "A well-formed v0 that is not the body's HMAC.",
            to(Webhook, PERSON_BODY)
                .signature(format!("t={},v0={v0_zeros}", t.unix_millis()))
                .one(),
            Expect::refusal(401, "invalid_signature"),
        ),
        case(
            "signature_for_another_secret",
            "A genuine signature made with a secret this receiver does not hold.",
            to(Webhook, PERSON_BODY).signed(FOREIGN_SECRET, t).one(),
            Expect::refusal(401, "invalid_signature"),
        ),
        case(
            "rotated_secrets_new",
            "While rotating (two secrets configured), a delivery signed with the new one passes.",
            to(Webhook, PERSON_BODY).signed(SECRET, t).one(),
            person(),
        )
        .setup(Setup::Rotated),
        case(
            "rotated_secrets_old",
            "While rotating, a delivery signed with the old secret passes too.",
            to(Webhook, PERSON_BODY).signed(PREVIOUS_SECRET, t).one(),
            person(),
        )
        .setup(Setup::Rotated),
        case(
            "tampered_body",
            "The body changed after signing (one character): invalid signature.",
            to(Webhook, PERSON_BODY.replace("crm-42", "crm-43"))
                .signing(PERSON_BODY)
                .one(),
            Expect::refusal(401, "invalid_signature"),
        ),
        case(
            "stale_timestamp",
            "Signed 10 minutes ago (tolerance 5): stale. The age in `detail` is redacted.",
            to(Webhook, PERSON_BODY)
                .signed(SECRET, shift(t, Duration::from_secs(600), false))
                .one(),
            Expect::refusal(401, "stale_timestamp"),
        ),
        case(
            "future_timestamp",
            "Signed 5 minutes ahead (tolerance 1): stale. The distance in `detail` is redacted.",
            to(Webhook, PERSON_BODY)
                .signed(SECRET, shift(t, Duration::from_secs(300), true))
                .one(),
            Expect::refusal(401, "stale_timestamp"),
        ),
        case(
            "timestamp_in_seconds",
            "A genuine HMAC over a `t` in seconds: read as milliseconds it is in 1970, so stale.",
            to(Webhook, PERSON_BODY)
                .signed(
                    SECRET,
                    SignatureTimestamp::from_unix_millis(t.unix_millis() / 1000),
                )
                .one(),
            Expect::refusal(401, "stale_timestamp"),
        ),
        case(
            "several_v0_one_valid",
            "Several v0 elements (and an unknown v1): one valid v0 is enough.",
            {
                let genuine = sign(SECRET, t, PERSON_BODY.as_bytes());
                let v0 = genuine.split_once(",v0=").map_or("", |(_, v0)| v0);
                to(Webhook, PERSON_BODY)
                    .signature(format!(
                        "t={},v0={v0_zeros},v1=future-scheme,v0={v0}",
                        t.unix_millis()
                    ))
                    .one()
            },
            person(),
        ),
        case(
            "first_signature_header_counts",
            "Two x-surfe-signature headers: the first one is the signature.",
            Exchange::One(
                to(Webhook, PERSON_BODY)
                    .request()
                    .header(SIGNATURE_HEADER, format!("t=1,v0={v0_zeros}")),
            ),
            person(),
        ),
        case(
            "insecure_unsigned_accepted",
            "With verification explicitly skipped, an unsigned delivery reaches the handler, \
             marked unverified.",
            to(Webhook, PERSON_BODY).unsigned().one(),
            person().verified(false),
        )
        .setup(Setup::Insecure),
        // Limits (SMALL_LIMIT = 4096 bytes).
        case(
            "body_exactly_at_limit",
            "A valid event padded with whitespace to exactly the limit is accepted.",
            to(Webhook, padded_to(PERSON_BODY, SMALL_LIMIT)).one(),
            person(),
        )
        .setup(Setup::SmallLimit),
        case(
            "body_one_byte_over_limit",
            "One byte over the limit: 413 (refused on its Content-Length, before reading).",
            to(Webhook, padded_to(PERSON_BODY, SMALL_LIMIT + 1)).one(),
            Expect::refusal(413, "payload_too_large"),
        )
        .setup(Setup::SmallLimit),
        case(
            "content_length_over_limit_body_not_sent",
            "Content-Length declares 1 MB but only 100 bytes are sent: 413 at once, without \
             waiting for the body.",
            Exchange::FirstResponse(
                to(Webhook, PERSON_BODY)
                    .head()
                    .header("content-length", "1000000")
                    .raw_body(&PERSON_BODY.as_bytes()[..100])
                    .to_bytes(),
            ),
            Expect::refusal(413, "payload_too_large"),
        )
        .setup(Setup::SmallLimit),
        case(
            "get_on_the_webhook_path",
            "GET on the webhook path: 405 with `Allow: POST` and no body, the same in every \
             framework (Rocket with `enrich_rocket::post_only`).",
            Exchange::One(RawRequest {
                method: "GET",
                ..RawRequest::post("/webhook")
            }),
            Expect::MethodNotAllowed,
        ),
        case(
            "delete_on_the_webhook_path",
            "DELETE on the webhook path: 405 with `Allow: POST` and no body.",
            Exchange::One(RawRequest {
                method: "DELETE",
                ..RawRequest::post("/webhook")
            }),
            Expect::MethodNotAllowed,
        ),
        case(
            "unsigned_large_upload_refused_before_its_body",
            "An unsigned request declares a 1,000,000-byte body and sends 16 bytes of it: 401 at \
             once, from the headers, without waiting for the rest.",
            Exchange::FirstResponse(
                to(Webhook, PERSON_BODY)
                    .unsigned()
                    .head()
                    .header("content-length", "1000000")
                    .raw_body(&PERSON_BODY.as_bytes()[..16])
                    .to_bytes(),
            ),
            Expect::refusal(401, "missing_signature"),
        ),
        case(
            "unsigned_expect_continue_refused_without_100",
            "An unsigned request declares a 1,000,000-byte body with `Expect: 100-continue` and \
             sends none of it: the first answer is 401, never `100 Continue`.",
            Exchange::HeadOnly(
                to(Webhook, PERSON_BODY)
                    .unsigned()
                    .head()
                    .header("content-length", "1000000")
                    .header("expect", "100-continue")
                    .to_bytes(),
            ),
            Expect::refusal(401, "missing_signature"),
        )
        .except(
            "rocket",
            Expect::Interim { status: 100 },
            ROCKET_PEEKS_AT_EVERY_BODY,
        )
        .except(
            "actix",
            Expect::Interim { status: 100 },
            ACTIX_CONTINUES_BEFORE_ROUTING,
        ),
        case(
            "stale_expect_continue_refused_without_100",
            "A request signed ten minutes ago declares a 1,000,000-byte body with \
             `Expect: 100-continue`: the first answer is 401 stale_timestamp, never \
             `100 Continue`.",
            Exchange::HeadOnly(
                to(Webhook, PERSON_BODY)
                    .signed(SECRET, shift(t, Duration::from_secs(600), false))
                    .head()
                    .header("content-length", "1000000")
                    .header("expect", "100-continue")
                    .to_bytes(),
            ),
            Expect::refusal(401, "stale_timestamp"),
        )
        .except(
            "rocket",
            Expect::Interim { status: 100 },
            ROCKET_PEEKS_AT_EVERY_BODY,
        )
        .except(
            "actix",
            Expect::Interim { status: 100 },
            ACTIX_CONTINUES_BEFORE_ROUTING,
        ),
        case(
            "content_length_shorter_than_body_signed_prefix",
            "Content-Length covers one whole signed event and more bytes follow: the server \
             reads exactly the declared bytes, so the handler sees that event. The rest is the \
             next request on the connection; only the first response is read.",
            Exchange::FirstResponse({
                let mut bytes = to(Webhook, PERSON_BODY).request().to_bytes();
                bytes.extend_from_slice(b"{\"trailing\":\"bytes\"}");
                bytes
            }),
            person().event(PERSON_BODY),
        ),
        case(
            "content_length_shorter_than_body_signed_whole",
            "The sender signs everything it sends but declares fewer bytes: the server checks \
             the signature over the declared bytes only, so it does not match.",
            Exchange::FirstResponse({
                let whole = format!("{PERSON_BODY}          ");
                to(Webhook, PERSON_BODY)
                    .signing(whole.clone())
                    .head()
                    .header("content-length", PERSON_BODY.len().to_string())
                    .raw_body(whole)
                    .to_bytes()
            }),
            Expect::refusal(401, "invalid_signature"),
        ),
        case(
            "body_shorter_than_content_length",
            "The sender declares 100 more bytes than it sends, then stops (closes its side): \
             the body is incomplete.",
            Exchange::ThenStop(
                to(Webhook, PERSON_BODY)
                    .head()
                    .header("content-length", (PERSON_BODY.len() + 100).to_string())
                    .raw_body(PERSON_BODY)
                    .to_bytes(),
            ),
            Expect::refusal(400, "incomplete_body"),
        ),
        case(
            "chunked_body_within_limit",
            "A chunked body (no Content-Length) under the limit is read and accepted.",
            Exchange::One({
                let body = PERSON_BODY.as_bytes();
                let mut chunked = Vec::new();
                for piece in body.chunks(500) {
                    chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    chunked.extend_from_slice(piece);
                    chunked.extend_from_slice(b"\r\n");
                }
                chunked.extend_from_slice(b"0\r\n\r\n");
                to(Webhook, PERSON_BODY)
                    .head()
                    .header("transfer-encoding", "chunked")
                    .raw_body(chunked)
            }),
            person(),
        )
        .setup(Setup::SmallLimit),
        case(
            "chunked_body_over_limit",
            "A chunked body that never ends: the server stops reading at the limit and answers \
             413 while the client is still sending.",
            Exchange::EndlessChunks {
                head: to(Webhook, "")
                    .head()
                    .header("transfer-encoding", "chunked"),
                chunk: vec![b' '; 1000],
            },
            Expect::refusal(413, "payload_too_large"),
        )
        .setup(Setup::SmallLimit),
        // Connections.
        Case {
            name: "keep_alive_two_deliveries",
            doc: "Two deliveries on one HTTP/1.1 connection, each answered in turn.",
            setup: Setup::Standard,
            exchange: Exchange::KeepAlive(vec![
                to(Webhook, PERSON_BODY).request(),
                to(Webhook, COMPANY_BODY).request(),
            ]),
            expect: vec![
                person(),
                Expect::handled(Webhook, COMPANY).external_id("acct-7"),
            ],
            divergences: Vec::new(),
        },
        Case {
            name: "keep_alive_rejection_then_delivery",
            doc: "A rejected delivery (its body read to the end) leaves the connection usable \
                  for the next one.",
            setup: Setup::Standard,
            exchange: Exchange::KeepAlive(vec![
                to(Webhook, PERSON_BODY).unsigned().request(),
                to(Webhook, PERSON_BODY).request(),
            ]),
            expect: vec![Expect::refusal(401, "missing_signature"), person()],
            divergences: Vec::new(),
        },
        // The other extractors.
        case(
            "person_event_at_event",
            "`Event` takes a person event.",
            to(Event, PERSON_BODY).one(),
            Expect::handled(Event, PERSON)
                .external_id("crm-42")
                .event(PERSON_BODY),
        ),
        case(
            "company_event_at_event",
            "`Event` takes a company event.",
            to(Event, COMPANY_BODY).one(),
            Expect::handled(Event, COMPANY).external_id("acct-7"),
        ),
        case(
            "unknown_event_at_event",
            "`Event` takes an unknown event, verbatim.",
            to(Event, UNKNOWN_BODY).one(),
            Expect::handled(Event, UNKNOWN).event(UNKNOWN_BODY),
        ),
        case(
            "rejection_at_event",
            "`Event` rejects exactly as `WebhookDelivery` does.",
            to(Event, PERSON_BODY).unsigned().one(),
            Expect::refusal(401, "missing_signature"),
        ),
        case(
            "person_event_at_person",
            "`PersonEvent` takes a person event.",
            to(Person, PERSON_BODY).one(),
            Expect::handled(Person, PERSON)
                .external_id("crm-42")
                .event(PERSON_BODY),
        ),
        case(
            "company_event_at_person",
            "`PersonEvent` acknowledges a company event (200) without running the handler.",
            to(Person, COMPANY_BODY).one(),
            Expect::Ignored { event_type: COMPANY },
        ),
        case(
            "unknown_event_at_person",
            "`PersonEvent` acknowledges an unknown event (200) without running the handler.",
            to(Person, UNKNOWN_BODY).one(),
            Expect::Ignored { event_type: UNKNOWN },
        ),
        case(
            "rejection_at_person",
            "`PersonEvent` rejects exactly as `WebhookDelivery` does.",
            to(Person, r#"{"eventType":"person.enrichment.completed","data":{"person":[]}}"#).one(),
            Expect::invalid_payload("/data/person"),
        ),
        case(
            "storage_failure_is_503_with_retry_after",
            "A genuine delivery the inbox cannot store (its database is closed) is answered 503 \
             storage_unavailable with Retry-After, so the sender retries it.",
            to(Stored, PERSON_BODY).one(),
            Expect::refusal(503, "storage_unavailable"),
        ),
        case(
            "storage_failure_after_refusal_checks",
            "The inbox is reached only by genuine deliveries: an unsigned one at the storing route \
             is refused as usual.",
            to(Stored, PERSON_BODY).unsigned().one(),
            Expect::refusal(401, "missing_signature"),
        ),
        case(
            "company_event_at_company",
            "`CompanyEvent` takes a company event.",
            to(Company, COMPANY_BODY).one(),
            Expect::handled(Company, COMPANY)
                .external_id("acct-7")
                .event(COMPANY_BODY),
        ),
        case(
            "person_event_at_company",
            "`CompanyEvent` acknowledges a person event (200) without running the handler.",
            to(Company, PERSON_BODY).one(),
            Expect::Ignored { event_type: PERSON },
        ),
        case(
            "unknown_event_at_company",
            "`CompanyEvent` acknowledges an unknown event (200) without running the handler.",
            to(Company, UNKNOWN_BODY).one(),
            Expect::Ignored { event_type: UNKNOWN },
        ),
        case(
            "rejection_at_company",
            "`CompanyEvent` rejects exactly as `WebhookDelivery` does.",
            to(Company, r#"{"eventType":"company.enrichment.completed","data":{"company":{"employeeCount":"many"}}}"#).one(),
            Expect::invalid_payload("/data/company/employeeCount"),
        ),
    ]
}

/// A person event whose `departments` opens `open` arrays and closes `close` of them.
fn nested_departments(open: usize, close: usize) -> Vec<u8> {
    let mut body =
        br#"{"eventType":"person.enrichment.completed","data":{"person":{"departments":"#.to_vec();
    body.extend(std::iter::repeat_n(b'[', open));
    body.extend(std::iter::repeat_n(b']', close));
    body.extend_from_slice(b"}}}");
    body
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn names_are_unique_and_every_snapshot_belongs_to_a_case() {
        let cases = cases();
        let names: BTreeSet<&str> = cases.iter().map(|case| case.name).collect();
        assert_eq!(names.len(), cases.len(), "duplicate case names");
        assert!(cases.len() >= 35, "only {} cases", cases.len());
        for case in &cases {
            let responses = match &case.exchange {
                Exchange::KeepAlive(requests) => requests.len(),
                _ => 1,
            };
            assert_eq!(case.expect.len(), responses, "{}", case.name);
        }

        let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots");
        let entries = std::fs::read_dir(directory).expect("tests/snapshots exists");
        for entry in entries {
            let file = entry.expect("readable directory").file_name();
            let file = file.to_string_lossy();
            let name = file.strip_suffix(".snap").unwrap_or(&file);
            assert!(names.contains(name), "{file} belongs to no case");
        }
    }

    #[test]
    fn padding_reaches_the_exact_length_and_keeps_the_document() {
        let padded = padded_to(PERSON_BODY, SMALL_LIMIT);
        assert_eq!(padded.len(), SMALL_LIMIT);
        let reparsed: Value = serde_json::from_slice(&padded).unwrap();
        assert_eq!(reparsed, parse(PERSON_BODY));
    }
}
