//! requirements.txt: pins, extras, environment markers.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::requirements(data));
