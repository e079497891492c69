//! Debian source: mirrors, signed InRelease, Packages indices, versions, the resolver and .deb
//! extraction into the in-memory tree.
//!
//! Trust flows down one chain: the clearsigned `InRelease` is verified against the keyring, its
//! SHA256 list pins the `Packages` index, and each `Packages` paragraph pins its `.deb`. Nothing
//! is trusted that this chain did not pin.

pub mod control;
pub mod deb;
pub mod mirror;
pub mod packages;
pub mod relation;
pub mod release;
pub mod replay;
pub mod repo;
pub mod resolver;
pub mod version;

pub use deb::{DebContents, extract};
pub use mirror::{Source, discover};
pub use packages::Package;
pub use relation::{Op, Relation};
pub use release::{Release, verify_inrelease};
pub use repo::{Trust, Universe, load};
pub use resolver::resolve;
