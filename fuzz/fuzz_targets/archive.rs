//! docker-archive: manifest.json alone, and whole archives opened and verified from a file.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::archive(data));
