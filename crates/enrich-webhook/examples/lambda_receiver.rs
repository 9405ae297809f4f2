//! A webhook receiver as an AWS Lambda function behind API Gateway (an HTTP API or a REST API
//! with Lambda proxy integration), through the `http` entry point and `lambda_http`.
//!
//! Build and deploy it as any `lambda_http` function (with cargo-lambda, for instance), with
//! `SURFE_WEBHOOK_SECRET` in the function's environment; the route's URL is the `webhookUrl` to
//! give the API. Each `person.enrichment.completed` event is answered `200`; another genuine
//! event gets the `200` acknowledgement; everything else gets the refusal every adapter sends,
//! as problem+json. The test below runs the function in-process on API Gateway events built
//! from signed requests: no AWS account needed.
//!
//! ```sh
//! cargo test -p enrich-webhook --features http --example lambda_receiver
//! ```
//!
//! API Gateway buffers the whole body before invoking the function (an HTTP API takes up to
//! 10 MB) and times out requests itself, so the server limits of the other examples are its
//! business here; the body limit still applies.

use bytes::Bytes;
use enrich_webhook::WebhookConfig;
use enrich_webhook::prelude::PersonEnrichmentCompleted;
use http_body_util::Full;
use lambda_http::{Error, Request, Response, service_fn};

/// Answers one invocation: the route's request, already buffered by API Gateway.
async fn receive(config: &WebhookConfig, request: Request) -> Result<Response<Full<Bytes>>, Error> {
    match config
        .receive_request_as::<PersonEnrichmentCompleted, _>(request)
        .await
    {
        Ok(event) => {
            // Your work: store the event (a queue, a table) before answering 200.
            println!("enriched: {:?}", event.person.external_id);
            Ok(Response::new(Full::default()))
        }
        // A refusal, a 405, or the 200 acknowledgement of another event: sent as it is.
        Err(answer) => Ok(answer),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // CloudWatch stamps each line with its time already.
    tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .init();
    let config = WebhookConfig::from_env()?; // SURFE_WEBHOOK_SECRET
    lambda_http::run(service_fn(|request| receive(&config, request))).await
}

#[cfg(test)]
mod tests {
    use base64::prelude::{BASE64_STANDARD, Engine};
    use enrich_webhook::testing::{SignedRequest, TEST_SECRET};
    use lambda_http::{Body, IntoResponse};
    use serde_json::{Map, Value, json};

    use super::*;

    const PERSON: &str =
        r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;

    /// The headers of `signed` as API Gateway passes them: a JSON object, names in lower case.
    fn headers(signed: &SignedRequest) -> Map<String, Value> {
        let pairs = signed.header_pairs.iter();
        pairs
            .map(|(name, value)| (name.clone(), value.as_str().into()))
            .collect()
    }

    /// The event an HTTP API (payload format 2.0) sends the function for `signed`, posted to
    /// `/webhook`, its body base64-encoded when `base64` is set.
    fn http_api_event(signed: &SignedRequest, base64: bool) -> String {
        let body = String::from_utf8(signed.body.clone()).unwrap();
        json!({
            "version": "2.0",
            "routeKey": "POST /webhook",
            "rawPath": "/webhook",
            "rawQueryString": "",
            "headers": headers(signed),
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "r3pmxmplak",
                "domainName": "r3pmxmplak.execute-api.eu-west-3.amazonaws.com",
                "domainPrefix": "r3pmxmplak",
                "http": {
                    "method": "POST",
                    "path": "/webhook",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": "Surfe-Webhooks"
                },
                "requestId": "JKJaXmPLvHcESHA=",
                "routeKey": "POST /webhook",
                "stage": "$default",
                "time": "21/Sep/2025:15:31:38 +0000",
                "timeEpoch": 1758468698287u64
            },
            "body": if base64 { BASE64_STANDARD.encode(body) } else { body },
            "isBase64Encoded": base64
        })
        .to_string()
    }

    /// The event a REST API's Lambda proxy integration sends for `signed`.
    fn rest_api_event(signed: &SignedRequest) -> String {
        let multi: Map<String, Value> = headers(signed)
            .into_iter()
            .map(|(name, value)| (name, json!([value])))
            .collect();
        json!({
            "resource": "/webhook",
            "path": "/webhook",
            "httpMethod": "POST",
            "headers": headers(signed),
            "multiValueHeaders": multi,
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "us4z18",
                "stage": "prod",
                "requestId": "36b3aa9f-4b2e-4b6b-9fb1-3a3f5e36a5a1",
                "identity": { "sourceIp": "203.0.113.7" },
                "resourcePath": "/webhook",
                "httpMethod": "POST",
                "apiId": "r3pmxmplak"
            },
            "body": String::from_utf8(signed.body.clone()).unwrap(),
            "isBase64Encoded": false
        })
        .to_string()
    }

    /// Runs the function on `event` as the Lambda runtime would: the event JSON turned into a
    /// request by `lambda_http`, the response into the body API Gateway gets.
    async fn invoke(event: &str) -> (u16, Option<String>, Body) {
        let config = WebhookConfig::with_secret(TEST_SECRET).unwrap();
        let request = lambda_http::request::from_str(event).unwrap();
        let response = receive(&config, request).await.unwrap();
        let response = response.into_response().await;
        let content_type = response.headers().get("content-type");
        let content_type = content_type.map(|value| value.to_str().unwrap().to_owned());
        (
            response.status().as_u16(),
            content_type,
            response.into_body(),
        )
    }

    #[tokio::test]
    async fn a_signed_delivery_is_accepted_with_200() {
        let signed = SignedRequest::builder(PERSON).build();
        for event in [
            http_api_event(&signed, false),
            http_api_event(&signed, true),
            rest_api_event(&signed),
        ] {
            let (status, _, body) = invoke(&event).await;
            assert_eq!(status, 200, "{event}");
            assert_eq!(body, Body::Text(String::new()));
        }
    }

    #[tokio::test]
    async fn an_unsigned_delivery_is_refused_as_problem_json() {
        let unsigned = SignedRequest::builder(PERSON).unsigned().build();
        let (status, content_type, body) = invoke(&http_api_event(&unsigned, false)).await;
        assert_eq!(status, 401);
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        // Text, not base64: API Gateway passes it on as it is.
        let Body::Text(body) = body else {
            panic!("the problem is sent as text, not {body:?}")
        };
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["code"], "missing_signature");
        assert_eq!(problem["status"], 401);
    }

    #[tokio::test]
    async fn a_tampered_body_is_refused() {
        let mut signed = SignedRequest::builder(PERSON).build();
        signed.body = PERSON.replace("p-1", "p-2").into_bytes();
        let (status, _, body) = invoke(&http_api_event(&signed, true)).await;
        assert_eq!(status, 401);
        let Body::Text(body) = body else {
            panic!("the problem is sent as text, not {body:?}")
        };
        assert!(body.contains(r#""code":"invalid_signature""#), "{body}");
    }
}
