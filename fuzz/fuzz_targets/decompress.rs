//! The index and data.tar decompressors (xz, gzip, zstd), chosen by the first byte.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::decompress(data));
