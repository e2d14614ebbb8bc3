//! Real data-plane components for the tests: Debian's `docker-registry` (Distribution 2.8)
//! with token auth pointing at `berthd`, and `skopeo` to push and pull through it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A running registry; stopped when dropped.
#[derive(Debug)]
pub struct DockerRegistry {
    /// `127.0.0.1:<port>`.
    pub address: String,
    _dir: tempfile::TempDir,
    _child: Child,
}

/// A free loopback port, for a server started later (berthd, notary-server,
/// docker-registry).
///
/// It is picked below the kernel's ephemeral range: a port from that range (what binding
/// port 0 gives) is also the local side of every outgoing connection, and the tests open
/// many, so one of them could take the port between this pick and the server's bind.
#[must_use]
pub fn free_port() -> u16 {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low: u16 = 10_000;
    if let Some(span) = ephemeral_start.checked_sub(low).filter(|s| *s >= 1000) {
        for _ in 0..100 {
            let offset = uuid::Uuid::new_v4().as_u128() % u128::from(span);
            let port = low + u16::try_from(offset).unwrap_or(0);
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Fails with how to install `package` unless `binary` is on the PATH.
pub(crate) fn require(binary: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(binary).is_file()));
    assert!(
        found,
        "`{binary}` is not installed: run ./scripts/test, which installs it, or `apt-get install {package}`"
    );
}

/// Where and how a test registry listens.
#[derive(Debug, Clone, Copy, Default)]
struct Place<'a> {
    /// Its port (a free one when `None`).
    port: Option<u16>,
    /// HTTPS, when set.
    tls: Option<RegistryTls<'a>>,
    /// `http.relativeurls`: `Location` headers without the registry's own address.
    relative_urls: bool,
}

/// HTTPS for a registry: the port it listens on, the certificate and key it serves, and
/// the CA that signed them (to wait for it).
#[derive(Debug, Clone, Copy)]
pub struct RegistryTls<'a> {
    /// The loopback port.
    pub port: u16,
    /// The certificate chain (PEM).
    pub cert: &'a Path,
    /// Its key (PEM).
    pub key: &'a Path,
    /// The CA that signed it (PEM).
    pub ca: &'a Path,
}

impl DockerRegistry {
    /// Starts a registry whose token auth trusts `berthd` at `realm_base`, for the registry
    /// with login server `service`, tokens issued by `issuer` and signed by a key of the
    /// `bundle` certificates.
    ///
    /// # Panics
    /// When the registry is missing or does not start.
    pub async fn start(realm_base: &str, service: &str, issuer: &str, bundle: &Path) -> Self {
        Self::launch(realm_base, service, issuer, bundle, Place::default()).await
    }

    /// [`DockerRegistry::start`] serving HTTPS, as clients such as `az acr login` require.
    ///
    /// # Panics
    /// When the registry is missing or does not start.
    pub async fn start_tls(
        realm_base: &str,
        service: &str,
        issuer: &str,
        bundle: &Path,
        tls: RegistryTls<'_>,
    ) -> Self {
        let place = Place {
            port: Some(tls.port),
            tls: Some(tls),
            relative_urls: false,
        };
        Self::launch(realm_base, service, issuer, bundle, place).await
    }

    /// A registry on `127.0.0.1:<port>` (plain HTTP, relative URLs) behind Berth's login
    /// servers, as `BERTH_REGISTRY_BACKEND=http://127.0.0.1:<port>` names it: it takes only
    /// tokens berthd mints for `service`. It may start after berthd, which writes `bundle`.
    ///
    /// # Panics
    /// When it does not start.
    pub async fn start_backend(port: u16, service: &str, issuer: &str, bundle: &Path) -> Self {
        let place = Place {
            port: Some(port),
            tls: None,
            relative_urls: true,
        };
        Self::launch("https://berth.invalid", service, issuer, bundle, place).await
    }

    async fn launch(
        realm_base: &str,
        service: &str,
        issuer: &str,
        bundle: &Path,
        place: Place<'_>,
    ) -> Self {
        let tls = place.tls;
        require("docker-registry", "docker-registry");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let address = format!("127.0.0.1:{}", place.port.unwrap_or_else(free_port));
        let config = dir.path().join("config.yml");
        let https = tls.map_or_else(String::new, |t| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.cert.display(),
                t.key.display()
            )
        });
        let yaml = format!(
            "version: 0.1\nlog: {{ level: warn }}\nstorage:\n  filesystem: {{ rootdirectory: {data} }}\n  delete: {{ enabled: true }}\n\
             http:\n  addr: {address}\n  secret: berth-tests\n  relativeurls: {relative}\n{https}auth:\n  token:\n    realm: {realm_base}/oauth2/token\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {bundle}\n",
            data = dir.path().join("data").display(),
            bundle = bundle.display(),
            relative = place.relative_urls,
        );
        std::fs::write(&config, yaml).unwrap_or_else(|e| panic!("cannot write the config: {e}"));
        let log_path = dir.path().join("registry.log");
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create the registry's log: {e}"));
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}"));
        let mut client = reqwest::Client::builder();
        if let Some(t) = tls {
            let pem = std::fs::read(t.ca).unwrap_or_else(|e| panic!("cannot read the CA: {e}"));
            client = client.add_root_certificate(
                reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("bad CA: {e}")),
            );
        }
        let client = client
            .build()
            .unwrap_or_else(|e| panic!("cannot build a client: {e}"));
        let scheme = if tls.is_some() { "https" } else { "http" };
        // Up to 30 s: on a machine running the whole suite, a start can take a while.
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{scheme}://{address}/v2/")).send().await
                && r.status() == reqwest::StatusCode::UNAUTHORIZED
            {
                return Self {
                    address,
                    _dir: dir,
                    _child: child,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "docker-registry exited ({status}) instead of serving on {address}:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "docker-registry did not answer on {address} within 30 s:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }
}

/// Writes a tiny OCI image layout (one layer, a config, a manifest) to `dir`.
///
/// # Panics
/// When the files cannot be written.
pub fn oci_layout(dir: &Path, tag: &str) -> PathBuf {
    let sha = |bytes: &[u8]| {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("cannot write the layout: {e}"));
    let write = |bytes: &[u8]| {
        let digest = sha(bytes);
        std::fs::write(blobs.join(&digest), bytes)
            .unwrap_or_else(|e| panic!("cannot write a blob: {e}"));
        (format!("sha256:{digest}"), bytes.len())
    };
    let layer = write(format!("berth test layer {}", uuid::Uuid::new_v4()).as_bytes());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.0]}, "config": {}
    });
    let config = write(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.0, "size": layer.1}]
    });
    let manifest = write(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest.0,
            "size": manifest.1, "annotations": {"org.opencontainers.image.ref.name": tag}}]
    });
    std::fs::write(dir.join("index.json"), index.to_string())
        .and_then(|()| std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#))
        .unwrap_or_else(|e| panic!("cannot write the layout: {e}"));
    dir.to_owned()
}

/// `skopeo copy` of the image `<source>` (`oci:<layout>:<tag>`) to `docker://<destination>`,
/// trusting the CA file `ca` there and logging in with `creds` (`user:password`); returns
/// the pushed manifest's digest.
///
/// # Panics
/// When the push fails, with skopeo's message.
pub async fn skopeo_push(ca: &Path, creds: &str, source: &str, destination: &str) -> String {
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs)
        .and_then(|()| std::fs::copy(ca, certs.join("ca.crt")).map(drop))
        .unwrap_or_else(|e| panic!("cannot write the CA for skopeo: {e}"));
    let digest_file = work.path().join("digest");
    let (ok, err) = skopeo(&[
        "copy",
        "--dest-cert-dir",
        &certs.display().to_string(),
        "--dest-creds",
        creds,
        "--digestfile",
        &digest_file.display().to_string(),
        source,
        &format!("docker://{destination}"),
    ])
    .await;
    assert!(ok, "the push to {destination} failed: {err}");
    std::fs::read_to_string(digest_file).unwrap_or_else(|e| panic!("no digest file: {e}"))
}

/// Runs `skopeo` with `args`; returns whether it succeeded, and what it printed to stderr.
///
/// # Panics
/// When skopeo is missing.
pub async fn skopeo(args: &[&str]) -> (bool, String) {
    require("skopeo", "skopeo");
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
    let output = Command::new("skopeo")
        .args(args)
        // A fresh home: no stored credentials, no blob-info cache shared between runs.
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run skopeo: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
