//! The .deb container: ar members, control.tar.*, data.tar.* into the in-memory tree.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::deb(data));
