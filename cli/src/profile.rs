//! What `berth login` remembers, in `~/.berth/profile.json` (or `$BERTH_CONFIG_DIR`): the
//! deployment, the signed-in service principal and its secret, the chosen subscription,
//! and the current access token. The directory is 0700 and the file 0600.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A signed-in account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The Berth deployment's base URL.
    pub endpoint: String,
    /// The tenant.
    pub tenant: String,
    /// The management audience (from `/metadata/endpoints`).
    pub management_audience: String,
    /// The DNS suffix of login servers (from `/metadata/endpoints`).
    #[serde(default)]
    pub acr_suffix: Option<String>,
    /// appId of the service principal, or the user's name.
    pub user: String,
    /// `servicePrincipal` or `user`.
    pub user_type: String,
    /// Its secret (service principals) or password (users).
    pub secret: String,
    /// A CA bundle to trust for the endpoint.
    pub ca_file: Option<PathBuf>,
    /// The default subscription.
    pub subscription: Option<Subscription>,
    /// The cached access tokens, by audience.
    #[serde(default)]
    pub tokens: std::collections::BTreeMap<String, CachedToken>,
}

/// A subscription, as `az account show` prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Its GUID.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its state.
    pub state: String,
}

/// An access token and when it expires (unix seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedToken {
    /// The bearer token.
    pub access_token: String,
    /// Expiry, unix seconds.
    pub expires_on: i64,
}

/// Where the profile lives.
#[must_use]
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".berth")
}

fn file() -> PathBuf {
    dir().join("profile.json")
}

/// The stored profile, if signed in.
#[must_use]
pub fn load() -> Option<Profile> {
    let text = std::fs::read(file()).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Stores the profile, readable by its owner only.
///
/// # Errors
/// The I/O error, as a message.
pub fn save(profile: &Profile) -> Result<(), String> {
    let dir = dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = serde_json::to_vec_pretty(profile).map_err(|e| e.to_string())?;
    let path = file();
    let tmp = dir.join("profile.json.tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true).mode(0o600);
        let mut f = options
            .open(&tmp)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::io::Write::write_all(&mut f, &text)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    }
    #[cfg(not(unix))]
    std::fs::write(&tmp, &text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Forgets the profile.
pub fn remove() {
    let _ = std::fs::remove_file(file());
}
