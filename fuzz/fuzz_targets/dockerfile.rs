//! Dockerfiles through the parser and every lint rule.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::dockerfile(data));
