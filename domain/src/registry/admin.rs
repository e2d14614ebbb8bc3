//! The registry's admin user, as ACR has it: the registry's name as user name and two
//! passwords (`password`, `password2`), kept encrypted at rest, usable only while
//! `adminUserEnabled` is on. It is not a principal: it holds no role and can never sign.

use super::{Registry, RegistryError, RegistryService};
use crate::arm::RegistryId;
use crate::directory::Secrets;
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;

/// The names of the admin user's two passwords.
pub const ADMIN_PASSWORD_NAMES: [&str; 2] = ["password", "password2"];

/// The admin user's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    /// The user name: the registry's name.
    pub username: String,
    /// `(name, value)` of both passwords.
    pub passwords: Vec<(String, String)>,
}

/// Seals secrets that must be read back (unlike passwords of principals, which are hashed):
/// authenticated encryption with a key from configuration, bound to the identity of the row
/// that keeps the secret (`aad`, e.g. [`admin_password_aad`]), so that a sealed value copied
/// into another row does not open there.
pub trait SecretBox: Send + Sync {
    /// Encrypts `plain` for the row named `aad`.
    ///
    /// # Errors
    /// [`StoreError`] when encryption fails.
    fn seal(&self, plain: &str, aad: &str) -> Result<String, StoreError>;

    /// Decrypts what [`Self::seal`] made for the row named `aad`.
    ///
    /// # Errors
    /// [`StoreError`] when it was not made with this key for this row, or was altered.
    fn open(&self, sealed: &str, aad: &str) -> Result<String, StoreError>;
}

/// The identity an admin password is sealed with: its registry's key (the lowercase ARM
/// id, [`RegistryId::key`]) and its name.
#[must_use]
pub fn admin_password_aad(registry_key: &str, name: &str) -> String {
    format!("admin_password:{registry_key}:{name}")
}

/// Stores the admin user's sealed passwords.
#[async_trait]
pub trait AdminPasswordRepository: Send + Sync {
    /// The sealed passwords of a registry, by name.
    ///
    /// # Errors
    /// `Store`.
    async fn load(&self, registry: &RegistryId) -> Result<Vec<(String, String)>, StoreError>;

    /// Stores a sealed password: replacing the old one when `replace`, else only when there
    /// is none (so two replicas making the first passwords agree on them).
    ///
    /// # Errors
    /// `Store`.
    async fn store(
        &self,
        registry: &RegistryId,
        name: &str,
        sealed: &str,
        replace: bool,
    ) -> Result<(), StoreError>;
}

/// The admin user's use cases.
#[derive(Clone)]
pub struct AdminUsers {
    registries: RegistryService,
    repo: Arc<dyn AdminPasswordRepository>,
    sealing: Arc<dyn SecretBox>,
    secrets: Arc<dyn Secrets>,
}

/// Compares in time that depends only on the lengths.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl AdminUsers {
    /// Builds the service.
    #[must_use]
    pub fn new(
        registries: RegistryService,
        repo: Arc<dyn AdminPasswordRepository>,
        sealing: Arc<dyn SecretBox>,
        secrets: Arc<dyn Secrets>,
    ) -> Self {
        Self {
            registries,
            repo,
            sealing,
            secrets,
        }
    }

    async fn opened(&self, id: &RegistryId) -> Result<Vec<(String, String)>, RegistryError> {
        let mut out = Vec::new();
        for (name, sealed) in self.repo.load(id).await? {
            let plain = self
                .sealing
                .open(&sealed, &admin_password_aad(&id.key(), &name))?;
            out.push((name, plain));
        }
        out.sort();
        Ok(out)
    }

    /// The admin user's name and passwords (made the first time they are asked for).
    ///
    /// # Errors
    /// `NotFound`; `AdminUserDisabled` while `adminUserEnabled` is off; `Store`.
    pub async fn list(&self, id: &RegistryId) -> Result<AdminCredentials, RegistryError> {
        let registry = self.registries.get(id).await?;
        if !registry.settings.admin_user_enabled {
            return Err(RegistryError::AdminUserDisabled(
                registry.name().to_string(),
            ));
        }
        let mut passwords = self.opened(id).await?;
        if passwords.len() < ADMIN_PASSWORD_NAMES.len() {
            for name in ADMIN_PASSWORD_NAMES {
                if !passwords.iter().any(|(n, _)| n == name) {
                    let sealed = self.sealing.seal(
                        &self.secrets.generate(),
                        &admin_password_aad(&id.key(), name),
                    )?;
                    self.repo.store(id, name, &sealed, false).await?;
                }
            }
            passwords = self.opened(id).await?;
        }
        Ok(AdminCredentials {
            username: registry.name().to_string(),
            passwords,
        })
    }

    /// Replaces one password and answers with both.
    ///
    /// # Errors
    /// `InvalidValue` for a name other than `password` or `password2`; as [`Self::list`].
    pub async fn regenerate(
        &self,
        id: &RegistryId,
        name: &str,
    ) -> Result<AdminCredentials, RegistryError> {
        let Some(name) = ADMIN_PASSWORD_NAMES
            .iter()
            .find(|n| n.eq_ignore_ascii_case(name))
        else {
            return Err(RegistryError::InvalidValue {
                target: "name".to_owned(),
                message: format!(
                    "The password name '{name}' is invalid: use 'password' or 'password2'."
                ),
            });
        };
        let registry = self.registries.get(id).await?;
        if !registry.settings.admin_user_enabled {
            return Err(RegistryError::AdminUserDisabled(
                registry.name().to_string(),
            ));
        }
        let sealed = self.sealing.seal(
            &self.secrets.generate(),
            &admin_password_aad(&id.key(), name),
        )?;
        self.repo.store(id, name, &sealed, true).await?;
        self.list(id).await
    }

    /// Whether `password` is one of the admin user's, and the admin user is enabled.
    ///
    /// # Errors
    /// `Store`.
    pub async fn verify(&self, registry: &Registry, password: &str) -> Result<bool, StoreError> {
        if !registry.settings.admin_user_enabled {
            return Ok(false);
        }
        let mut ok = false;
        let key = registry.id.key();
        for (name, sealed) in self.repo.load(&registry.id).await? {
            let plain = self
                .sealing
                .open(&sealed, &admin_password_aad(&key, &name))?;
            // Every password is compared, so the time says nothing about which matched.
            ok |= same(&plain, password);
        }
        Ok(ok)
    }
}
