//! The pmip lab (docs/architecture.md): a campus of `pmip` devices
//! in network namespaces on this machine, built from a topology file,
//! with unmodified clients that roam between the APs, and the demo that
//! measures each handoff.

pub mod campus;
pub mod configs;
pub mod demo;
pub mod plot;
pub mod topology;

pub use campus::Lab;
pub use topology::Topology;
