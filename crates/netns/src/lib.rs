//! Network namespaces for tests and the lab, built with iproute2 and
//! removed when their guard drops (also when a test panics), with every
//! process started in them killed first. Nothing here runs a daemon in the
//! root namespace: [`Netns::spawn`] and [`Netns::run`] enter the namespace.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A network namespace that exists for the guard's lifetime.
pub struct Netns {
    name: String,
    children: Vec<Child>,
}

fn ip(args: &[&str]) -> io::Result<Output> {
    Command::new("ip").args(args).stdin(Stdio::null()).output()
}

fn check(out: io::Result<Output>, what: &str) -> io::Result<Output> {
    let out = out?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A short unique namespace name: `prefix` plus process id and a counter,
/// so parallel tests never collide.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Netns {
    /// Creates namespace `name` with loopback up. Fails if it exists.
    pub fn new(name: &str) -> io::Result<Netns> {
        check(ip(&["netns", "add", name]), "ip netns add")?;
        let ns = Netns {
            name: name.to_owned(),
            children: Vec::new(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip ARGS` inside the namespace and fails on a non-zero exit.
    pub fn ip(&self, args: &[&str]) -> io::Result<Output> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        check(
            ip(&full),
            &format!("ip -n {} {}", self.name, args.join(" ")),
        )
    }

    /// Runs a command inside the namespace to completion.
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
    }

    /// Like [`Netns::exec`] but fails on a non-zero exit.
    pub fn exec_ok(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        check(
            self.exec(program, args),
            &format!("{program} {}", args.join(" ")),
        )
    }

    /// Starts a long-running command inside the namespace; it is killed
    /// when the guard drops.
    pub fn spawn(
        &mut self,
        program: &str,
        args: &[&str],
        stdout: Stdio,
        stderr: Stdio,
    ) -> io::Result<u32> {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// Starts `f` on a new thread that has entered the namespace. Only
    /// that thread changes namespace (and the processes it forks), so the
    /// calling process stays where it was.
    pub fn thread<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> io::Result<std::thread::JoinHandle<io::Result<R>>> {
        thread_in(&self.name, f)
    }

    /// Runs `f` on a thread inside the namespace and returns its result;
    /// a panic in `f` is passed on.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> io::Result<R> {
        match self.thread(f)?.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Connects this namespace to `other` with a veth pair named `here`
    /// (in self) and `there` (in other), both up.
    pub fn veth_to(&self, here: &str, other: &Netns, there: &str) -> io::Result<()> {
        check(
            ip(&[
                "link",
                "add",
                here,
                "netns",
                &self.name,
                "type",
                "veth",
                "peer",
                "name",
                there,
                "netns",
                &other.name,
            ]),
            "ip link add veth",
        )?;
        self.ip(&["link", "set", here, "up"])?;
        other.ip(&["link", "set", there, "up"])?;
        Ok(())
    }

    /// The link-layer address of interface `dev` in this namespace.
    pub fn mac(&self, dev: &str) -> io::Result<[u8; 6]> {
        let out = self.exec_ok("cat", &[&format!("/sys/class/net/{dev}/address")])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut m = [0u8; 6];
        let mut parts = text.trim().split(':');
        for b in &mut m {
            *b = parts
                .next()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| io::Error::other(format!("{dev}: no MAC in {text:?}")))?;
        }
        Ok(m)
    }

    /// Adds `addr/len` to `dev` in this namespace.
    pub fn addr(&self, dev: &str, cidr: &str) -> io::Result<()> {
        self.ip(&["addr", "add", cidr, "dev", dev]).map(drop)
    }

    /// Makes this namespace an unmodified host away from home on `dev`:
    /// it keeps its `home` address (as a /32) and reaches everything
    /// through the foreign agent at `router`, its router on the visited
    /// link (RFC 5944 4.2.2), on-link whatever its own prefix.
    pub fn away_from_home(&self, dev: &str, home: &str, router: &str) -> io::Result<()> {
        self.addr(dev, &format!("{home}/32"))?;
        self.ip(&[
            "route", "add", "default", "via", router, "dev", dev, "onlink",
        ])
        .map(drop)
    }

    /// Writes a sysctl inside the namespace (`net.ipv4.ip_forward=1`).
    pub fn sysctl(&self, key_value: &str) -> io::Result<()> {
        self.exec_ok("sysctl", &["-q", "-w", key_value]).map(drop)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Anything else still in the namespace (a daemon's own children).
        if let Ok(out) = ip(&["netns", "pids", &self.name]) {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: plain kill(2).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Starts `f` on a new thread inside the existing namespace `name` (one
/// this process does not own, such as a lab's): only that thread moves.
pub fn thread_in<R: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> io::Result<std::thread::JoinHandle<io::Result<R>>> {
    let file = File::open(format!("/run/netns/{name}"))?;
    Ok(std::thread::spawn(move || -> io::Result<R> {
        // SAFETY: setns on this thread only, with a descriptor we own.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(f())
    }))
}

/// All namespaces whose names start with `prefix` (to check nothing leaked).
pub fn list(prefix: &str) -> Vec<String> {
    ip(&["netns", "list"])
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| n.starts_with(prefix))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_removed_on_drop_even_after_a_panic() {
        let name = unique_name("pmipt-nsd");
        let r = std::panic::catch_unwind(|| {
            let mut ns = Netns::new(&name).unwrap();
            ns.spawn("sleep", &["60"], Stdio::null(), Stdio::null())
                .unwrap();
            assert_eq!(list(&name), vec![name.clone()]);
            panic!("test failure inside");
        });
        assert!(r.is_err());
        assert!(list(&name).is_empty(), "namespace removed");
    }

    #[test]
    fn veth_and_run_inside() {
        let a = Netns::new(&unique_name("pmipt-a")).unwrap();
        let b = Netns::new(&unique_name("pmipt-b")).unwrap();
        a.veth_to("va", &b, "vb").unwrap();
        a.addr("va", "192.0.2.1/24").unwrap();
        b.addr("vb", "192.0.2.2/24").unwrap();
        a.exec_ok("ping", &["-c1", "-W2", "192.0.2.2"]).unwrap();
        // /proc/thread-self/net shows the calling thread's namespace.
        let links = a
            .run(|| std::fs::read_to_string("/proc/thread-self/net/dev").unwrap())
            .unwrap();
        let names: Vec<&str> = links
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(
            names.len(),
            2,
            "lo and va are all the thread sees inside: {names:?}"
        );
        assert!(names.contains(&"va"));
    }
}
