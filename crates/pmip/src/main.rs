//! The `pmip` command line (DESIGN.md layer 5, "tools").

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pmip",
    version,
    about = "Proxy Mobile IPv4: home agent, foreign agent and proxy Mobile IP access point"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a campus of pmip devices in network namespaces and roam a client through it.
    Lab {
        #[command(subcommand)]
        action: LabAction,
    },
}

#[derive(Subcommand)]
enum LabAction {
    /// Build the campus, roam a client home -> foreign -> foreign -> home, print the timeline.
    Demo,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Lab {
            action: LabAction::Demo,
        } => {
            eprintln!(
                "pmip: lab not built yet (the devices it runs are still being built; see the README)"
            );
            ExitCode::from(2)
        }
    }
}
