//! Parsers of formats that both the builder and the checkers read, with no I/O and no knowledge of
//! where the bytes came from: ELF objects (sizes, `ld.so.cache`, load checks, and stripping their
//! symbol tables), PEM certificates, and
//! Python wheel names and tags (which wheel `lucid build` picks, and whether `lucid verify --app` accepts one).
//! Kept apart so that `verify` and `analyze` need nothing from the build side (`python`, `rootfs`).

pub mod elf;
pub mod elf_strip;
pub mod pem;
pub mod wheel;
