//! The `pmip` command line (DESIGN.md layer 5, "tools").

use clap::{Parser, Subcommand};
use pmip_device::control::{self, Request};
use std::path::PathBuf;
use std::process::ExitCode;

mod bench;

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
    /// Run one device from an IOS-style configuration file (in the current network namespace).
    Run {
        /// The configuration file.
        config: PathBuf,
        /// Control socket path (default /run/pmip/<hostname>.sock).
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Run one EXEC command on a running device (show ..., clear ..., configure LINE).
    Exec {
        /// The device's control socket (default: the only socket in /run/pmip).
        #[arg(long)]
        control: Option<PathBuf>,
        /// Print the same data as JSON.
        #[arg(long)]
        json: bool,
        /// The command, e.g. `show ip mobile binding`.
        #[arg(required = true, trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Measure: `pmip bench tunnel` (iperf3 through our tunnel next to kernel routing).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Build a campus of pmip devices in network namespaces and roam a client through it.
    Lab {
        #[command(subcommand)]
        action: LabAction,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Registrations/s accepted by the home agent daemon vs a bare UDP echo, and memory per binding.
    Ha {
        /// Registrations to send (distinct home addresses).
        #[arg(long, default_value_t = 100_000)]
        count: u32,
        /// Requests outstanding at once.
        #[arg(long, default_value_t = 64)]
        window: u32,
    },
    /// TCP throughput through the home agent tunnel vs plain kernel routing.
    Tunnel {
        /// Seconds per iperf3 run.
        #[arg(long, default_value_t = 5)]
        seconds: u32,
    },
}

#[derive(Subcommand)]
enum LabAction {
    /// Build the campus, roam a client home -> foreign -> foreign -> home, print the timeline.
    Demo,
}

/// With no --control, the one device socket in /run/pmip.
fn find_control(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let socks: Vec<PathBuf> = std::fs::read_dir("/run/pmip")
        .map_err(|e| format!("no running device (/run/pmip: {e}); give --control PATH"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .collect();
    match socks.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("no running device in /run/pmip; give --control PATH".into()),
        _ => Err(format!(
            "{} devices in /run/pmip; choose one with --control PATH",
            socks.len()
        )),
    }
}

fn exec(control_path: Option<PathBuf>, json: bool, words: Vec<String>) -> ExitCode {
    let path = match find_control(control_path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pmip: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pmip: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(control::call(&path, &Request { words, json })) {
        Ok(r) if r.ok => {
            let out = r.output.unwrap_or_default();
            print!("{out}");
            if !out.is_empty() && !out.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Ok(r) => {
            eprintln!(
                "pmip: {}",
                r.error.unwrap_or_else(|| "command failed".into())
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("pmip: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: PathBuf, control: Option<PathBuf>) -> ExitCode {
    pmip_device::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pmip: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(pmip_device::daemon::run(&config, control)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pmip: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { config, control } => run(config, control),
        Command::Exec {
            control,
            json,
            words,
        } => exec(control, json, words),
        Command::Bench {
            what: BenchWhat::Ha { count, window },
        } => match bench::home_agent(count, window) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pmip: bench ha: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench {
            what: BenchWhat::Tunnel { seconds },
        } => match bench::tunnel(seconds) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pmip: bench tunnel: {e}");
                ExitCode::FAILURE
            }
        },
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
