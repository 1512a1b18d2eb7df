//! A server's class path from Maven Central: `mvn dependency:copy-dependencies` of the pom kept in
//! `workshop/test-support/servers/<name>/pom.xml` into `target/test-servers/<name>/lib`, reused while the
//! pom is unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The directory of jars for server `name` (`kafka`, `cassandra`), fetched first if missing or
/// if its pom changed since the last fetch.
pub fn class_path(name: &str) -> anyhow::Result<PathBuf> {
    let pom = crate::stores::repository_root()
        .join("workshop/test-support/servers")
        .join(name)
        .join("pom.xml");
    let home = super::target_dir().join("test-servers").join(name);
    let lib = home.join("lib");
    let stamp = home.join("pom.installed");
    let wanted = std::fs::read(&pom).with_context(|| format!("cannot read {}", pom.display()))?;
    if lib.is_dir() && std::fs::read(&stamp).is_ok_and(|installed| installed == wanted) {
        return Ok(lib);
    }
    fetch(&pom, &lib)?;
    std::fs::write(&stamp, wanted)?;
    Ok(lib)
}

fn fetch(pom: &Path, lib: &Path) -> anyhow::Result<()> {
    if lib.exists() {
        std::fs::remove_dir_all(lib)?;
    }
    std::fs::create_dir_all(lib)?;
    eprintln!(
        "fetching {} from Maven Central into {}",
        pom.display(),
        lib.display()
    );
    let output = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(pom)
        .args([
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            "-DexcludeTransitive=false",
        ])
        .arg(format!("-DoutputDirectory={}", lib.display()))
        .output()
        .context("cannot run mvn: install Maven (apt-get install maven)")?;
    if !output.status.success() {
        bail!(
            "mvn dependency:copy-dependencies for {} failed:\n{}{}",
            pom.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The one jar in `lib` whose file name starts with `prefix` (the jamm agent, say).
pub fn jar(lib: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    std::fs::read_dir(lib)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".jar"))
        })
        .with_context(|| format!("no {prefix}*.jar in {}", lib.display()))
}
