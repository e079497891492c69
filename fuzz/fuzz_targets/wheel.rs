//! Wheels (zip) installed into site-packages in the in-memory tree.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::wheel(data));
