//! The in-memory root filesystem and what the builder makes in it in place of maintainer scripts.

pub mod exec;
pub mod from_disk;
pub mod ldcache;
pub mod prune;
pub mod sandbox;
pub mod system;
pub mod tree;

pub use tree::{Entry, Node, Origin, Tree};
