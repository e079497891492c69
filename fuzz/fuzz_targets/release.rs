//! InRelease: the clearsigned OpenPGP envelope (against Debian's real keyring when the host has
//! it, else an empty one) and the Release text it carries.
#![no_main]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::release(data));
