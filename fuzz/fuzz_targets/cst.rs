//! container-structure-test YAML (schema 2.0.0) as `lucid verify --config` reads it.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::cst(data));
