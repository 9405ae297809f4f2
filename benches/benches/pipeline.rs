//! The pipeline's cost against the work it cannot avoid: one JSON decode and one HMAC-SHA256.
//!
//! For the realistic person event (pretty-printed, about 2.6 KB), the same event as compact JSON
//! (about 1.9 KB) and the minimal person event (about 160 bytes):
//!
//! | id | what |
//! |---|---|
//! | `value` | `serde_json::from_slice::<serde_json::Value>` |
//! | `typed` | `serde_json::from_slice::<WebhookEvent>`: plain typed decode, no path tracking |
//! | `hmac` | HMAC-SHA256 of the body alone, key schedule computed once outside the loop (the pipeline keys per verification, as hand-written code does: two SHA-256 blocks more) |
//! | `ours_decode` | `receive()` with verification off and no headers: limit + decode |
//! | `ours_verify` | `receive()` with a well-formed but wrong signature: limit + content type + header parse + HMAC + compare, refused before decoding |
//! | `ours_pipeline` | `receive()` on a signed request: limit + content type + verify + decode |
//!
//! Run with `cargo bench -p enrich-benches --bench pipeline`; `cargo xtask bench` reads the
//! medians from criterion's `estimates.json` files.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use enrich_benches::payload::{SECRET, minimal_event, realistic_event, realistic_event_compact};
use enrich_webhook::enrich_types::WebhookEvent;
use enrich_webhook::testing::{now, sign};
use enrich_webhook::{RequestHeaders, Tolerance, WebhookConfig};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

fn bench_event(c: &mut Criterion, group_name: &str, body: Vec<u8>) {
    let content_length = body.len().to_string();
    let signature = sign(SECRET, now(), &body);
    let wrong_signature = sign("whsec_some_other_secret", now(), &body);
    let body = Bytes::from(body);

    let verifying = WebhookConfig::with_secret(SECRET)
        .expect("a non-empty secret")
        .tolerance(Tolerance::unchecked());
    let decoding_only = WebhookConfig::insecure_skip_verification();
    let signed = RequestHeaders::from_strs(
        Some("application/json"),
        Some(&content_length),
        Some(&signature),
    );
    let wrongly_signed = RequestHeaders::from_strs(
        Some("application/json"),
        Some(&content_length),
        Some(&wrong_signature),
    );
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");

    // Each measured path must do its whole job on this body.
    assert!(verifying.receive(&signed, body.clone()).is_ok());
    assert!(
        decoding_only
            .receive(&RequestHeaders::default(), body.clone())
            .is_ok()
    );
    assert_eq!(
        verifying
            .receive(&wrongly_signed, body.clone())
            .map(|_| ())
            .map_err(|rejection| rejection.code()),
        Err("invalid_signature")
    );

    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&body)).expect("valid"))
    });
    group.bench_function("typed", |b| {
        b.iter(|| serde_json::from_slice::<WebhookEvent>(black_box(&body)).expect("valid"))
    });
    group.bench_function("hmac", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(&body));
            mac.finalize().into_bytes()
        })
    });
    group.bench_function("ours_decode", |b| {
        let headers = RequestHeaders::default();
        b.iter(|| decoding_only.receive(black_box(&headers), body.clone()))
    });
    group.bench_function("ours_verify", |b| {
        b.iter(|| verifying.receive(black_box(&wrongly_signed), body.clone()))
    });
    group.bench_function("ours_pipeline", |b| {
        b.iter(|| verifying.receive(black_box(&signed), body.clone()))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_event(c, "person_event_realistic", realistic_event());
    bench_event(c, "person_event_compact", realistic_event_compact());
    bench_event(c, "person_event_minimal", minimal_event());
}

criterion_group! {
    name = pipeline;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60);
    targets = benches
}
criterion_main!(pipeline);
