//! OCI images: deterministic layers, config/manifest/index, OCI layout, docker-archive and the
//! Docker Engine API.
