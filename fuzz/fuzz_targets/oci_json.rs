//! OCI index, manifest and config JSON, a signature's simple-signing payload, and an OCI layout
//! whose index.json is the input.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::oci_json(data));
