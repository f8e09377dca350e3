//! `write memory`: the running configuration becomes the file the
//! device starts from, written so that a crash or a full disk never
//! leaves a half-written file: a new file beside it, flushed to disk,
//! renamed over the old one, whose previous version stays as
//! `FILE.bak`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `text` to `path` atomically (mode 0600: it holds keys); the
/// reason when it cannot, with `path` untouched.
pub fn write_config(path: &Path, text: &str) -> Result<(), String> {
    let shown = path.display();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.new", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{shown}: {e}"));
    }
    if path.exists() {
        let mut bak = path.as_os_str().to_owned();
        bak.push(".bak");
        if let Err(e) = std::fs::copy(path, &bak) {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("{shown}: keeping the previous version: {e}"));
        }
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{shown}: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pmip-save-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replaces_the_file_and_keeps_the_previous_one() {
        let d = dir("ok");
        let f = d.join("r1.cfg");
        std::fs::write(&f, "hostname old\n").unwrap();
        write_config(&f, "hostname new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "hostname new\n");
        let bak = d.join("r1.cfg.bak");
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "hostname old\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_save_that_cannot_be_written_leaves_the_file_intact() {
        let d = dir("ro");
        // A path under a regular file cannot be created, root or not.
        let blocker = d.join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let f = blocker.join("r1.cfg");
        let e = write_config(&f, "hostname new\n").unwrap_err();
        assert!(e.contains("r1.cfg"), "{e}");
        // A file we cannot rename over: a directory in its place.
        let g = d.join("dir.cfg");
        std::fs::create_dir(&g).unwrap();
        assert!(write_config(&g, "hostname new\n").is_err());
        assert!(g.is_dir());
        let left: Vec<_> = std::fs::read_dir(&d).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file left behind");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
