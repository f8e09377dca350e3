//! The `pmip` command line (docs/architecture.md).

use clap::{CommandFactory, Parser, Subcommand};
use pmip_device::control::{self, Request};
use std::path::PathBuf;
use std::process::ExitCode;

mod bench;
mod console;

use pmip_lab as lab;

#[derive(Parser)]
#[command(
    name = "pmip",
    version,
    about = "Proxy Mobile IPv4: home agent, foreign agent and proxy Mobile IP access point",
    long_about = "Proxy Mobile IPv4: home agent, foreign agent and proxy Mobile IP access point.\n\n\
        Each device of a campus (an IOS router with `router mobile`, an Aironet AP with \
        `ip proxy-mobile`) is one `pmip run` daemon configured in the IOS command language. \
        `pmip exec` and `pmip console` talk to a running device; `pmip lab` builds a campus \
        in network namespaces.",
    after_long_help = "Files:\n\n\
        /etc/pmip/NAME.conf: a device's configuration; the unit pmip@NAME.service runs it.\n\n\
        /run/pmip/NAME.sock: its control socket.\n\n\
        /var/lib/pmip/NAME.state: what it keeps across restarts.\n\n\
        /usr/share/doc/pmip/examples/: home agent, foreign agent, AP and AAP configurations."
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
        /// The state kept across restarts (default: beside the control
        /// socket, NAME.state; /var/lib/pmip/<hostname>.state with the
        /// default socket).
        #[arg(long)]
        state: Option<PathBuf>,
        /// An access point's associations from hostapd: the control socket of
        /// the radio interface its stations use (e.g. /var/run/hostapd/Dot11Radio0;
        /// the interface joins BVI1). Repeat for several radios. Without it,
        /// the emulated radio of the lab (docs/radio.md).
        #[arg(long, value_name = "SOCKET")]
        hostapd: Vec<PathBuf>,
        /// Carry every tunnelled packet in user space: no eBPF fast path
        /// (the same as PMIP_FASTPATH=off; docs/fast-path.md).
        #[arg(long)]
        no_fastpath: bool,
        /// Each reply waits until the state it depends on (a binding, a
        /// visitor) is on the disk. By default it is in the state log, which
        /// survives the daemon being killed, and on the disk within 100 ms
        /// (a power cut may lose the last 100 ms); waiting costs a disk flush
        /// per reply, 2-4 ms on a virtual disk.
        #[arg(long)]
        state_sync: bool,
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
    /// Print a running device's debug trace as it comes, until Ctrl-C.
    ///
    /// Turn tracing on first with `pmip exec debug ip mobile` (or `debug ip mobile
    /// advertise`, `debug ip mobile host ADDR`, `debug ip proxy-mobile`); `pmip exec
    /// undebug all` turns it off. A reader that falls more than 1024 lines behind is
    /// dropped (exit status 1); the device never waits for it.
    Debug {
        /// The device's control socket (default: the only socket in /run/pmip).
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Interactive EXEC session on a running device (prompt, history, Tab completion).
    ///
    /// The prompt is the device's hostname (`r1#`). `configure terminal` enters
    /// configuration mode (`r1(config)#`), where each line is applied as `configure LINE`
    /// and `end`, `exit` or Ctrl-Z leave it; `?` lists what may follow; `do COMMAND` runs
    /// an EXEC command from configuration mode. Lines may also be piped in: a transcript
    /// is printed, and the exit status is 1 if any line was refused. Lines over 4096
    /// bytes, not UTF-8 or with control characters are refused.
    Console {
        /// The device's control socket (default: the only socket in /run/pmip).
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Write the manual pages (pmip.1, pmip-run.1, ...) into DIR, for packaging.
    #[command(hide = true)]
    Man {
        /// Where the pages go (created if missing).
        dir: PathBuf,
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

/// Home addresses in the benches' range, 10.16.0.2 to 10.31.255.254.
const BENCH_HOSTS: i64 = 0x1f_fffd;

#[derive(Subcommand)]
enum BenchWhat {
    /// Registrations/s accepted by the home agent daemon vs a bare UDP echo, the CPU each took by thread, and memory per binding.
    Ha {
        /// Registrations to send (distinct home addresses, as many as the bench's home range 10.16.0.2-10.31.255.254 holds).
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=BENCH_HOSTS))]
        count: u32,
        /// Requests outstanding at once.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
        window: u32,
    },
    /// Registrations/s with SAs from FreeRADIUS: every one a RADIUS round trip vs cached (aaa load-sa) vs local.
    Aaa {
        /// Home addresses registered in each mode.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=BENCH_HOSTS))]
        count: u32,
        /// Requests outstanding at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
        window: u32,
    },
    /// The product's share of a handoff for a receive-only client, on the keyed campus and the walkthrough's (IP-in-IP, GRE, reverse tunnel), apart from the emulated radio's cost.
    Handoff {
        /// Roams per campus.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        roams: u32,
    },
    /// TCP throughput through the home agent tunnel vs plain kernel routing.
    Tunnel {
        /// Seconds per iperf3 run (iperf3 would take 0 as "forever").
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=3600))]
        seconds: u32,
    },
}

#[derive(Subcommand)]
enum LabAction {
    /// Build the campus (default: 3 subnets, 2 AAPs, one client) and start its devices.
    Up {
        /// A topology file (see the one `pmip lab up` writes into the lab directory).
        topology: Option<PathBuf>,
        /// Where the topology, device configurations, logs and sockets go.
        #[arg(long, default_value = lab::campus::DEFAULT_DIR)]
        dir: PathBuf,
        /// Use device configurations already in the directory (edited by you) as they are.
        #[arg(long)]
        keep_configs: bool,
    },
    /// Move a client's radio port to another AP (a roam).
    Roam {
        client: String,
        ap: String,
        #[arg(long, default_value = lab::campus::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Stop one device's daemon (its namespace and links stay).
    Stop {
        device: String,
        #[arg(long, default_value = lab::campus::DEFAULT_DIR)]
        dir: PathBuf,
        /// Kill it (SIGKILL, as a crash or a power cut) instead of a
        /// clean stop.
        #[arg(long)]
        kill: bool,
    },
    /// Start a stopped device again (a reboot).
    Start {
        device: String,
        #[arg(long, default_value = lab::campus::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// The devices, where each client is, the binding and visitor tables.
    Status {
        #[arg(long, default_value = lab::campus::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Stop every device and remove every namespace of the lab (also a half-built one).
    Down {
        #[arg(long, default_value = lab::campus::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Build the campus, roam a client home -> foreign -> foreign -> home with a TCP
    /// transfer and a ping running, print the timeline, plot throughput, tear down.
    Demo {
        topology: Option<PathBuf>,
        #[arg(long, default_value = lab::campus::DEFAULT_DIR)]
        dir: PathBuf,
        /// Roams to make (cycling home -> each foreign AP -> home); the median is printed.
        #[arg(long, default_value_t = 3)]
        roams: usize,
        /// Seconds on each AP.
        #[arg(long, default_value_t = 4.0)]
        dwell: f64,
        /// Rate of the TCP transfer, Mbit/s.
        #[arg(long, default_value_t = 40)]
        rate: u32,
        /// Leave the lab up afterwards (`pmip lab down` removes it).
        #[arg(long)]
        keep: bool,
        /// The client to roam (default: the first that talks; a
        /// `receive-only` one gets its traffic from the correspondent).
        #[arg(long)]
        client: Option<String>,
    },
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
            let mut out = r.output.unwrap_or_default();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            // A reader that stops early (`| head`) ends the output, not
            // the command: a closed pipe is not an error here.
            use std::io::Write;
            match std::io::stdout().lock().write_all(out.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("pmip: {e}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
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

/// `pmip debug`: each trace line on stdout as it comes.
fn follow_debug(control_path: Option<PathBuf>) -> ExitCode {
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
    use std::io::Write;
    let result = rt.block_on(control::follow_debug(&path, |line| {
        let mut out = std::io::stdout().lock();
        // A reader that stops (`| head`) ends the following quietly.
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pmip: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: PathBuf, options: pmip_device::daemon::RunOptions) -> ExitCode {
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
    // The daemon's loop runs as a task on a worker thread, not on this
    // thread: a worker that waits in epoll runs the task its event woke
    // itself, where `block_on` here took a second wake-up (worker, then
    // this thread) for every datagram.
    let daemon = rt.spawn(async move { pmip_device::daemon::run_with(&config, options).await });
    let result = match rt.block_on(daemon) {
        Ok(r) => r,
        Err(e) => Err(pmip_device::daemon::DaemonError::Io(std::io::Error::other(
            e,
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pmip: {e}");
            ExitCode::from(2)
        }
    }
}

/// A manual page for `cmd` and each of its visible subcommands
/// (pmip.1, pmip-run.1, pmip-lab-up.1, ...).
fn write_man(cmd: &clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man(sub, dir)?;
    }
    clap_mangen::Man::new(cmd.clone())
        .source(concat!("pmip ", env!("CARGO_PKG_VERSION")))
        .manual("pmip manual")
        .generate_to(dir)
        .map(drop)
}

/// The topology of `pmip lab up|demo [FILE]`: the file, or the default campus.
fn topology(file: Option<PathBuf>) -> Result<lab::Topology, String> {
    match file {
        None => Ok(lab::Topology::default_campus()),
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            lab::Topology::parse(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
    }
}

/// Tears the lab down on Ctrl-C or SIGTERM, then exits.
fn down_on_signal(l: &lab::Lab) {
    let l = l.clone();
    let _ = ctrlc::set_handler(move || {
        eprintln!("pmip: lab: interrupted; tearing down");
        lab::campus::down(&l);
        std::process::exit(130);
    });
}

fn lab_command(action: LabAction) -> Result<ExitCode, String> {
    let pmip = std::env::current_exe().map_err(|e| e.to_string())?;
    match action {
        LabAction::Up {
            topology: file,
            dir,
            keep_configs,
        } => {
            let t = topology(file)?;
            let l = lab::campus::write_files(&dir, &t, keep_configs)?;
            down_on_signal(&l);
            lab::campus::up(&l, &pmip)?;
            println!(
                "lab {} is up: {} subnets, {} clients; topology, configurations and logs in {}",
                t.name,
                t.subnets.len(),
                t.clients.len(),
                dir.display()
            );
            println!(
                "next: pmip lab status | pmip lab roam {} {} | pmip lab down",
                t.clients.first().map_or("CLIENT", |c| c.name.as_str()),
                t.subnets.get(1).map_or("AP".into(), |s| s.ap())
            );
            Ok(ExitCode::SUCCESS)
        }
        LabAction::Roam { client, ap, dir } => {
            let l = lab::Lab::open(&dir)?;
            let took = lab::campus::roam(&l, &client, &ap)?;
            println!(
                "{client} associated with {ap} ({} ms to move the radio port)",
                took.as_millis()
            );
            Ok(ExitCode::SUCCESS)
        }
        LabAction::Stop { device, dir, kill } => {
            let l = lab::Lab::open(&dir)?;
            if kill {
                lab::campus::kill(&l, &device)?;
                println!("{device} killed");
            } else {
                lab::campus::stop(&l, &device)?;
                println!("{device} stopped");
            }
            Ok(ExitCode::SUCCESS)
        }
        LabAction::Start { device, dir } => {
            let l = lab::Lab::open(&dir)?;
            lab::campus::start(&l, &pmip, &device)?;
            println!("{device} started");
            Ok(ExitCode::SUCCESS)
        }
        LabAction::Status { dir } => {
            let l = lab::Lab::open(&dir)?;
            print!("{}", lab::campus::status(&l));
            Ok(ExitCode::SUCCESS)
        }
        LabAction::Down { dir } => {
            let removed = match lab::Lab::open(&dir) {
                Ok(l) => lab::campus::down(&l),
                // A topology that no longer parses still names its lab;
                // with none, the default campus.
                Err(_) => {
                    let prefix = std::fs::read_to_string(dir.join("topology"))
                        .ok()
                        .and_then(|t| lab::Topology::prefix_of_text(&t))
                        .unwrap_or_else(|| lab::Topology::default_campus().prefix());
                    lab::campus::down_prefix(&prefix)
                }
            };
            println!("lab down: {} namespaces removed", removed.len());
            Ok(ExitCode::SUCCESS)
        }
        LabAction::Demo {
            topology: file,
            dir,
            roams,
            dwell,
            rate,
            keep,
            client,
        } => {
            let t = topology(file)?;
            let l = lab::campus::write_files(&dir, &t, false)?;
            down_on_signal(&l);
            println!(
                "building the campus in network namespaces ({}*) ...",
                t.prefix()
            );
            lab::campus::up(&l, &pmip)?;
            let opts = lab::demo::Options {
                roams: roams.max(1),
                dwell: std::time::Duration::from_secs_f64(dwell.clamp(1.0, 600.0)),
                rate_mbit: rate,
                client,
            };
            let result = lab::demo::run(&l, &opts, &mut std::io::stdout());
            if keep {
                println!(
                    "the lab stays up (pmip lab status; pmip lab down --dir {})",
                    dir.display()
                );
            } else {
                let n = lab::campus::down(&l).len();
                println!("lab down: {n} namespaces removed");
            }
            let report = result?;
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run {
            config,
            control,
            state,
            hostapd,
            no_fastpath,
            state_sync,
        } => {
            if no_fastpath {
                // SAFETY: still single-threaded: no runtime, no other
                // thread reads the environment yet.
                unsafe { std::env::set_var("PMIP_FASTPATH", "off") };
            }
            run(
                config,
                pmip_device::daemon::RunOptions {
                    control,
                    state,
                    hostapd,
                    state_sync,
                },
            )
        }
        Command::Exec {
            control,
            json,
            words,
        } => exec(control, json, words),
        Command::Debug { control } => follow_debug(control),
        Command::Console { control } => match find_control(control) {
            Ok(path) => console::run(path),
            Err(e) => {
                eprintln!("pmip: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Man { dir } => {
            let written = std::fs::create_dir_all(&dir).and_then(|()| {
                // As clap_mangen::generate_to, with the version on every page.
                let mut cmd = Cli::command().disable_help_subcommand(true);
                cmd.build();
                write_man(&cmd, &dir)
            });
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pmip: man: {}: {e}", dir.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Bench { what } => {
            let (name, result) = match what {
                BenchWhat::Ha { count, window } => ("ha", bench::home_agent(count, window)),
                BenchWhat::Aaa { count, window } => ("aaa", bench::aaa(count, window)),
                BenchWhat::Handoff { roams } => ("handoff", bench::handoff(roams)),
                BenchWhat::Tunnel { seconds } => ("tunnel", bench::tunnel(seconds)),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pmip: bench {name}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Lab { action } => match lab_command(action) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("pmip: lab: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts a bench cannot run with are refused before anything is
    /// built: no registrations, an empty window, more home addresses than
    /// the range holds, and iperf3's "0 seconds" (which means forever).
    #[test]
    fn bench_counts_out_of_range_are_refused() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["pmip", "bench"], args].concat());
        for bad in [
            &["ha", "--count", "0"][..],
            &["ha", "--window", "0"],
            &["ha", "--count", "2097150"],
            &["aaa", "--count", "0"],
            &["aaa", "--window", "0"],
            &["handoff", "--roams", "0"],
            &["tunnel", "--seconds", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            &["ha"][..],
            &["ha", "--count", "2097149", "--window", "1"],
            &["aaa", "--count", "1"],
            &["tunnel", "--seconds", "1"],
        ] {
            assert!(parse(good).is_ok(), "{good:?} refused");
        }
    }
}
