//! One layer blob (gzip or plain tar) through the reader every image source uses.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::layer(data));
