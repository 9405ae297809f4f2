//! Signed envelopes of real field names with planted markers: see
//! `enrich_webhook_fuzz::signed_envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| enrich_webhook_fuzz::signed_envelope(data));
