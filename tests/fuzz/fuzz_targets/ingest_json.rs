//! Any bytes read as a json input: no panic, no hang, and every record accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    retrohunt::ingest::check_decoder(retrohunt::ingest::Format::Json, "fuzz.jsonl", data);
});
