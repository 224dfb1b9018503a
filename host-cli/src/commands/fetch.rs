//! `edgellm fetch [NAME] [--force]`: obtain a registry model (see `registry.rs`).

use anyhow::{Result, bail};
use clap::Args;

use crate::fetch::{Fetched, Fetcher};
use crate::registry::{self, DEFAULT_MODEL};

// Arguments of `edgellm fetch` (help text on `Command::Fetch`).
#[derive(Debug, Args)]
#[command(after_help = registry_help())]
pub struct FetchArgs {
    /// Registry name of the model
    #[arg(value_name = "NAME", default_value = DEFAULT_MODEL)]
    pub name: String,

    /// Download again even if a verified copy is cached
    #[arg(long)]
    pub force: bool,

    /// List the registry and where each model is (or would be) cached, then exit
    #[arg(long, conflicts_with = "force")]
    pub list: bool,
}

fn registry_help() -> String {
    let mut s = String::from("Registry:\n");
    for m in registry::MODELS {
        let pkgs: Vec<String> = m.parts.iter().map(|p| p.requirement()).collect();
        s += &format!(
            "  {:<12} {}\n  {:<12} file {}, from {}\n",
            m.name,
            m.summary,
            "",
            m.file,
            pkgs.join(" + ")
        );
    }
    s
}

pub fn run(args: FetchArgs) -> Result<()> {
    let fetcher = Fetcher::from_env()?;
    if args.list {
        for m in registry::MODELS {
            let path = fetcher.path_of(m);
            let state = if fetcher.cached(m)?.is_some() {
                "cached"
            } else {
                "not fetched"
            };
            println!("{:<12} {:<12} {}", m.name, state, path.display());
        }
        return Ok(());
    }
    let Some(entry) = registry::lookup(&args.name) else {
        bail!(
            "{}: not a registry model name (known: {})",
            args.name,
            registry::names()
        );
    };
    match fetcher.fetch(entry, args.force)? {
        Fetched::AlreadyPresent(path) => {
            eprintln!("fetch: {} is cached and verified", entry.name);
            println!("{}", path.display());
        }
        Fetched::Downloaded(path) => println!("{}", path.display()),
    }
    Ok(())
}
