//! Raw bytes through `start`, chunks and `receive`: see `enrich_webhook_fuzz::pipeline`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| enrich_webhook_fuzz::pipeline(data));
