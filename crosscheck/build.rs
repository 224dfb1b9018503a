//! Records the resolved `llama-cpp-2` / `llama-cpp-sys-2` versions (from Cargo.lock) so the
//! golden files can name the llama.cpp that produced them.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [
        ("llama-cpp-2", "LLAMA_CPP_2_VERSION"),
        ("llama-cpp-sys-2", "LLAMA_CPP_SYS_2_VERSION"),
    ] {
        let version = locked_version(&lock, krate).unwrap_or_else(|| "unknown".to_owned());
        println!("cargo:rustc-env={var}={version}");
    }
}

/// The `version = "..."` line following `name = "<krate>"` in a Cargo.lock.
fn locked_version(lock: &str, krate: &str) -> Option<String> {
    let name_line = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    lines.find(|l| l.trim() == name_line)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_owned())
}
