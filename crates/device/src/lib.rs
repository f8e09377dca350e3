//! The pmip device (DESIGN.md layer 4): reads an IOS configuration, runs
//! the engines it enables on the Linux platform and serves the operator.

pub mod control;
