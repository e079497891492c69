//! The build pipeline: spec -> resolve -> lock -> fetch -> assemble -> prune -> layers -> outputs.
