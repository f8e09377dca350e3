//! Compiles the BPF programs (bpf/fastpath.bpf.c, the tunnel fast path;
//! bpf/isolation.bpf.c, the access point's visitor isolation) with clang.
//! Without clang (or when it fails) the build still succeeds: the crate
//! then reports "not built" at run time; the user-space data plane carries
//! every tunnelled packet and isolation falls back to classic BPF by tc.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Source, object, and the variable that tells the crate why it is
/// missing (empty when built).
const PROGRAMS: [(&str, &str, &str); 2] = [
    (
        "bpf/fastpath.bpf.c",
        "fastpath.bpf.o",
        "PMIP_FASTPATH_NOT_BUILT",
    ),
    (
        "bpf/isolation.bpf.c",
        "isolation.bpf.o",
        "PMIP_ISOLATION_NOT_BUILT",
    ),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (source, object, env) in PROGRAMS {
        println!("cargo:rerun-if-changed={source}");
        let object = out.join(object);
        match compile(source, &object) {
            Ok(()) => println!("cargo:rustc-env={env}="),
            Err(reason) => {
                // An empty object stands in; the reason is what the daemon logs.
                let _ = std::fs::write(&object, b"");
                println!("cargo:warning=pmip-fastpath: {source} not built: {reason}");
                println!("cargo:rustc-env={env}={reason}");
            }
        }
    }
}

fn compile(source: &str, object: &Path) -> Result<(), String> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let Some(path) = find(&clang) else {
        // Installing clang later adds it here: build again then.
        for dir in ["/usr/bin", "/usr/local/bin"] {
            if Path::new(dir).is_dir() {
                println!("cargo:rerun-if-changed={dir}");
            }
        }
        return Err(format!(
            "{clang} not found (install clang and libbpf-dev: scripts/deps)"
        ));
    };
    println!("cargo:rerun-if-changed={}", path.display());
    let mut cmd = Command::new(&path);
    cmd.args([
        "-O2", "-g", "-Wall", "-Werror", "-target", "bpf", "-c", source, "-o",
    ])
    .arg(object);
    // Debian keeps <asm/types.h>, which <linux/bpf.h> includes, under the
    // host's multiarch directory.
    if let Some(triple) = multiarch() {
        let dir = format!("/usr/include/{triple}");
        if Path::new(&dir).is_dir() {
            cmd.arg("-idirafter").arg(dir);
        }
    }
    let output = cmd
        .output()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or("failed");
        for line in stderr.lines() {
            println!("cargo:warning={line}");
        }
        return Err(format!("clang: {first}"));
    }
    Ok(())
}

/// `name` itself when it is a path, else the first match on PATH.
fn find(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn multiarch() -> Option<&'static str> {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").ok()?;
    Some(match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        "x86" => "i386-linux-gnu",
        _ => return None,
    })
}
