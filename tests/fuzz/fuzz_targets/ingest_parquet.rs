//! Any bytes read as a parquet input: no panic, no hang, and every record accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // The ingest turns a panic of the Parquet decoder into the file's reject (see
    // `ingest/parquet.rs`); libfuzzer-sys's hook would abort on it anyway. Silence the hook:
    // a panic that escapes the ingest still aborts, which is the crash this target looks for.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
        retrohunt::ingest::check_decoder(retrohunt::ingest::Format::Parquet, "fuzz.parquet", data);
    }
);
