//! A development certificate for loopback, generated once into the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Paths of the generated certificate and key. The certificate is its own CA: point
/// clients at `cert` (e.g. `REQUESTS_CA_BUNDLE`, `connection_verify=`).
#[derive(Debug, Clone)]
pub struct DevCertificate {
    /// Certificate (PEM); also the CA bundle.
    pub cert: PathBuf,
    /// Private key (PEM, mode 0600).
    pub key: PathBuf,
}

/// Why the certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating it failed.
    #[error("cannot generate the development certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// Writing it failed.
    #[error("cannot write the development certificate into {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Returns the development certificate in `data_dir/tls`, generating it when missing.
/// It is valid for `localhost`, `127.0.0.1`, `::1` and `*.<login_server_suffix>`.
///
/// # Errors
/// [`TlsError`] when generating or writing fails.
pub fn ensure_dev_certificate(data_dir: &Path, login_server_suffix: &str) -> Result<DevCertificate, TlsError> {
    let dir = data_dir.join("tls");
    let paths = DevCertificate { cert: dir.join("dev-cert.pem"), key: dir.join("dev-key.pem") };
    if paths.cert.exists() && paths.key.exists() {
        return Ok(paths);
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![
        "localhost".to_owned(),
        format!("*.{login_server_suffix}"),
    ])?;
    params.subject_alt_names.push(rcgen::SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params.subject_alt_names.push(rcgen::SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    params.distinguished_name.push(rcgen::DnType::CommonName, "Berth development certificate");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key)?;
    write_private(&paths.key, key.serialize_pem().as_bytes()).map_err(write_err(&paths.key))?;
    std::fs::write(&paths.cert, cert.pem()).map_err(write_err(&paths.cert))?;
    Ok(paths)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
