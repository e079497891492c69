//! Lucid: build, verify and report on distroless container base images from Debian packages,
//! without a Docker daemon.
//!
//! Data flows one way (see `docs/architecture.md`):
//! `spec -> debian (resolve), lock -> fetch -> rootfs (assemble, prune) -> oci (layers, image, outputs)`.
//! A module reads only what is to its left. `verify`, `lint` (`dockerfile`) and `analyze` produce
//! `findings` (the one findings model and the figures); `report` only renders them. `files`,
//! `units`, `names` and `exit` are foundations that import nothing of the crate.

pub mod analyze;
pub mod build;
pub mod debian;
pub mod debug;
pub mod dockerfile;
pub mod exit;
pub mod fetch;
pub mod files;
pub mod findings;
pub mod formats;
pub mod java;
pub mod limits;
pub mod lock;
pub mod names;
pub mod oci;
pub mod platform;
pub mod progress;
pub mod python;
pub mod report;
pub mod rootfs;
pub mod sign;
pub mod spec;
pub mod units;
pub mod verify;
