//! The `-m/--model MODEL` argument every model command shares: a registry name (fetched into
//! the cache on first use) or a path to a GGUF file.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use crate::fetch::Fetcher;
use crate::model_file::ModelFile;
use crate::registry::{self, DEFAULT_MODEL, ModelEntry};

/// What `-m` named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    Registry(&'static ModelEntry),
    Path(PathBuf),
}

impl ModelSpec {
    /// Registry names win; a file whose name equals a registry name is given as `./NAME`.
    pub fn parse(arg: &str) -> ModelSpec {
        match registry::lookup(arg) {
            Some(entry) => ModelSpec::Registry(entry),
            None => ModelSpec::Path(PathBuf::from(arg)),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ModelArg {
    /// Model to use: a path to a .gguf file, or a registry name (smollm2, gemma3-270m,
    /// qwen2.5-coder-0.5b) that is fetched into $EDGELLM_HOME/models on first use
    /// [default: smollm2]
    #[arg(
        short = 'm',
        long = "model",
        value_name = "MODEL",
        env = "EDGELLM_MODEL"
    )]
    pub model: Option<String>,
}

impl ModelArg {
    /// What the user asked for, with the default applied.
    pub fn spec(&self) -> ModelSpec {
        ModelSpec::parse(self.model.as_deref().unwrap_or(DEFAULT_MODEL))
    }

    /// The model's file on disk, fetching a registry model if it is not cached yet.
    pub fn resolve(&self) -> Result<PathBuf> {
        match self.spec() {
            ModelSpec::Registry(entry) => Ok(Fetcher::from_env()?.ensure(entry)?),
            ModelSpec::Path(path) => {
                if !path.exists() && looks_like_a_name(&path) {
                    bail!(
                        "{}: no such file, and not a registry model name (known: {})",
                        path.display(),
                        registry::names()
                    );
                }
                Ok(path)
            }
        }
    }

    /// Resolves and maps the model file.
    pub fn open(&self) -> Result<ModelFile> {
        ModelFile::open(&self.resolve()?)
    }
}

/// A bare word without directory or extension, e.g. a mistyped registry name.
fn looks_like_a_name(path: &Path) -> bool {
    path.components().count() == 1 && path.extension().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_and_paths() {
        assert!(
            matches!(ModelSpec::parse("smollm2"), ModelSpec::Registry(e) if e.name == "smollm2")
        );
        assert!(matches!(
            ModelSpec::parse("gemma3-270m"),
            ModelSpec::Registry(_)
        ));
        assert_eq!(
            ModelSpec::parse("./smollm2"),
            ModelSpec::Path("./smollm2".into())
        );
        assert_eq!(ModelSpec::parse("x.gguf"), ModelSpec::Path("x.gguf".into()));
        let default = ModelArg { model: None };
        assert!(matches!(default.spec(), ModelSpec::Registry(e) if e.name == DEFAULT_MODEL));
    }

    #[test]
    fn mistyped_name_gets_a_hint() {
        let err = ModelArg {
            model: Some("smolm2".into()),
        }
        .resolve()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("not a registry model name (known: smollm2"),
            "{err}"
        );
        // A missing path is returned as is; opening it reports the OS error.
        let p = ModelArg {
            model: Some("missing/x.gguf".into()),
        }
        .resolve()
        .unwrap();
        assert_eq!(p, PathBuf::from("missing/x.gguf"));
    }
}
