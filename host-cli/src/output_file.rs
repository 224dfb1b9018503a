//! Writing output files safely: what an output path may be, and temporary files that never
//! outlive the process, even when it is interrupted.
//!
//! Every command that writes a file (`quantize OUT`, `perplexity --save-logits OUT`) writes
//! a temporary file next to OUT and renames it into place when complete. Before that:
//! - an existing OUT must be a regular file: a FIFO, device node or directory is refused,
//!   never replaced by a regular file (which, as root, would destroy `/dev/null`);
//! - OUT must not be one of the inputs (same device and inode, whatever the path), which
//!   would replace the file being read.
//!
//! The temporary file is removed on every error path (`tempfile` deletes it on drop) and,
//! through [`register_temp`], on SIGINT, SIGTERM and SIGHUP: the handler removes every
//! registered file and exits with status 130.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use anyhow::{Result, bail};

/// Temporary files to remove if the process is interrupted.
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// Refuse `out` if it exists and is not a regular file, or is the same file as an input.
pub fn check_output(out: &Path, inputs: &[&Path]) -> Result<()> {
    let meta = match std::fs::metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => bail!("{}: {e}", out.display()),
    };
    if !meta.is_file() {
        crate::model_file::require_regular_file(out)?;
    }
    for input in inputs {
        if same_file(out, input) {
            bail!(
                "{}: is the same file as the input {} (write the output elsewhere)",
                out.display(),
                input.display()
            );
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Remove `path` if the process is interrupted before [`TempGuard`] is dropped (after the
/// file was renamed into place or deleted).
pub fn register_temp(path: &Path) -> TempGuard {
    HANDLER.call_once(|| {
        // If a handler cannot be installed (another one exists), an interrupt simply ends
        // the process as before; the files are then left, as without this module.
        let _ = ctrlc::set_handler(|| {
            if let Ok(temps) = TEMPS.lock() {
                for p in temps.iter() {
                    let _ = std::fs::remove_file(p);
                }
            }
            eprintln!("\ninterrupted: temporary files removed");
            std::process::exit(130);
        });
    });
    if let Ok(mut temps) = TEMPS.lock() {
        temps.push(path.to_path_buf());
    }
    TempGuard(path.to_path_buf())
}

/// Unregisters its path when dropped.
pub struct TempGuard(PathBuf);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Ok(mut temps) = TEMPS.lock() {
            temps.retain(|p| p != &self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_are_not_regular_files_or_are_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"x").unwrap();
        check_output(&b, &[&a]).unwrap();
        check_output(&a, &[&b]).unwrap();
        let e = check_output(&a, &[&a]).unwrap_err().to_string();
        assert!(e.contains("same file as the input"), "{e}");
        // Another path to the same file.
        let alias = dir.path().join(".").join("a");
        assert!(check_output(&alias, &[&a]).is_err());
        let e = check_output(Path::new("/dev/null"), &[&a])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "/dev/null: not a regular file (a character device)");
        let e = check_output(dir.path(), &[&a]).unwrap_err().to_string();
        assert!(e.ends_with("(a directory)"), "{e}");
    }
}
