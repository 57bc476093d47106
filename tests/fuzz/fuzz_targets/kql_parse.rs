//! Any bytes as a KQL query: the parser returns a plan's syntax tree or an error, never
//! panics or hangs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = retrohunt::kql::parses(text);
    }
});
