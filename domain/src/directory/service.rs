//! Directory use cases.

use super::{
    DirectoryObject, DirectoryRepository, DirectoryWriteError, Group, ObjectKind,
    PasswordCredential, Secrets, ServicePrincipal, User,
};
use crate::clock::Clock;
use crate::identity::ExternalIdentity;
use crate::store::StoreError;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How deep group nesting is followed (Entra allows nesting; a cycle must not loop).
const MAX_GROUP_DEPTH: usize = 32;

/// How many ids one store query looks up.
const GET_BY_IDS_CHUNK: usize = 1000;

/// Errors of the directory use cases.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A value breaks a rule.
    #[error("{message}")]
    Invalid {
        /// The property at fault.
        target: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A unique property is taken.
    #[error("{0}")]
    Conflict(String),
    /// No such object.
    #[error(
        "Resource '{0}' does not exist or one of its queried reference-property objects are not present."
    )]
    NotFound(String),
    /// The caller may not do this: it holds no directory role that allows it, or the
    /// object it would change is more privileged than the caller.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a sign-in was refused. Deliberately coarse: callers learn nothing about which part
/// was wrong.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown principal, wrong or expired secret, or a disabled account.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A secret, shown once when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    /// The stored credential (hash only).
    pub credential: PasswordCredential,
    /// The secret itself; it is not stored.
    pub secret: String,
}

/// What authenticating a request needs to know about a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    /// Object id.
    pub object_id: Uuid,
    /// appId of a service principal, or a user's principal name.
    pub name: String,
    /// Whether it is an application (else a person).
    pub is_application: bool,
    /// Every group it belongs to, transitively.
    pub groups: Vec<Uuid>,
    /// Sessions opened before this time are revoked (a credential was removed).
    pub sessions_valid_after: Option<OffsetDateTime>,
}

/// Principals seen by this process, valid while the store's directory counter is unchanged.
#[derive(Debug, Default)]
struct PrincipalCache {
    version: Option<i64>,
    entries: HashMap<Uuid, PrincipalInfo>,
    external: HashMap<(String, String), Uuid>,
}

/// Directory use cases.
#[derive(Clone)]
pub struct DirectoryService {
    repo: Arc<dyn DirectoryRepository>,
    secrets: Arc<dyn Secrets>,
    clock: Arc<dyn Clock>,
    cache: Arc<RwLock<PrincipalCache>>,
}

fn is_principal_name(upn: &str) -> bool {
    let (local, domain) = upn.split_once('@').unwrap_or(("", ""));
    !local.is_empty()
        && !domain.is_empty()
        && upn.len() <= 113
        && !upn.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn nickname_of(name: &str) -> String {
    name.split('@').next().unwrap_or(name).to_owned()
}

impl DirectoryService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        repo: Arc<dyn DirectoryRepository>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            secrets,
            clock,
            cache: Arc::default(),
        }
    }

    /// Creates a user who signs in with a password.
    ///
    /// # Errors
    /// `Invalid` for a malformed name or a short password; `Conflict` when the name is taken.
    pub async fn create_user(
        &self,
        upn: &str,
        display_name: &str,
        password: &str,
    ) -> Result<User, DirectoryError> {
        if !is_principal_name(upn) {
            return Err(DirectoryError::Invalid {
                target: "userPrincipalName",
                message: format!("The user principal name '{upn}' is invalid: use name@domain."),
            });
        }
        if password.chars().count() < 8 || password.len() > 256 {
            return Err(DirectoryError::Invalid {
                target: "passwordProfile.password",
                message: "The password must be 8 to 256 characters long.".to_owned(),
            });
        }
        let user = User {
            object_id: Uuid::new_v4(),
            user_principal_name: upn.to_owned(),
            display_name: if display_name.is_empty() {
                nickname_of(upn)
            } else {
                display_name.to_owned()
            },
            mail_nickname: nickname_of(upn),
            account_enabled: true,
            password_hash: Some(self.secrets.hash(password).await?),
        };
        self.repo.insert_user(&user).await.map_err(|e| match e {
            DirectoryWriteError::Conflict => DirectoryError::Conflict(format!(
                "Another object with the same value for property userPrincipalName already exists: '{upn}'."
            )),
            DirectoryWriteError::NotFound => DirectoryError::NotFound(upn.to_owned()),
            DirectoryWriteError::Store(s) => DirectoryError::Store(s),
        })?;
        Ok(user)
    }

    /// Creates an application with its service principal. With `years`, also a first
    /// password valid that long, returned once.
    ///
    /// # Errors
    /// `Invalid` for an empty name; `Store`.
    pub async fn create_service_principal(
        &self,
        display_name: &str,
        password_years: Option<u8>,
    ) -> Result<(ServicePrincipal, Option<NewSecret>), DirectoryError> {
        self.create_service_principal_with(display_name, Uuid::new_v4(), None, password_years)
            .await
    }

    /// Like [`Self::create_service_principal`], with a chosen appId and, optionally, a chosen
    /// secret (the bootstrap owner's come from configuration).
    ///
    /// # Errors
    /// `Invalid`, `Conflict` (the appId is taken), `Store`.
    pub async fn create_service_principal_with(
        &self,
        display_name: &str,
        app_id: Uuid,
        secret: Option<&str>,
        password_years: Option<u8>,
    ) -> Result<(ServicePrincipal, Option<NewSecret>), DirectoryError> {
        if display_name.trim().is_empty() || display_name.len() > 256 {
            return Err(DirectoryError::Invalid {
                target: "displayName",
                message: "A display name of 1 to 256 characters is required.".to_owned(),
            });
        }
        let new_secret = match password_years {
            Some(years) => Some(self.new_secret(secret, None, years).await?),
            None => None,
        };
        let sp = ServicePrincipal {
            object_id: Uuid::new_v4(),
            application_object_id: Uuid::new_v4(),
            app_id,
            display_name: display_name.to_owned(),
            service_principal_names: vec![app_id.to_string()],
            account_enabled: true,
            credentials: new_secret.iter().map(|s| s.credential.clone()).collect(),
            sessions_valid_after: None,
        };
        self.repo
            .insert_service_principal(&sp)
            .await
            .map_err(|e| match e {
                DirectoryWriteError::Conflict => {
                    DirectoryError::Conflict(format!("The appId '{app_id}' is taken."))
                }
                DirectoryWriteError::NotFound => DirectoryError::NotFound(app_id.to_string()),
                DirectoryWriteError::Store(s) => DirectoryError::Store(s),
            })?;
        Ok((sp, new_secret))
    }

    /// Adds a password to a service principal (found by object id, application object id,
    /// appId or name), valid for `years`.
    ///
    /// # Errors
    /// `NotFound`, `Invalid` (years out of 1–10), `Store`.
    pub async fn add_password(
        &self,
        service_principal: &str,
        label: Option<&str>,
        years: u8,
    ) -> Result<NewSecret, DirectoryError> {
        let sp = self.service_principal(service_principal).await?;
        let new_secret = self.new_secret(None, label, years).await?;
        self.repo
            .add_credential(sp.object_id, &new_secret.credential)
            .await
            .map_err(|e| match e {
                DirectoryWriteError::Store(s) => DirectoryError::Store(s),
                _ => DirectoryError::NotFound(service_principal.to_owned()),
            })?;
        Ok(new_secret)
    }

    /// Removes a password.
    ///
    /// # Errors
    /// `NotFound` for an unknown service principal or key; `Store`.
    pub async fn remove_password(
        &self,
        service_principal: &str,
        key_id: Uuid,
    ) -> Result<(), DirectoryError> {
        let sp = self.service_principal(service_principal).await?;
        if self.repo.remove_credential(sp.object_id, key_id).await? {
            self.forget_cached();
            Ok(())
        } else {
            Err(DirectoryError::NotFound(key_id.to_string()))
        }
    }

    /// Creates a group.
    ///
    /// # Errors
    /// `Invalid` for an empty name; `Store`.
    pub async fn create_group(
        &self,
        display_name: &str,
        mail_nickname: &str,
        description: Option<&str>,
    ) -> Result<Group, DirectoryError> {
        if display_name.trim().is_empty() {
            return Err(DirectoryError::Invalid {
                target: "displayName",
                message: "A group needs a display name.".to_owned(),
            });
        }
        let group = Group {
            object_id: Uuid::new_v4(),
            display_name: display_name.to_owned(),
            mail_nickname: if mail_nickname.is_empty() {
                display_name.replace(' ', "")
            } else {
                mail_nickname.to_owned()
            },
            description: description.map(str::to_owned),
        };
        self.repo.insert_group(&group).await.map_err(|e| match e {
            DirectoryWriteError::Store(s) => DirectoryError::Store(s),
            _ => DirectoryError::Conflict(format!(
                "The group '{display_name}' could not be created."
            )),
        })?;
        Ok(group)
    }

    /// Adds a member (user, service principal or group) to a group.
    ///
    /// # Errors
    /// `NotFound` when either is missing or `group` is not a group; `Conflict` when it is a
    /// member already; `Invalid` when the group would contain itself.
    pub async fn add_member(&self, group: Uuid, member: Uuid) -> Result<(), DirectoryError> {
        let objects = self.repo.get_objects(&[group, member]).await?;
        if !objects
            .iter()
            .any(|o| matches!(o, DirectoryObject::Group(g) if g.object_id == group))
        {
            return Err(DirectoryError::NotFound(group.to_string()));
        }
        if !objects.iter().any(|o| o.object_id() == member) {
            return Err(DirectoryError::NotFound(member.to_string()));
        }
        if member == group || self.member_groups(group).await?.contains(&member) {
            return Err(DirectoryError::Invalid {
                target: "members",
                message: "A group cannot be a member of itself, directly or through other groups."
                    .to_owned(),
            });
        }
        let added = self.repo.add_member(group, member).await;
        self.forget_cached();
        added.map_err(|e| match e {
            DirectoryWriteError::Conflict => {
                DirectoryError::Conflict("One or more added object references already exist for the following modified properties: 'members'.".to_owned())
            }
            DirectoryWriteError::NotFound => DirectoryError::NotFound(member.to_string()),
            DirectoryWriteError::Store(s) => DirectoryError::Store(s),
        })
    }

    /// Removes a member from a group.
    ///
    /// # Errors
    /// `NotFound` when it was not a member; `Store`.
    pub async fn remove_member(&self, group: Uuid, member: Uuid) -> Result<(), DirectoryError> {
        let removed = self.repo.remove_member(group, member).await?;
        self.forget_cached();
        if removed {
            Ok(())
        } else {
            Err(DirectoryError::NotFound(member.to_string()))
        }
    }

    /// Every group `principal` belongs to, directly or through nested groups.
    ///
    /// # Errors
    /// `Store`.
    pub async fn member_groups(&self, principal: Uuid) -> Result<Vec<Uuid>, DirectoryError> {
        let mut found: Vec<Uuid> = Vec::new();
        let mut seen = HashSet::new();
        let mut frontier = vec![principal];
        for _ in 0..MAX_GROUP_DEPTH {
            let mut next = Vec::new();
            for id in frontier {
                for group in self.repo.groups_of(id).await? {
                    if seen.insert(group) {
                        found.push(group);
                        next.push(group);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(found)
    }

    /// The direct members of a group.
    ///
    /// # Errors
    /// `Store`.
    pub async fn members_of(&self, group: Uuid) -> Result<Vec<Uuid>, DirectoryError> {
        Ok(self.repo.members_of(group).await?)
    }

    /// The objects with these ids (unknown ones left out).
    ///
    /// # Errors
    /// `Store`.
    pub async fn get_by_ids(&self, ids: &[Uuid]) -> Result<Vec<DirectoryObject>, DirectoryError> {
        // In slices: a store binds each id as a parameter, and SQLite takes only so many.
        let mut found = Vec::new();
        for chunk in ids.chunks(GET_BY_IDS_CHUNK) {
            found.extend(self.repo.get_objects(chunk).await?);
        }
        Ok(found)
    }

    /// The enabled user or service principal with this object id, with its groups; `None`
    /// when it was deleted or disabled. Answers from memory when it can: deletions and
    /// membership changes through this process clear the cache at once, and [`Self::refresh`]
    /// clears it when another replica changed the directory.
    ///
    /// # Errors
    /// `Store`.
    pub async fn principal(
        &self,
        object_id: Uuid,
    ) -> Result<Option<PrincipalInfo>, DirectoryError> {
        if let Some(hit) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.entries.get(&object_id).cloned())
        {
            return Ok(Some(hit));
        }
        let found = self
            .repo
            .get_objects(&[object_id])
            .await?
            .into_iter()
            .find(|o| o.object_id() == object_id);
        let (name, is_application, sessions_valid_after) = match found {
            Some(DirectoryObject::ServicePrincipal(sp)) if sp.account_enabled => {
                (sp.app_id.to_string(), true, sp.sessions_valid_after)
            }
            Some(DirectoryObject::User(u)) if u.account_enabled => {
                (u.user_principal_name, false, None)
            }
            _ => return Ok(None),
        };
        let info = PrincipalInfo {
            object_id,
            name,
            is_application,
            groups: self.member_groups(object_id).await?,
            sessions_valid_after,
        };
        if let Ok(mut cache) = self.cache.write() {
            cache.entries.insert(object_id, info.clone());
        }
        Ok(Some(info))
    }

    /// Drops the cached principals when the store's directory counter moved. Returns
    /// whether it did.
    ///
    /// # Errors
    /// `Store`.
    pub async fn refresh(&self) -> Result<bool, DirectoryError> {
        let version = self.repo.version().await?;
        let mut cache = self
            .cache
            .write()
            .map_err(|_| StoreError("principal cache lock poisoned".to_owned()))?;
        if cache.version == Some(version) {
            return Ok(false);
        }
        cache.version = Some(version);
        cache.entries.clear();
        cache.external.clear();
        Ok(true)
    }

    fn forget_cached(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.entries.clear();
            cache.external.clear();
        }
    }

    /// The object id of a caller of a trusted external provider, keyed by issuer and
    /// subject. Seen for the first time, the caller is added to the directory: a person as
    /// a user, an application acting for itself as a service principal. It then holds no
    /// role until one is assigned to it. An external user never takes over an existing
    /// account: when its sign-in name is taken it gets a guest name
    /// (`name#EXT#@provider-host`), as Entra ID names its guests.
    ///
    /// # Errors
    /// `Store`.
    pub async fn resolve_external(&self, who: &ExternalIdentity) -> Result<Uuid, DirectoryError> {
        let key = (who.issuer.clone(), who.subject.clone());
        if let Some(hit) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.external.get(&key).copied())
        {
            return Ok(hit);
        }
        let id = match self.repo.find_external(&who.issuer, &who.subject).await? {
            Some(id) => id,
            None => self.add_external(who).await?,
        };
        if let Ok(mut cache) = self.cache.write() {
            cache.external.insert(key, id);
        }
        Ok(id)
    }

    async fn add_external(&self, who: &ExternalIdentity) -> Result<Uuid, DirectoryError> {
        let host = who
            .issuer
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .filter(|h| !h.is_empty())
            .unwrap_or("external");
        let object_id = Uuid::new_v4();
        let candidates: Vec<DirectoryObject> = if let Some(client) = &who.application {
            let app_id = Uuid::new_v4();
            vec![DirectoryObject::ServicePrincipal(ServicePrincipal {
                object_id,
                application_object_id: Uuid::new_v4(),
                app_id,
                display_name: client.clone(),
                service_principal_names: vec![
                    app_id.to_string(),
                    format!("{}/{client}", who.issuer.trim_end_matches('/')),
                ],
                account_enabled: true,
                credentials: Vec::new(),
                sessions_valid_after: None,
            })]
        } else {
            // The principal name comes from the issuer and subject alone. A provider may let
            // its users choose `preferred_username` or `email`, and a name taken from those
            // could pre-claim one an administrator later grants roles to.
            let local: String = who
                .subject
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .take(64)
                .collect();
            let suffix = object_id.simple().to_string();
            let names = [
                format!("{local}#EXT#@{host}"),
                format!("{local}_{}#EXT#@{host}", &suffix[..8]),
            ];
            names
                .into_iter()
                .map(|upn| {
                    DirectoryObject::User(User {
                        object_id,
                        display_name: who
                            .display_name
                            .clone()
                            .or_else(|| who.username.clone())
                            .unwrap_or_else(|| nickname_of(&upn)),
                        mail_nickname: nickname_of(&upn),
                        user_principal_name: upn,
                        account_enabled: true,
                        password_hash: None,
                    })
                })
                .collect()
        };
        for object in candidates {
            match self
                .repo
                .insert_external(&who.issuer, &who.subject, &object)
                .await
            {
                Ok(()) => return Ok(object_id),
                Err(DirectoryWriteError::Conflict) => {
                    // Another request (or replica) may have added this caller meanwhile.
                    if let Some(id) = self.repo.find_external(&who.issuer, &who.subject).await? {
                        return Ok(id);
                    }
                }
                Err(DirectoryWriteError::NotFound) => {}
                Err(DirectoryWriteError::Store(e)) => return Err(e.into()),
            }
        }
        Err(DirectoryError::Conflict(format!(
            "No free name for the caller '{}' of '{}'.",
            who.subject, who.issuer
        )))
    }

    /// Up to `top` objects of a kind.
    ///
    /// # Errors
    /// `Store`.
    pub async fn list(
        &self,
        kind: ObjectKind,
        after: Option<Uuid>,
        top: u64,
    ) -> Result<Vec<DirectoryObject>, DirectoryError> {
        Ok(self.repo.list(kind, after, top).await?)
    }

    /// The objects of a kind whose display name is `name` (Graph's `displayName eq '...'`),
    /// or starts with it when `prefix` (`startswith(displayName,'...')`), at most `limit` of
    /// them.
    ///
    /// # Errors
    /// `Store`.
    pub async fn find_by_display_name(
        &self,
        kind: ObjectKind,
        name: &str,
        prefix: bool,
        limit: usize,
    ) -> Result<Vec<DirectoryObject>, DirectoryError> {
        self.scan(kind, limit, |o| {
            let display = o.display_name();
            display == name || (prefix && display.starts_with(name))
        })
        .await
    }

    /// Users, then groups, then service principals matching `text` without regard to
    /// case (a display name containing it, a user principal name or a service principal
    /// name starting with it), at most `limit` in all: what a person picking a member for
    /// a role assignment types. An empty `text` finds nothing.
    ///
    /// # Errors
    /// `Store`.
    pub async fn search(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<Vec<DirectoryObject>, DirectoryError> {
        let wanted = text.trim().to_lowercase();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let matches = |o: &DirectoryObject| {
            o.display_name().to_lowercase().contains(&wanted)
                || match o {
                    DirectoryObject::User(u) => {
                        u.user_principal_name.to_lowercase().starts_with(&wanted)
                    }
                    DirectoryObject::ServicePrincipal(sp) => sp
                        .service_principal_names
                        .iter()
                        .any(|n| n.to_lowercase().starts_with(&wanted)),
                    DirectoryObject::Group(_) => false,
                }
        };
        let mut found = Vec::new();
        for kind in [
            ObjectKind::User,
            ObjectKind::Group,
            ObjectKind::ServicePrincipal,
        ] {
            let left = limit - found.len();
            if left == 0 {
                break;
            }
            found.extend(self.scan(kind, left, matches).await?);
        }
        Ok(found)
    }

    /// At most `limit` objects of a kind that `keep`, walking the directory in pages:
    /// names are not indexed, and directories here are small.
    async fn scan(
        &self,
        kind: ObjectKind,
        limit: usize,
        keep: impl Fn(&DirectoryObject) -> bool,
    ) -> Result<Vec<DirectoryObject>, DirectoryError> {
        const PAGE: u64 = 500;
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self.repo.list(kind, after, PAGE).await?;
            after = page.last().map(DirectoryObject::object_id);
            let full = page.len() as u64 == PAGE;
            found.extend(page.into_iter().filter(|o| keep(o)));
            if found.len() >= limit || !full {
                found.truncate(limit);
                return Ok(found);
            }
        }
    }

    /// The user with this principal name.
    ///
    /// # Errors
    /// `Store`.
    pub async fn find_user(&self, upn: &str) -> Result<Option<User>, DirectoryError> {
        Ok(self.repo.find_user(upn).await?)
    }

    /// The service principal with this appId or name.
    ///
    /// # Errors
    /// `Store`.
    pub async fn find_service_principal(
        &self,
        name: &str,
    ) -> Result<Option<ServicePrincipal>, DirectoryError> {
        Ok(self.repo.find_service_principal(name).await?)
    }

    /// Deletes a directory object; its credentials and memberships go with it, so it can
    /// sign in and be authorized no more.
    ///
    /// # Errors
    /// `NotFound`, `Store`.
    pub async fn delete(&self, id: Uuid) -> Result<(), DirectoryError> {
        let deleted = self.repo.delete_object(id).await?;
        self.forget_cached();
        if deleted {
            Ok(())
        } else {
            Err(DirectoryError::NotFound(id.to_string()))
        }
    }

    /// Signs a service principal in with its appId and a password.
    ///
    /// # Errors
    /// `InvalidCredentials` for an unknown appId, a wrong or expired secret, or a disabled
    /// principal; `Store`.
    pub async fn sign_in_service_principal(
        &self,
        app_id: &str,
        secret: &str,
    ) -> Result<ServicePrincipal, SignInError> {
        let now = self.clock.now();
        let sp = if Uuid::parse_str(app_id).is_ok() {
            self.repo.find_service_principal(app_id).await?
        } else {
            None
        };
        let Some(sp) = sp
            .filter(|sp| sp.account_enabled && sp.app_id.to_string().eq_ignore_ascii_case(app_id))
        else {
            // Spend the time a check of a generated secret takes (the usual credential), so
            // timing tells next to nothing about the appId.
            let _ = self.secrets.verify(secret, DUMMY_DIGEST).await;
            return Err(SignInError::InvalidCredentials);
        };
        // Every valid credential is checked, so timing does not tell which one matched.
        let mut valid = false;
        for c in sp.credentials.iter().filter(|c| c.is_valid_at(now)) {
            valid |= self.secrets.verify(secret, &c.hash).await;
        }
        if valid {
            Ok(sp)
        } else {
            Err(SignInError::InvalidCredentials)
        }
    }

    /// Signs a user in with user principal name and password.
    ///
    /// # Errors
    /// `InvalidCredentials`, `Store`.
    pub async fn sign_in_user(&self, upn: &str, password: &str) -> Result<User, SignInError> {
        let user = self.repo.find_user(upn).await?;
        let hash = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = self.secrets.verify(password, &hash).await;
        match user {
            Some(user) if ok && user.account_enabled => Ok(user),
            _ => Err(SignInError::InvalidCredentials),
        }
    }

    pub(crate) async fn service_principal(
        &self,
        name: &str,
    ) -> Result<ServicePrincipal, DirectoryError> {
        if let Ok(id) = Uuid::parse_str(name) {
            for object in self.repo.get_objects(&[id]).await? {
                if let DirectoryObject::ServicePrincipal(sp) = object {
                    return Ok(sp);
                }
            }
        }
        self.repo
            .find_service_principal(name)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(name.to_owned()))
    }

    /// Whole years from now until `end`, rounded up and at least one (one without an end);
    /// an end beyond ten years gives a count that [`Self::add_password`] refuses.
    pub(crate) fn years_until(&self, end: Option<OffsetDateTime>) -> u8 {
        end.map_or(1, |end| {
            let days = (end - self.clock.now()).whole_days();
            u8::try_from((days + 364) / 365).unwrap_or(u8::MAX).max(1)
        })
    }

    async fn new_secret(
        &self,
        given: Option<&str>,
        label: Option<&str>,
        years: u8,
    ) -> Result<NewSecret, DirectoryError> {
        if !(1..=10).contains(&years) {
            return Err(DirectoryError::Invalid {
                target: "endDateTime",
                message: "A password is valid for 1 to 10 years.".to_owned(),
            });
        }
        let (secret, hash) = match given {
            Some(given) => (given.to_owned(), self.secrets.hash(given).await?),
            None => {
                let secret = self.secrets.generate();
                let hash = self.secrets.digest_generated(&secret);
                (secret, hash)
            }
        };
        let start: OffsetDateTime = self.clock.now();
        Ok(NewSecret {
            credential: PasswordCredential {
                key_id: Uuid::new_v4(),
                display_name: label.map(str::to_owned),
                hint: secret.chars().take(3).collect(),
                hash,
                start,
                end: start + Duration::days(365 * i64::from(years)),
            },
            secret,
        })
    }
}

/// A digest no secret is known to have: verified against when the service principal is
/// unknown.
const DUMMY_DIGEST: &str =
    "$sha256$0000000000000000000000000000000000000000000000000000000000000000";

/// A valid hash of an unguessable secret: verified against when the user is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2c6c4hVGbE3yKGXdF9SwJ0G9wFmv0m2b1mSx1r8iQ5g";
