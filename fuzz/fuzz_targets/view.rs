//! verify's merged view over up to four layers (whiteouts, opaque dirs, links, captured files).
//! The input is split on `LUCIDLAYER`; each part is a layer blob. The config's diff_ids are made
//! to match so the merge runs over every layer, not only the first.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::view(data));
