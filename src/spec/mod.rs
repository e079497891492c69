//! The build spec (`build-args.yml`).
