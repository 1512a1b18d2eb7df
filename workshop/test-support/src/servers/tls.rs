//! Certificates made at test time with the `openssl` command: a CA, and a server certificate it
//! signed for the loopback addresses, also as a PKCS#12 key store for the JVM servers.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

#[derive(Clone, Debug)]
pub struct Certificates {
    /// The CA's certificate (PEM): what a client trusts.
    pub ca_file: PathBuf,
    /// The server's key and certificate (PKCS#12), for Kafka's and Cassandra's key stores.
    pub keystore: PathBuf,
    pub keystore_password: String,
}

fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .context("cannot run openssl (apt-get install openssl)")?;
    if !output.status.success() {
        bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A self-signed CA named `name` in `dir` (`<name>.pem`, `<name>.key`), valid two days.
pub fn make_ca(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &pem,
        ],
    )?;
    Ok(dir.join(pem))
}

/// A CA and a server certificate for 127.0.0.1–3 and localhost in `dir`, made once per
/// directory and reused.
pub fn make(dir: &Path) -> anyhow::Result<Certificates> {
    let certificates = Certificates {
        ca_file: dir.join("ca.pem"),
        keystore: dir.join("server.p12"),
        keystore_password: "test-keystore-password".to_string(),
    };
    if certificates.keystore.exists() && certificates.ca_file.exists() {
        return Ok(certificates);
    }
    make_ca(dir, "ca")?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,DNS:localhost\n",
    )?;
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    )?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    )?;
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "server.pem",
            "-inkey",
            "server.key",
            "-name",
            "server",
            "-out",
            "server.p12",
            "-passout",
            &format!("pass:{}", certificates.keystore_password),
        ],
    )?;
    Ok(certificates)
}
