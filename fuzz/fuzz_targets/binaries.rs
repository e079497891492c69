//! ELF files and jimage indices, as lucid report reads them from inside images.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::binaries(data));
