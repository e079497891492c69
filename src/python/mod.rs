//! Python: hash-pinned requirements, wheels from a package index, installation into the tree and
//! deterministic byte-code compilation.

pub mod compile;
pub mod index;
pub mod requirements;
pub mod wheel;

pub use compile::{CompileStats, compile};
pub use index::{Target, WheelPin, index_url, pick_wheels};
pub use requirements::{Requirement, parse};
pub use wheel::install;
