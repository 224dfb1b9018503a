//! A model file mapped privately into memory: the runtime parses GGUF straight from these
//! bytes, and weights stay in the page cache instead of being copied into the heap.
//!
//! The mapping is copy-on-write (`MAP_PRIVATE`): the loader may rewrite weight matrices in
//! place into an interleaved layout (`engine::load`); the pages it writes become private
//! memory of this process in place of the file's pages, never written back to the file, and
//! the pages it does not write stay shared with the page cache. Either way each byte of the
//! model is resident once.

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use memmap2::{MmapMut, MmapOptions};

/// An open, memory-mapped model file. Derefs to the whole file as `&[u8]`.
pub struct ModelFile {
    path: PathBuf,
    /// `None` for an empty file (a zero-length mapping is not portable).
    map: Option<MmapMut>,
}

impl ModelFile {
    /// Opens and maps `path`. Errors name the path. Anything but a regular file (a FIFO, a
    /// device, a directory) is refused before it is opened, so a FIFO cannot block `open`.
    pub fn open(path: &Path) -> Result<Self> {
        require_regular_file(path)?;
        let file = File::open(path).with_context(|| path.display().to_string())?;
        let meta = file
            .metadata()
            .with_context(|| path.display().to_string())?;
        anyhow::ensure!(meta.is_file(), "{}: not a regular file", path.display());
        let map = if meta.len() == 0 {
            None
        } else {
            sigbus::install(path);
            // SAFETY: the mapping is private (copy-on-write) to this process: our writes never
            // reach the file. Its unwritten pages could still change if another process
            // truncated or rewrote the file while it is mapped; edgellm never writes model
            // files in place (fetch writes a new file and renames it over the old one, which
            // leaves existing mappings intact), and the GGUF parser bounds-checks every read
            // against the length seen here.
            Some(
                unsafe { MmapOptions::new().map_copy(&file) }
                    .with_context(|| path.display().to_string())?,
            )
        };
        Ok(ModelFile {
            path: path.to_path_buf(),
            map,
        })
    }

    /// The mapped bytes, writable (copy-on-write: the file is never modified).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.map.as_deref_mut().unwrap_or(&mut [])
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name for display (the full path if it has none).
    pub fn display_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

impl Deref for ModelFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl fmt::Debug for ModelFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelFile")
            .field("path", &self.path)
            .field("len", &self.len())
            .finish()
    }
}

/// `path` must be a regular file (following symlinks). Checked with `stat`, which never
/// blocks, before anything opens it: opening a FIFO for reading waits for a writer forever.
pub fn require_regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| path.display().to_string())?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    anyhow::bail!("{}: not a regular file ({})", path.display(), kind(ft))
}

/// What a file that is not a regular file is, for messages.
#[cfg(unix)]
fn kind(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// A model file truncated or rewritten while mapped makes the next read of a vanished page
/// raise SIGBUS. Instead of dying from a bare signal, edgellm prints one line naming the file
/// and exits with status 1. (Reads cannot be resumed after such a fault, so ending the
/// process is the only safe answer; the line says why.)
#[cfg(unix)]
mod sigbus {
    use std::path::Path;
    use std::sync::OnceLock;

    /// The message, built before the handler can run (the handler may not allocate).
    static MESSAGE: OnceLock<Vec<u8>> = OnceLock::new();

    extern "C" fn on_sigbus(_: libc::c_int) {
        if let Some(m) = MESSAGE.get() {
            // SAFETY: write(2) and _exit(2) are async-signal-safe; `m` is a live, immutable
            // buffer (set once before the handler was installed, never freed).
            unsafe {
                libc::write(2, m.as_ptr().cast(), m.len());
            }
        }
        // SAFETY: _exit ends the process without running anything that could fault again.
        unsafe { libc::_exit(1) }
    }

    /// Install the handler for the mapping of `path` (the first mapped model file).
    pub fn install(path: &Path) {
        let message = format!(
            "error: {}: model file changed while in use (truncated or rewritten under edgellm)\n",
            path.display()
        );
        if MESSAGE.set(message.into_bytes()).is_err() {
            return; // already installed
        }
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler is
        // an `extern "C" fn(c_int)` as sa_handler expects, and it only calls
        // async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    }
}

#[cfg(not(unix))]
mod sigbus {
    pub fn install(_: &std::path::Path) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_contents_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        std::fs::write(&p, b"GGUF\x03\0\0\0").unwrap();
        let m = ModelFile::open(&p).unwrap();
        assert_eq!(&m[..], b"GGUF\x03\0\0\0");
        assert_eq!(m.display_name(), "m.gguf");
        std::fs::write(&p, b"").unwrap();
        assert!(ModelFile::open(&p).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_path() {
        let err = ModelFile::open(Path::new("/no/such/model.gguf")).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("/no/such/model.gguf: "),
            "{err:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = ModelFile::open(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains(&dir.path().display().to_string()));
        assert!(format!("{err:#}").ends_with("not a regular file (a directory)"));
        let err = ModelFile::open(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "/dev/zero: not a regular file (a character device)"
        );
    }
}
