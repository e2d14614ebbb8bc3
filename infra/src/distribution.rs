//! The embedded data plane: one Distribution registry (`docker-registry`) for all of
//! Berth's registries, run by `berthd` as a supervised child.
//!
//! - It listens on a unix socket in the owner-only data directory
//!   (`<data_dir>/registry/run/registry.sock`), so nothing but `berthd` (or its user) can
//!   reach it: it has no auth of its own, and every request it serves was authorized by
//!   the login server in front.
//! - Its configuration (`<data_dir>/registry/config.yml`, 0600) is written at each start:
//!   filesystem storage in `<data_dir>/registry/storage`, deletes enabled (for
//!   `az acr repository delete`), relative URLs (so `Location` and `Link` name no host),
//!   and an upload-state secret kept across restarts so an upload survives one.
//! - The supervisor restarts it when it exits, after a pause that doubles from 100 ms to
//!   5 s (and resets after a minute of uptime), and kills it when dropped. When berthd
//!   itself dies without dropping it (SIGKILL, a crash), the kernel kills the registry too:
//!   it is started through util-linux's `setpriv --pdeathsig KILL` where that exists (on
//!   every Debian), since Berth's code holds no `unsafe` to set the signal itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// The binary looked for on `PATH` when none is configured.
pub const DEFAULT_BINARY: &str = "docker-registry";

/// How to install it, for the message berthd gives when it is missing.
pub const INSTALL_HINT: &str = "install Distribution's registry (Debian: apt-get install docker-registry), or set \
     BERTH_REGISTRY_BACKEND=none to run Berth as a token server only";

/// Why the embedded data plane cannot run.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// The binary is not on `PATH`.
    #[error("the data plane's registry binary '{0}' is not on PATH: {INSTALL_HINT}")]
    Missing(String),
    /// Its directory or configuration could not be written.
    #[error("cannot prepare the data plane in {path}: {source}")]
    Prepare {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What the data plane is doing, for the login server's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataPlaneStatus {
    /// Started or restarting, not yet accepting connections.
    Starting,
    /// Accepting connections.
    Ready,
}

/// Where the embedded registry keeps its files.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `<data_dir>/registry`.
    pub root: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
    /// The blob and repository storage.
    pub storage: PathBuf,
    /// The unix socket it listens on.
    pub socket: PathBuf,
}

impl Layout {
    /// The layout under a data directory.
    #[must_use]
    pub fn of(data_dir: &Path) -> Self {
        let root = data_dir.join("registry");
        Self {
            config: root.join("config.yml"),
            storage: root.join("storage"),
            socket: root.join("run").join("registry.sock"),
            root,
        }
    }
}

/// The running embedded registry; dropping it stops the registry.
pub struct EmbeddedDistribution {
    layout: Layout,
    status: Arc<Mutex<DataPlaneStatus>>,
    supervisor: tokio::task::JoinHandle<()>,
}

impl Drop for EmbeddedDistribution {
    fn drop(&mut self) {
        // Aborting drops the child, which is killed on drop.
        self.supervisor.abort();
    }
}

impl EmbeddedDistribution {
    /// Writes the configuration under `data_dir` and starts `binary` (looked up on `PATH`
    /// when it has no `/`) under supervision. It returns at once; [`Self::status`] tells
    /// when the registry accepts connections.
    ///
    /// # Errors
    /// [`DistributionError`] when the binary is missing or the files cannot be written.
    pub fn start(data_dir: &Path, binary: &str) -> Result<Self, DistributionError> {
        let program =
            locate(binary).ok_or_else(|| DistributionError::Missing(binary.to_owned()))?;
        let layout = Layout::of(data_dir);
        prepare(&layout).map_err(|source| DistributionError::Prepare {
            path: layout.root.clone(),
            source,
        })?;
        let status = Arc::new(Mutex::new(DataPlaneStatus::Starting));
        let supervisor = tokio::spawn(supervise(program, layout.clone(), status.clone()));
        Ok(Self {
            layout,
            status,
            supervisor,
        })
    }

    /// The socket the registry listens on.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.layout.socket
    }

    /// Where its files are.
    #[must_use]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether it accepts connections now.
    #[must_use]
    pub fn status(&self) -> DataPlaneStatus {
        self.status
            .lock()
            .map_or(DataPlaneStatus::Starting, |s| s.clone())
    }

    /// Waits until the registry accepts connections, up to `timeout`.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.status() == DataPlaneStatus::Ready {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

/// `binary` itself when it names a path, else the first executable of that name on `PATH`.
#[must_use]
pub fn locate(binary: &str) -> Option<PathBuf> {
    if binary.contains('/') {
        let path = PathBuf::from(binary);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Makes the directories (owner-only) and writes the configuration.
fn prepare(layout: &Layout) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    for dir in [&layout.root, &layout.storage] {
        builder.create(dir)?;
    }
    if let Some(run) = layout.socket.parent() {
        builder.create(run)?;
    }
    let secret = upload_secret(&layout.root.join("http-secret"))?;
    crate::files::write_private(&layout.config, config(layout, &secret).as_bytes())
}

/// The secret Distribution signs upload state with, made once and kept.
fn upload_secret(path: &Path) -> std::io::Result<String> {
    if let Ok(secret) = std::fs::read_to_string(path) {
        let secret = secret.trim();
        if secret.len() >= 32 {
            return Ok(secret.to_owned());
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let secret = hex::encode(bytes);
    crate::files::write_private(path, secret.as_bytes())?;
    Ok(secret)
}

/// The registry's configuration. Paths are written as JSON strings, which YAML reads.
fn config(layout: &Layout, secret: &str) -> String {
    let quote = |p: &Path| serde_json::Value::from(p.display().to_string()).to_string();
    format!(
        "# Written by berthd at each start; edits are overwritten.\n\
         version: 0.1\n\
         log:\n  level: warn\n  formatter: text\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n  \
         redirect:\n    disable: true\n  maintenance:\n    uploadpurging:\n      enabled: true\n      \
         age: 168h\n      interval: 24h\n      dryrun: false\n\
         http:\n  net: unix\n  addr: {socket}\n  relativeurls: true\n  secret: \"{secret}\"\n  \
         draintimeout: 5s\n\
         health:\n  storagedriver:\n    enabled: false\n",
        storage = quote(&layout.storage),
        socket = quote(&layout.socket),
    )
}

/// Runs the registry, and again whenever it exits, until aborted.
async fn supervise(program: PathBuf, layout: Layout, status: Arc<Mutex<DataPlaneStatus>>) {
    let set = |s: DataPlaneStatus| {
        if let Ok(mut current) = status.lock() {
            *current = s;
        }
    };
    let mut pause = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        match spawn(&program, &layout) {
            Ok(mut child) => {
                let exit = tokio::select! {
                    exit = child.wait() => exit,
                    () = accepting(&layout.socket) => {
                        set(DataPlaneStatus::Ready);
                        tracing::debug!(socket = %layout.socket.display(), "the data plane accepts connections");
                        child.wait().await
                    }
                };
                set(DataPlaneStatus::Starting);
                match exit {
                    Ok(code) => {
                        tracing::warn!(exit = %code, "the data plane's registry exited; restarting it");
                    }
                    Err(e) => {
                        tracing::warn!(error.cause = %e, "lost the data plane's registry; restarting it");
                    }
                }
            }
            Err(e) => {
                tracing::error!(program = %program.display(), error.cause = %e, "cannot start the data plane's registry; retrying");
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            pause = Duration::from_millis(100);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Starts the registry, its log lines forwarded to this process's log.
fn spawn(program: &Path, layout: &Layout) -> std::io::Result<Child> {
    let mut command = match locate("setpriv") {
        Some(setpriv) => {
            let mut command = Command::new(setpriv);
            command.args(["--pdeathsig", "KILL", "--"]).arg(program);
            command
        }
        None => Command::new(program),
    };
    let mut child = command
        .arg("serve")
        .arg(&layout.config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward(tokio::io::BufReader::new(out)));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward(tokio::io::BufReader::new(err)));
    }
    Ok(child)
}

/// Forwards the registry's log lines (warnings and errors only, as configured).
async fn forward<R: tokio::io::AsyncBufRead + Unpin>(reader: R) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(target: "berth::data_plane", "{line}");
    }
}

/// Resolves once the socket accepts a connection.
async fn accepting(socket: &Path) {
    loop {
        if tokio::net::UnixStream::connect(socket).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_listens_on_the_socket_with_relative_urls() {
        let layout = Layout::of(Path::new("/data/x\"y"));
        let text = config(&layout, "s3cret");
        assert!(text.contains("net: unix"));
        assert!(text.contains("addr: \"/data/x\\\"y/registry/run/registry.sock\""));
        assert!(text.contains("relativeurls: true"));
        assert!(text.contains("rootdirectory: \"/data/x\\\"y/registry/storage\""));
    }

    #[test]
    fn a_missing_binary_is_named_with_the_install_command() {
        let Err(e) = EmbeddedDistribution::start(Path::new("/nonexistent"), "no-such-registry")
        else {
            panic!("started a missing binary");
        };
        let message = e.to_string();
        assert!(message.contains("no-such-registry"), "{message}");
        assert!(
            message.contains("apt-get install docker-registry"),
            "{message}"
        );
    }

    #[test]
    fn the_upload_secret_is_kept_across_starts() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("http-secret");
        let first = upload_secret(&path)?;
        assert_eq!(first.len(), 64);
        assert_eq!(upload_secret(&path)?, first);
        Ok(())
    }
}
