//! deb822 paragraphs (Packages, control), their relation fields and versions.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::control(data));
