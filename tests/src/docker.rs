//! A real Docker daemon for a test: Debian's `dockerd` (20.10) as root, on a private unix
//! socket, with its data and exec roots in a temporary directory, vfs storage and no
//! networking of its own (`--iptables=false --ip6tables=false --bridge=none`). The client
//! is Debian's `docker` CLI beside it (`/usr/bin/docker`), whose content trust (Notary)
//! later CLIs removed; `DOCKER_CONFIG` is the daemon's own directory, so logins and trust
//! keys stay with the test. Images are made offline with `docker import`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Debian's Docker CLI: content trust exists only in CLIs up to 28.
pub const DOCKER_CLI: &str = "/usr/bin/docker";

/// A running daemon; dropping it stops the daemon (and its containerd) and removes the
/// registry CAs it was given.
pub struct DockerDaemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    certs: Vec<PathBuf>,
}

impl DockerDaemon {
    /// Starts a daemon and waits until it answers.
    ///
    /// # Panics
    /// When `dockerd` is missing or does not answer within 60 s.
    pub async fn start() -> Self {
        crate::registry::require("dockerd", "docker.io");
        assert!(
            Path::new(DOCKER_CLI).is_file(),
            "{DOCKER_CLI} is missing: apt-get install docker.io (./scripts/test does)"
        );
        // A short path: the exec root holds unix sockets (108-byte limit).
        let dir = tempfile::Builder::new()
            .prefix("bd")
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let root = dir.path();
        std::fs::write(root.join("daemon.json"), "{}")
            .unwrap_or_else(|e| panic!("cannot write daemon.json: {e}"));
        std::fs::create_dir_all(root.join("config"))
            .unwrap_or_else(|e| panic!("cannot make the CLI's config directory: {e}"));
        let log = std::fs::File::create(root.join("dockerd.log"))
            .unwrap_or_else(|e| panic!("cannot create dockerd.log: {e}"));
        let child = Command::new("dockerd")
            .arg("--storage-driver=vfs")
            .arg("--iptables=false")
            .arg("--ip6tables=false")
            .arg("--bridge=none")
            .arg(format!("--host=unix://{}", root.join("d.sock").display()))
            .arg(format!("--data-root={}", root.join("data").display()))
            .arg(format!("--exec-root={}", root.join("x").display()))
            .arg(format!("--pidfile={}", root.join("d.pid").display()))
            .arg(format!(
                "--config-file={}",
                root.join("daemon.json").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dockerd: {e}"));
        let daemon = Self {
            dir,
            child: Some(child),
            certs: Vec::new(),
        };
        let up = crate::poll(
            Duration::from_secs(60),
            Duration::from_millis(200),
            || async { daemon.docker(&["version"], &[]).await.0.then_some(()) },
        )
        .await;
        assert!(up.is_some(), "dockerd did not answer:\n{}", daemon.log());
        daemon
    }

    /// The daemon's log.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// The daemon's socket (`DOCKER_HOST=unix://<socket>`).
    #[must_use]
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("d.sock")
    }

    /// The CLI's configuration directory (`DOCKER_CONFIG`).
    #[must_use]
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// Trusts `ca` for `host` (`name:port`): the daemon reads
    /// `/etc/docker/certs.d/<host>/ca.crt` for the registry, and the CLI
    /// `$DOCKER_CONFIG/tls/<host>/ca.crt` for the trust server.
    ///
    /// # Panics
    /// When the files cannot be written.
    pub fn trust_ca(&mut self, host: &str, ca: &Path) {
        for dir in [
            Path::new("/etc/docker/certs.d").join(host),
            self.config_dir().join("tls").join(host),
        ] {
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::copy(ca, dir.join("ca.crt")).map(drop))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", dir.display()));
            self.certs.push(dir);
        }
    }

    /// Runs the CLI against this daemon with `env` on top; whether it succeeded, and what
    /// it printed (stdout then stderr).
    ///
    /// # Panics
    /// When the CLI cannot be run, or runs for more than 120 s.
    pub async fn docker(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
        let mut command = Command::new(DOCKER_CLI);
        command
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.path().join("d.sock").display()),
            )
            .env("DOCKER_CONFIG", self.config_dir())
            .env_remove("DOCKER_CONTENT_TRUST")
            .env_remove("DOCKER_CONTENT_TRUST_SERVER")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .unwrap_or_else(|_| panic!("docker {args:?} ran for more than 120 s"))
            .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    /// Makes an image `reference` offline: `docker import` of a one-file tarball whose
    /// content is `content`.
    ///
    /// # Panics
    /// When the tarball cannot be made or the import fails.
    pub async fn import(&self, reference: &str, content: &str) {
        let src = self
            .dir
            .path()
            .join(format!("img-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&src)
            .and_then(|()| std::fs::write(src.join("hello.txt"), content))
            .unwrap_or_else(|e| panic!("cannot write the image's file: {e}"));
        let tar = src.with_extension("tar");
        let made = std::process::Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&src)
            .arg("hello.txt")
            .status()
            .unwrap_or_else(|e| panic!("cannot run tar: {e}"));
        assert!(made.success(), "tar failed");
        let tar = tar.display().to_string();
        let (ok, out) = self.docker(&["import", &tar, reference], &[]).await;
        assert!(ok, "docker import {reference}: {out}");
    }
}

impl Drop for DockerDaemon {
    fn drop(&mut self) {
        for dir in &self.certs {
            if dir.starts_with("/etc/docker/certs.d") {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        // SIGTERM, so that dockerd stops the containerd it started; SIGKILL if it lingers.
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
                for _ in 0..100 {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let _ = child.start_kill();
        }
    }
}
