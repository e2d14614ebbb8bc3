//! Repository-scoped access, as ACR has it: scope maps (lists of repository actions such
//! as `repositories/team/app/content/read`, with `*` wildcards) and tokens (a name, a
//! scope map, two passwords) that authenticate to the token server by Basic and get only
//! what their scope map lists. The system scope maps ACR ships exist for every registry.
//! Token passwords are random 256-bit secrets, so a fast hash (SHA-256) keeps them safe and
//! the token path fast.

use super::{RegistryError, RegistryService};
use crate::arm::RegistryId;
use crate::clock::Clock;
use crate::directory::Secrets;
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// A scope map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeMap {
    /// Its name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Whether ACR ships it (`SystemDefined`) or a user made it.
    pub system: bool,
    /// The actions, as written.
    pub actions: Vec<String>,
    /// When it was made.
    pub creation_date: OffsetDateTime,
}

/// A password of a token: only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPassword {
    /// `password1` or `password2`.
    pub name: String,
    /// SHA-256 of the password, hex.
    pub hash: String,
    /// When it was made.
    pub creation_time: OffsetDateTime,
    /// When it stops working, if ever.
    pub expiry: Option<OffsetDateTime>,
}

/// A token (a non-Entra identity scoped to repositories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryToken {
    /// Its name (the Basic user name).
    pub name: String,
    /// The name of its scope map.
    pub scope_map: String,
    /// Whether it may sign in.
    pub enabled: bool,
    /// Its passwords.
    pub passwords: Vec<TokenPassword>,
    /// When it was made.
    pub creation_date: OffsetDateTime,
}

/// A password just made, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedPassword {
    /// `password1` or `password2`.
    pub name: String,
    /// The password.
    pub value: String,
    /// When it was made.
    pub creation_time: OffsetDateTime,
    /// When it stops working, if ever.
    pub expiry: Option<OffsetDateTime>,
}

/// Hashes a token password (SHA-256, hex).
pub trait FastHash: Send + Sync {
    /// The hash of `secret`.
    fn hash(&self, secret: &str) -> String;
}

/// Stores scope maps and tokens.
#[async_trait]
pub trait ScopeMapRepository: Send + Sync {
    /// The registry's user-defined scope maps.
    ///
    /// # Errors
    /// `Store`.
    async fn scope_maps(&self, registry: &RegistryId) -> Result<Vec<ScopeMap>, StoreError>;

    /// Inserts or replaces a scope map; `Ok(true)` when it was new.
    ///
    /// # Errors
    /// `Store`.
    async fn put_scope_map(
        &self,
        registry: &RegistryId,
        map: &ScopeMap,
    ) -> Result<bool, StoreError>;

    /// Deletes a scope map; `Ok(false)` when there was none.
    ///
    /// # Errors
    /// `Store`.
    async fn delete_scope_map(&self, registry: &RegistryId, name: &str)
    -> Result<bool, StoreError>;

    /// The registry's tokens.
    ///
    /// # Errors
    /// `Store`.
    async fn tokens(&self, registry: &RegistryId) -> Result<Vec<RepositoryToken>, StoreError>;

    /// Inserts or replaces a token; `Ok(true)` when it was new.
    ///
    /// # Errors
    /// `Store`.
    async fn put_token(
        &self,
        registry: &RegistryId,
        token: &RepositoryToken,
    ) -> Result<bool, StoreError>;

    /// Deletes a token; `Ok(false)` when there was none.
    ///
    /// # Errors
    /// `Store`.
    async fn delete_token(&self, registry: &RegistryId, name: &str) -> Result<bool, StoreError>;
}

/// The scope maps every registry has.
#[must_use]
pub fn system_scope_maps() -> Vec<ScopeMap> {
    let map = |name: &str, description: &str, actions: &[&str]| ScopeMap {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        system: true,
        actions: actions
            .iter()
            .map(|a| format!("repositories/*/{a}"))
            .collect(),
        creation_date: OffsetDateTime::UNIX_EPOCH,
    };
    vec![
        map(
            "_repositories_admin",
            "Can perform all read, write and delete operations on the registry",
            &[
                "content/read",
                "content/write",
                "content/delete",
                "metadata/read",
                "metadata/write",
            ],
        ),
        map(
            "_repositories_pull",
            "Can pull any repository of the registry",
            &["content/read"],
        ),
        map(
            "_repositories_pull_metadata_read",
            "Can perform all read operations on the registry",
            &["content/read", "metadata/read"],
        ),
        map(
            "_repositories_push",
            "Can push to any repository of the registry",
            &["content/read", "content/write"],
        ),
        map(
            "_repositories_push_metadata_write",
            "Can perform all read and write operations on the registry",
            &[
                "content/read",
                "content/write",
                "metadata/read",
                "metadata/write",
            ],
        ),
    ]
}

fn invalid(target: &str, message: String) -> RegistryError {
    RegistryError::InvalidValue {
        target: target.to_owned(),
        message,
    }
}

fn check_name(name: &str, target: &str, extra: &[u8]) -> Result<(), RegistryError> {
    let ok = (5..=50).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || extra.contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            target,
            format!(
                "The name '{name}' is invalid: 5 to 50 letters, digits or hyphens{}.",
                if extra.is_empty() {
                    ""
                } else {
                    " or underscores"
                }
            ),
        ))
    }
}

/// The repository pattern and the permission of one action, when it is well formed:
/// `repositories/<pattern>/<content|metadata>/<read|write|delete>`.
fn parse_action(action: &str) -> Option<(&str, &str)> {
    let rest = action.strip_prefix("repositories/")?;
    let (pattern, permission) = rest.rsplit_once('/').and_then(|(head, op)| {
        head.rsplit_once('/')
            .map(|(pattern, kind)| (pattern, (kind, op)))
    })?;
    let permission = match permission {
        ("content", "read") => "content/read",
        ("content", "write") => "content/write",
        ("content", "delete") => "content/delete",
        ("metadata", "read") => "metadata/read",
        ("metadata", "write") => "metadata/write",
        _ => return None,
    };
    let valid_pattern = !pattern.is_empty()
        && pattern.len() <= 256
        && pattern.split('/').all(|c| {
            c == "*"
                || (!c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    }))
        })
        && pattern
            .split('/')
            .position(|c| c == "*")
            .is_none_or(|i| i == pattern.split('/').count() - 1);
    valid_pattern.then_some((pattern, permission))
}

/// Whether a repository pattern covers `repository`: an exact name, or a prefix ending in
/// `/*` (or `*` alone) that covers every repository under it.
fn covers(pattern: &str, repository: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(prefix) => repository
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/')),
        None => pattern == repository,
    }
}

/// Whether a scope map's `actions` grant `permission` (`content/read`, ...) on `repository`.
#[must_use]
pub fn scope_map_allows(actions: &[String], repository: &str, permission: &str) -> bool {
    actions.iter().any(|a| {
        parse_action(a).is_some_and(|(pattern, p)| p == permission && covers(pattern, repository))
    })
}

/// Scope maps and tokens.
#[derive(Clone)]
pub struct ScopeMaps {
    registries: RegistryService,
    repo: Arc<dyn ScopeMapRepository>,
    secrets: Arc<dyn Secrets>,
    hash: Arc<dyn FastHash>,
    clock: Arc<dyn Clock>,
}

/// A token password's names.
const TOKEN_PASSWORD_NAMES: [&str; 2] = ["password1", "password2"];

impl ScopeMaps {
    /// Builds the service.
    #[must_use]
    pub fn new(
        registries: RegistryService,
        repo: Arc<dyn ScopeMapRepository>,
        secrets: Arc<dyn Secrets>,
        hash: Arc<dyn FastHash>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registries,
            repo,
            secrets,
            hash,
            clock,
        }
    }

    /// The registry's scope maps: the system ones, then the user-defined ones.
    ///
    /// # Errors
    /// `NotFound`, `Store`.
    pub async fn list(&self, registry: &RegistryId) -> Result<Vec<ScopeMap>, RegistryError> {
        self.registries.get(registry).await?;
        let mut maps = system_scope_maps();
        maps.extend(self.repo.scope_maps(registry).await?);
        Ok(maps)
    }

    /// One scope map.
    ///
    /// # Errors
    /// `ScopeMapNotFound`, `NotFound`, `Store`.
    pub async fn get(&self, registry: &RegistryId, name: &str) -> Result<ScopeMap, RegistryError> {
        self.list(registry)
            .await?
            .into_iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| RegistryError::ChildNotFound {
                kind: "scopeMaps",
                name: name.to_owned(),
            })
    }

    /// Changes a scope map: a description or actions left out keep their values (a PATCH).
    ///
    /// # Errors
    /// `ChildNotFound` for an unknown scope map, and those of [`Self::put`].
    pub async fn patch(
        &self,
        registry_id: &RegistryId,
        name: &str,
        description: Option<String>,
        actions: Vec<String>,
    ) -> Result<(ScopeMap, bool), RegistryError> {
        let current = self.get(registry_id, name).await?;
        let description = description.or(current.description);
        let actions = if actions.is_empty() {
            current.actions
        } else {
            actions
        };
        self.put(registry_id, name, description, actions).await
    }

    /// Creates or replaces a user-defined scope map; `true` when it was created.
    ///
    /// # Errors
    /// `InvalidValue` for a bad name or action, a system map's name, too many repositories
    /// or scope maps for the SKU; `NotFound`; `Store`.
    pub async fn put(
        &self,
        registry_id: &RegistryId,
        name: &str,
        description: Option<String>,
        actions: Vec<String>,
    ) -> Result<(ScopeMap, bool), RegistryError> {
        check_name(name, "scopeMapName", b"_")?;
        if name.starts_with('_') {
            return Err(invalid(
                "scopeMapName",
                format!(
                    "'{name}': names starting with '_' are reserved for system scope maps, which cannot be changed."
                ),
            ));
        }
        if actions.is_empty() {
            return Err(invalid(
                "properties.actions",
                "A scope map needs at least one action.".to_owned(),
            ));
        }
        let mut repositories = Vec::new();
        for action in &actions {
            let Some((pattern, _)) = parse_action(action) else {
                return Err(invalid(
                    "properties.actions",
                    format!(
                        "The action '{action}' is invalid: use repositories/<repository>/<content|metadata>/<read|write|delete>, such as repositories/team/app/content/read."
                    ),
                ));
            };
            if !repositories.contains(&pattern) {
                repositories.push(pattern);
            }
        }
        let registry = self.registries.get(registry_id).await?;
        let limits = registry.sku.capabilities();
        if repositories.len() > limits.repositories_per_scope_map as usize {
            return Err(invalid(
                "properties.actions",
                format!(
                    "A scope map of a {} registry may name at most {} repositories.",
                    registry.sku, limits.repositories_per_scope_map
                ),
            ));
        }
        let existing = self.repo.scope_maps(registry_id).await?;
        let current = existing.iter().find(|m| m.name.eq_ignore_ascii_case(name));
        if current.is_none() && existing.len() >= limits.scope_maps as usize {
            return Err(invalid(
                "scopeMapName",
                format!(
                    "A {} registry may have at most {} scope maps.",
                    registry.sku, limits.scope_maps
                ),
            ));
        }
        let map = ScopeMap {
            name: current.map_or_else(|| name.to_owned(), |m| m.name.clone()),
            description,
            system: false,
            actions,
            creation_date: current.map_or_else(|| self.clock.now(), |m| m.creation_date),
        };
        let created = self.repo.put_scope_map(registry_id, &map).await?;
        Ok((map, created))
    }

    /// Deletes a user-defined scope map.
    ///
    /// # Errors
    /// `InvalidValue` for a system map or one a token uses; `ChildNotFound`; `Store`.
    pub async fn delete(&self, registry: &RegistryId, name: &str) -> Result<(), RegistryError> {
        if name.starts_with('_') {
            return Err(invalid(
                "scopeMapName",
                format!("The system scope map '{name}' cannot be deleted."),
            ));
        }
        self.registries.get(registry).await?;
        if let Some(token) = self
            .repo
            .tokens(registry)
            .await?
            .into_iter()
            .find(|t| t.scope_map.eq_ignore_ascii_case(name))
        {
            return Err(RegistryError::InUse(format!(
                "The scope map '{name}' is used by the token '{}'; delete the token or give it another scope map first.",
                token.name
            )));
        }
        if self.repo.delete_scope_map(registry, name).await? {
            Ok(())
        } else {
            Err(RegistryError::ChildNotFound {
                kind: "scopeMaps",
                name: name.to_owned(),
            })
        }
    }

    /// The registry's tokens.
    ///
    /// # Errors
    /// `NotFound`, `Store`.
    pub async fn tokens(
        &self,
        registry: &RegistryId,
    ) -> Result<Vec<RepositoryToken>, RegistryError> {
        self.registries.get(registry).await?;
        Ok(self.repo.tokens(registry).await?)
    }

    /// One token.
    ///
    /// # Errors
    /// `ChildNotFound`, `NotFound`, `Store`.
    pub async fn token(
        &self,
        registry: &RegistryId,
        name: &str,
    ) -> Result<RepositoryToken, RegistryError> {
        self.tokens(registry)
            .await?
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| RegistryError::ChildNotFound {
                kind: "tokens",
                name: name.to_owned(),
            })
    }

    /// Creates or updates a token: its scope map (by name) and status; its passwords are
    /// kept. `true` when it was created.
    ///
    /// # Errors
    /// `InvalidValue` for a bad name, an unknown scope map, too many tokens for the SKU;
    /// `NotFound`; `Store`.
    pub async fn put_token(
        &self,
        registry_id: &RegistryId,
        name: &str,
        scope_map: Option<&str>,
        enabled: Option<bool>,
    ) -> Result<(RepositoryToken, bool), RegistryError> {
        check_name(name, "tokenName", b"")?;
        let registry = self.registries.get(registry_id).await?;
        let existing = self.repo.tokens(registry_id).await?;
        let current = existing.iter().find(|t| t.name.eq_ignore_ascii_case(name));
        let scope_map = match (scope_map, current) {
            (Some(map), _) => {
                self.get(registry_id, map)
                    .await
                    .map_err(|_| {
                        invalid(
                            "properties.scopeMapId",
                            format!(
                                "The scope map '{map}' does not exist in registry '{}'.",
                                registry.name()
                            ),
                        )
                    })?
                    .name
            }
            (None, Some(current)) => current.scope_map.clone(),
            (None, None) => {
                return Err(invalid(
                    "properties.scopeMapId",
                    "A token needs a scope map (properties.scopeMapId).".to_owned(),
                ));
            }
        };
        if current.is_none() && existing.len() >= registry.sku.capabilities().tokens as usize {
            return Err(invalid(
                "tokenName",
                format!(
                    "A {} registry may have at most {} tokens.",
                    registry.sku,
                    registry.sku.capabilities().tokens
                ),
            ));
        }
        let token = RepositoryToken {
            name: current.map_or_else(|| name.to_owned(), |t| t.name.clone()),
            scope_map,
            enabled: enabled.unwrap_or_else(|| current.is_none_or(|t| t.enabled)),
            passwords: current.map(|t| t.passwords.clone()).unwrap_or_default(),
            creation_date: current.map_or_else(|| self.clock.now(), |t| t.creation_date),
        };
        let created = self.repo.put_token(registry_id, &token).await?;
        Ok((token, created))
    }

    /// Deletes a token.
    ///
    /// # Errors
    /// `ChildNotFound`, `NotFound`, `Store`.
    pub async fn delete_token(
        &self,
        registry: &RegistryId,
        name: &str,
    ) -> Result<(), RegistryError> {
        self.registries.get(registry).await?;
        if self.repo.delete_token(registry, name).await? {
            Ok(())
        } else {
            Err(RegistryError::ChildNotFound {
                kind: "tokens",
                name: name.to_owned(),
            })
        }
    }

    /// Makes a token's password (`password1`, `password2`, or both when `name` is `None`),
    /// valid until `expiry` if given; the values are shown only in this answer.
    ///
    /// # Errors
    /// `InvalidValue` for another name or a past expiry; `ChildNotFound`; `Store`.
    pub async fn generate_credentials(
        &self,
        registry: &RegistryId,
        token_name: &str,
        name: Option<&str>,
        expiry: Option<OffsetDateTime>,
    ) -> Result<(String, Vec<GeneratedPassword>), RegistryError> {
        let names: Vec<&str> = match name {
            None => TOKEN_PASSWORD_NAMES.to_vec(),
            Some(n) => vec![
                TOKEN_PASSWORD_NAMES
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(n))
                    .copied()
                    .ok_or_else(|| {
                        invalid(
                            "name",
                            format!(
                                "The password name '{n}' is invalid: use password1 or password2."
                            ),
                        )
                    })?,
            ],
        };
        let now = self.clock.now();
        if expiry.is_some_and(|e| e <= now || e > now + Duration::days(3650)) {
            return Err(invalid(
                "expiry",
                "The expiry must be in the future, and within ten years.".to_owned(),
            ));
        }
        let mut token = self.token(registry, token_name).await?;
        let mut generated = Vec::new();
        for name in names {
            let value = self.secrets.generate();
            token.passwords.retain(|p| p.name != name);
            token.passwords.push(TokenPassword {
                name: name.to_owned(),
                hash: self.hash.hash(&value),
                creation_time: now,
                expiry,
            });
            generated.push(GeneratedPassword {
                name: name.to_owned(),
                value,
                creation_time: now,
                expiry,
            });
        }
        token.passwords.sort_by(|a, b| a.name.cmp(&b.name));
        self.repo.put_token(registry, &token).await?;
        Ok((token.name, generated))
    }

    /// The actions of the scope map of an enabled token whose password matches.
    ///
    /// # Errors
    /// `Store`.
    pub async fn authenticate(
        &self,
        registry: &RegistryId,
        username: &str,
        password: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(token) = self
            .repo
            .tokens(registry)
            .await?
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(username))
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        let hash = self.hash.hash(password);
        let matched = token.passwords.iter().fold(false, |ok, p| {
            let same = super::admin::same(&p.hash, &hash);
            ok | (same && p.expiry.is_none_or(|e| e > now))
        });
        if !token.enabled || !matched {
            return Ok(None);
        }
        let maps = self.repo.scope_maps(registry).await?;
        Ok(system_scope_maps()
            .into_iter()
            .chain(maps)
            .find(|m| m.name.eq_ignore_ascii_case(&token.scope_map))
            .map(|m| m.actions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_repositories_with_trailing_wildcards() {
        let actions = vec![
            "repositories/team/app/content/read".to_owned(),
            "repositories/team/app/content/write".to_owned(),
            "repositories/samples/*/content/read".to_owned(),
        ];
        assert!(scope_map_allows(&actions, "team/app", "content/read"));
        assert!(scope_map_allows(&actions, "team/app", "content/write"));
        assert!(!scope_map_allows(&actions, "team/app", "content/delete"));
        assert!(!scope_map_allows(&actions, "team/app2", "content/read"));
        assert!(scope_map_allows(&actions, "samples/a/b", "content/read"));
        assert!(!scope_map_allows(&actions, "samples", "content/read"));
        assert!(!scope_map_allows(&actions, "samplesx/a", "content/read"));
        let all = system_scope_maps()
            .into_iter()
            .find(|m| m.name == "_repositories_pull")
            .map(|m| m.actions)
            .unwrap_or_default();
        assert!(scope_map_allows(&all, "any/repo", "content/read"));
        assert!(!scope_map_allows(&all, "any/repo", "content/write"));
        for bad in [
            "repositories/app/content/run",
            "repositories//content/read",
            "repositories/*/a/content/read",
            "registry/app/content/read",
            "repositories/App/content/read",
        ] {
            assert!(parse_action(bad).is_none(), "{bad}");
        }
    }
}
