//! The labels lucid writes into an image config and reads back: verify and report read them
//! from any image, the build writes them, so they belong to the image model.

/// Which stage an image serves: `build-stage` or `runtime-stage`.
pub const STAGE_LABEL: &str = "dev.lucid.stage";
/// `true` on a debug image (`IMAGE:debug`): a runtime image plus a static busybox under
/// `/busybox` (`spec::DEBUG_SHELL_DIR`), which `lucid verify` allows there and nowhere else.
pub const DEBUG_LABEL: &str = "dev.lucid.debug";
/// An optional label carrying the image's size budget (`100MB`), for images verified or
/// reported on without their spec.
pub const BUDGET_LABEL: &str = "dev.lucid.budget";
/// The image's name (`lucid-python-base`), by which a spec's budget applies to it.
pub const TITLE_LABEL: &str = "org.opencontainers.image.title";
/// The image's description, from the spec.
pub const DESCRIPTION_LABEL: &str = "org.opencontainers.image.description";
/// The signed Debian Releases the image's packages come from, one per suite, `; `-separated:
/// `bookworm 2025-05-17T09:12:34Z B8B80B5B...` (suite, the Release's `Date`, the fingerprint of
/// the certificate whose key signed it), as the lock recorded them. Written when the lock has them.
pub const DEBIAN_RELEASES_LABEL: &str = "dev.lucid.debian.releases";
/// When the image was made: `SOURCE_DATE_EPOCH` as RFC 3339, the same instant as the config's
/// `created`.
pub const CREATED_LABEL: &str = "org.opencontainers.image.created";
