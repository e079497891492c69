//! Debian source: mirrors, signed InRelease, Packages indices, versions, the resolver and .deb
//! extraction into the in-memory tree.
