//! Shared test fixtures. Each integration test that says `mod support;` uses only part of it.
#![allow(dead_code)]

pub mod debrepo;
