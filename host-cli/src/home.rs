//! Where edgellm keeps its files: `$EDGELLM_HOME`, default `<user cache dir>/edgellm`
//! (`~/.cache/edgellm` on Linux). Models live in `$EDGELLM_HOME/models/`.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// `$EDGELLM_HOME` if set and non-empty, else the user's cache directory + `edgellm`.
pub fn edgellm_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("EDGELLM_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    dirs::cache_dir()
        .map(|d| d.join("edgellm"))
        .context("no user cache directory (HOME unset?); set EDGELLM_HOME")
}

/// `$EDGELLM_HOME/models`.
pub fn models_dir() -> Result<PathBuf> {
    Ok(edgellm_home()?.join("models"))
}
