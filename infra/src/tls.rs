//! A development certificate for loopback, generated once into the data directory.

use std::path::{Path, PathBuf};

/// Paths of the generated material: a local CA, and a server certificate it signed. Point
/// clients at `ca` (e.g. `REQUESTS_CA_BUNDLE`, `connection_verify=`, `curl --cacert`).
#[derive(Debug, Clone)]
pub struct DevCertificate {
    /// The CA certificate (PEM): what clients trust.
    pub ca: PathBuf,
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM, mode 0600).
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
pub fn ensure_dev_certificate(
    data_dir: &Path,
    login_server_suffix: &str,
) -> Result<DevCertificate, TlsError> {
    let dir = data_dir.join("tls");
    let paths = DevCertificate {
        ca: dir.join("dev-ca.pem"),
        cert: dir.join("dev-cert.pem"),
        key: dir.join("dev-key.pem"),
    };
    if paths.ca.exists() && paths.cert.exists() && paths.key.exists() {
        return Ok(paths);
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    // Owner-only like the rest of the data directory (whose 0700 keeps others out anyway).
    crate::files::prepare_private_dir(&dir).map_err(write_err(&dir))?;
    // A CA and a leaf it signs: rustls-based clients refuse a CA certificate used as the
    // server's own, so the two are kept apart. The CA's key is not kept.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Berth development CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;

    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![
        "localhost".to_owned(),
        format!("*.{login_server_suffix}"),
    ])?;
    params.subject_alt_names.push(rcgen::SanType::IpAddress(
        std::net::Ipv4Addr::LOCALHOST.into(),
    ));
    params.subject_alt_names.push(rcgen::SanType::IpAddress(
        std::net::Ipv6Addr::LOCALHOST.into(),
    ));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Berth development server");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca)?;
    crate::files::write_private(&paths.key, key.serialize_pem().as_bytes())
        .map_err(write_err(&paths.key))?;
    crate::files::write_private(
        &paths.cert,
        format!("{}{}", cert.pem(), ca.pem()).as_bytes(),
    )
    .map_err(write_err(&paths.cert))?;
    crate::files::write_private(&paths.ca, ca.pem().as_bytes()).map_err(write_err(&paths.ca))?;
    Ok(paths)
}
