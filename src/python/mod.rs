//! Python: hash-pinned requirements, wheels from a package index, installation into the tree and
//! deterministic byte-code compilation.
