//! The part of Notary's `tuf.RepoBuilder` the server uses to validate an update: load
//! roles in dependency order, each checked against what is already loaded (signatures,
//! thresholds, versions, expiry, delegation by the parent, checksums in the snapshot), and
//! generate the server-signed snapshot and timestamp.

use super::model::Signature;
use super::model::{
    BaseRole, DelegationRole, FileMeta, MetaList, Root, SignedCommon, SignedEnvelope, Targets,
    check_hashes,
};
use super::ports::{SignerError, TufCrypto};
use super::role::RoleName;
use super::root::validate_root;
use super::verify::{
    canonical_key_id, validate_certificate, verify_expiry, verify_signatures, verify_version,
};
use std::collections::{BTreeMap, VecDeque};
use time::{Duration, OffsetDateTime};

/// Default expiry of a server-generated snapshot (`notary.NotarySnapshotExpiry`, 3 years).
pub const SNAPSHOT_EXPIRY: Duration = Duration::days(3 * 365);
/// Default expiry of a server-generated timestamp (`notary.NotaryTimestampExpiry`, 14 days).
pub const TIMESTAMP_EXPIRY: Duration = Duration::days(14);

/// Why the server could not generate a snapshot or timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GenerateError {
    /// It holds fewer of the role's keys than its threshold (`ErrInsufficientSignatures`).
    CannotSign,
    /// Any other builder error (its message).
    Other(String),
    /// The signing port failed.
    Signer(SignerError),
}

/// Loaded metadata and the bytes it came from.
#[derive(Debug, Clone)]
struct Loaded<T> {
    data: T,
    bytes: Vec<u8>,
}

/// The roles loaded so far for one collection.
pub(crate) struct Builder<'a> {
    gun: &'a str,
    now: OffsetDateTime,
    crypto: TufCrypto<'a>,
    prev_root: Option<Root>,
    root: Option<Loaded<Root>>,
    targets: BTreeMap<RoleName, Loaded<Targets>>,
    snapshot: Option<Loaded<MetaList>>,
    timestamp_loaded: bool,
    not_checksummed: BTreeMap<RoleName, Vec<u8>>,
}

impl<'a> Builder<'a> {
    /// An empty builder.
    pub(crate) fn new(gun: &'a str, now: OffsetDateTime, crypto: TufCrypto<'a>) -> Self {
        Self {
            gun,
            now,
            crypto,
            prev_root: None,
            root: None,
            targets: BTreeMap::new(),
            snapshot: None,
            timestamp_loaded: false,
            not_checksummed: BTreeMap::new(),
        }
    }

    /// `BootstrapNewBuilder`: an empty builder that trusts this one's root as the previous one.
    pub(crate) fn bootstrap_new(self) -> Self {
        let prev_root = self.root.map(|r| r.data);
        Self {
            prev_root,
            ..Self::new(self.gun, self.now, self.crypto)
        }
    }

    /// `IsLoaded`.
    pub(crate) fn is_loaded(&self, role: &RoleName) -> bool {
        match role {
            RoleName::Root => self.root.is_some(),
            RoleName::Snapshot => self.snapshot.is_some(),
            RoleName::Timestamp => self.timestamp_loaded,
            _ => self.targets.contains_key(role),
        }
    }

    /// `GetLoadedVersion`: the loaded version, or 1.
    pub(crate) fn loaded_version(&self, role: &RoleName) -> i64 {
        match role {
            RoleName::Root => self.root.as_ref().map(|r| r.data.common.version),
            RoleName::Snapshot => self.snapshot.as_ref().map(|s| s.data.common.version),
            RoleName::Timestamp => None,
            _ => self.targets.get(role).map(|t| t.data.common.version),
        }
        .unwrap_or(1)
    }

    fn require(&self, roles: &[RoleName]) -> Result<(), String> {
        for role in roles {
            if !self.is_loaded(role) {
                return Err(format!("{role} must be loaded first"));
            }
        }
        Ok(())
    }

    fn loaded_root(&self) -> Result<&Root, String> {
        self.root
            .as_ref()
            .map(|r| &r.data)
            .ok_or_else(|| "root must be loaded first".to_owned())
    }

    /// `Load`: checks and loads `role` from `content`.
    ///
    /// # Errors
    /// The builder's message, as Notary words it.
    pub(crate) fn load(
        &mut self,
        role: &RoleName,
        content: &[u8],
        min_version: i64,
        allow_expired: bool,
    ) -> Result<(), String> {
        if self.is_loaded(role) {
            return Err(format!("{role} has already been loaded"));
        }
        match role {
            RoleName::Root => {}
            RoleName::Timestamp | RoleName::Snapshot | RoleName::Targets => {
                self.require(&[RoleName::Root])?;
            }
            RoleName::Delegation(_) => self.require(&[RoleName::Root, RoleName::Targets])?,
        }
        match role {
            RoleName::Root => self.load_root(content, min_version, allow_expired),
            RoleName::Snapshot => self.load_snapshot(content, min_version, allow_expired),
            RoleName::Timestamp => Err("the server never loads an uploaded timestamp".to_owned()),
            RoleName::Targets => self.load_targets(content, min_version, allow_expired),
            RoleName::Delegation(_) => {
                self.load_delegation(role, content, min_version, allow_expired)
            }
        }
    }

    /// `bytesToSigned`: checks the bytes against the loaded snapshot (or remembers them
    /// until one is loaded), then parses the envelope.
    fn bytes_to_signed(
        &mut self,
        content: &[u8],
        role: &RoleName,
    ) -> Result<SignedEnvelope, String> {
        let checksums = match role {
            RoleName::Timestamp | RoleName::Snapshot => None,
            _ => self.snapshot.as_ref().map(|s| {
                s.data
                    .meta
                    .get(role.as_str())
                    .map(|m| m.hashes.clone())
                    .unwrap_or_default()
            }),
        };
        match checksums {
            Some(hashes) => check_hashes(content, role.as_str(), &hashes)?,
            None if *role != RoleName::Timestamp => {
                self.not_checksummed.insert(role.clone(), content.to_vec());
            }
            None => {}
        }
        SignedEnvelope::parse(content)
    }

    fn check_common(
        common: &SignedCommon,
        role: &RoleName,
        min_version: i64,
        allow_expired: bool,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        verify_version(common, min_version)?;
        if !allow_expired {
            verify_expiry(common, role.as_str(), now)?;
        }
        Ok(())
    }

    fn load_root(
        &mut self,
        content: &[u8],
        min_version: i64,
        allow_expired: bool,
    ) -> Result<(), String> {
        let envelope = self.bytes_to_signed(content, &RoleName::Root)?;
        let root = validate_root(
            self.prev_root.as_ref(),
            &envelope,
            self.gun,
            self.now,
            self.crypto,
        )
        .map_err(|e| e.to_string())?;
        Self::check_common(
            &root.common,
            &RoleName::Root,
            min_version,
            allow_expired,
            self.now,
        )?;
        self.root = Some(Loaded {
            data: root,
            bytes: content.to_vec(),
        });
        Ok(())
    }

    fn load_targets(
        &mut self,
        content: &[u8],
        min_version: i64,
        allow_expired: bool,
    ) -> Result<(), String> {
        let role = RoleName::Targets;
        let base = self.loaded_root()?.base_role(&role)?;
        let envelope = self.bytes_to_signed(content, &role)?;
        verify_signatures(&envelope, &base, self.crypto.verifier).map_err(|e| e.to_string())?;
        let targets = Targets::from_signed(&envelope.signed, &role)?;
        Self::check_common(&targets.common, &role, min_version, allow_expired, self.now)?;
        self.targets.insert(
            role,
            Loaded {
                data: targets,
                bytes: content.to_vec(),
            },
        );
        Ok(())
    }

    fn load_delegation(
        &mut self,
        role: &RoleName,
        content: &[u8],
        min_version: i64,
        allow_expired: bool,
    ) -> Result<(), String> {
        let delegation = self.delegation_role(role)?;
        let envelope = self.bytes_to_signed(content, role)?;
        let targets = Targets::from_signed(&envelope.signed, role)?;
        verify_version(&targets.common, min_version)?;
        verify_signatures(&envelope, &delegation.base, self.crypto.verifier)
            .map_err(|e| e.to_string())?;
        if !allow_expired {
            verify_expiry(&targets.common, role.as_str(), self.now)?;
        }
        self.targets.insert(
            role.clone(),
            Loaded {
                data: targets,
                bytes: content.to_vec(),
            },
        );
        Ok(())
    }

    /// `Repo.GetDelegationRole`: walks the loaded targets tree from `targets` down to the
    /// parent of `name` (through delegations each parent really declares) and returns the
    /// role as its parent declares it.
    fn delegation_role(&self, name: &RoleName) -> Result<DelegationRole, String> {
        let root = self.loaded_root()?;
        if !self.targets.contains_key(&RoleName::Targets) {
            return Err("targets role has not been loaded".to_owned());
        }
        let parent = name.parent().unwrap_or(RoleName::Targets);
        let parent_name = parent.as_str();
        let mut queue = VecDeque::from([DelegationRole {
            base: root.base_role(&RoleName::Targets)?,
            paths: vec![String::new()],
        }]);
        while let Some(role) = queue.pop_front() {
            let Some(loaded) = RoleName::parse(&role.base.name)
                .ok()
                .and_then(|r| self.targets.get(&r))
            else {
                continue;
            };
            let walking_down = parent_name.starts_with(&format!("{}/", role.base.name));
            if !walking_down {
                let in_subtree = role.base.name == parent_name
                    || role.base.name.starts_with(&format!("{parent_name}/"));
                if !in_subtree {
                    continue;
                }
                if let Some(found) = loaded.data.delegation(name.as_str())? {
                    for key in found.base.keys.values() {
                        // Delegation certificates are not checked for expiry once added.
                        if let Ok(certs) = self
                            .crypto
                            .certificates
                            .parse_pem_bundle(&key.keyval.public)
                            && let Some(cert) = certs.first()
                        {
                            validate_certificate(cert, false, self.now)?;
                        }
                    }
                    return Ok(found);
                }
            }
            queue.extend(valid_delegations(&loaded.data, &role));
        }
        Err(format!(
            "tuf: invalid role {name}. delegation does not exist"
        ))
    }

    fn load_snapshot(
        &mut self,
        content: &[u8],
        min_version: i64,
        allow_expired: bool,
    ) -> Result<(), String> {
        let role = RoleName::Snapshot;
        let base = self.loaded_root()?.base_role(&role)?;
        let envelope = self.bytes_to_signed(content, &role)?;
        verify_signatures(&envelope, &base, self.crypto.verifier).map_err(|e| e.to_string())?;
        let snapshot = MetaList::snapshot_from_signed(&envelope.signed)?;
        Self::check_common(
            &snapshot.common,
            &role,
            min_version,
            allow_expired,
            self.now,
        )?;
        // validateChecksumsFromSnapshot
        let mut good = Vec::new();
        for (name, bytes) in &self.not_checksummed {
            if matches!(name, RoleName::Snapshot | RoleName::Timestamp) {
                continue;
            }
            let hashes = snapshot
                .meta
                .get(name.as_str())
                .map(|m| m.hashes.clone())
                .unwrap_or_default();
            check_hashes(bytes, name.as_str(), &hashes)?;
            good.push(name.clone());
        }
        for name in good {
            self.not_checksummed.remove(&name);
        }
        self.snapshot = Some(Loaded {
            data: snapshot,
            bytes: content.to_vec(),
        });
        Ok(())
    }

    /// Signs `payload` with the server-held keys of `role` (`signed.Sign` with the role's
    /// keys and threshold): at least `threshold` of them, or [`GenerateError::CannotSign`].
    fn sign(
        &self,
        role: &RoleName,
        base: &BaseRole,
        payload: &[u8],
    ) -> Result<Vec<Signature>, GenerateError> {
        let mut signatures = Vec::new();
        for key in base.keys.values() {
            let canonical =
                canonical_key_id(key, self.crypto.certificates).map_err(GenerateError::Other)?;
            if let Some(mut sig) = self
                .crypto
                .signer
                .sign(self.gun, role, &canonical, payload)
                .map_err(GenerateError::Signer)?
            {
                sig.keyid = key.id();
                signatures.push(sig);
            }
        }
        if i64::try_from(signatures.len()).unwrap_or(i64::MAX) < base.threshold {
            return Err(GenerateError::CannotSign);
        }
        Ok(signatures)
    }

    fn sign_meta(&self, role: &RoleName, list: &MetaList) -> Result<Vec<u8>, GenerateError> {
        let base = self
            .loaded_root()
            .and_then(|r| r.base_role(role))
            .map_err(GenerateError::Other)?;
        let signed = list.to_json();
        let payload = super::canonical::to_canonical(&signed)
            .map_err(|e| GenerateError::Other(e.to_string()))?;
        let signatures = self.sign(role, &base, &payload)?;
        SignedEnvelope { signed, signatures }
            .to_bytes()
            .map_err(GenerateError::Other)
    }

    /// `GenerateSnapshot`: the next snapshot (from `prev`, or new), with the loaded root
    /// and targets roles' lengths and hashes, signed with the server's snapshot key(s).
    pub(crate) fn generate_snapshot(
        &mut self,
        prev: Option<MetaList>,
    ) -> Result<(Vec<u8>, i64), GenerateError> {
        if self.is_loaded(&RoleName::Snapshot) {
            return Err(GenerateError::Other(
                "snapshot has already been loaded".to_owned(),
            ));
        }
        if self.timestamp_loaded {
            return Err(GenerateError::Other(
                "cannot generate snapshot if timestamp has already been loaded".to_owned(),
            ));
        }
        self.require(&[RoleName::Root])
            .map_err(GenerateError::Other)?;
        let mut snapshot = match prev {
            None => {
                self.require(&[RoleName::Targets])
                    .map_err(GenerateError::Other)?;
                MetaList {
                    common: SignedCommon {
                        kind: "Snapshot".to_owned(),
                        expires: self.now,
                        version: 0,
                    },
                    meta: BTreeMap::new(),
                }
            }
            Some(prev) => {
                prev.check_snapshot_structure()
                    .map_err(GenerateError::Other)?;
                prev
            }
        };
        if let Some(root) = &self.root {
            snapshot
                .meta
                .insert("root".to_owned(), FileMeta::of(&root.bytes));
        }
        for (role, loaded) in &self.targets {
            snapshot
                .meta
                .insert(role.to_string(), FileMeta::of(&loaded.bytes));
        }
        snapshot.common.expires = self.now + SNAPSHOT_EXPIRY;
        snapshot.common.version += 1;
        let bytes = self.sign_meta(&RoleName::Snapshot, &snapshot)?;
        let version = snapshot.common.version;
        self.not_checksummed.clear();
        self.not_checksummed
            .insert(RoleName::Snapshot, bytes.clone());
        self.snapshot = Some(Loaded {
            data: snapshot,
            bytes: bytes.clone(),
        });
        Ok((bytes, version))
    }

    /// `GenerateTimestamp`: the next timestamp (from `prev`, or new) for the loaded
    /// snapshot, signed with the server's timestamp key(s).
    pub(crate) fn generate_timestamp(
        &mut self,
        prev: Option<MetaList>,
    ) -> Result<(Vec<u8>, i64), GenerateError> {
        if self.timestamp_loaded {
            return Err(GenerateError::Other(
                "timestamp has already been loaded".to_owned(),
            ));
        }
        self.require(&[RoleName::Root, RoleName::Snapshot])
            .map_err(GenerateError::Other)?;
        let mut timestamp = match prev {
            None => MetaList {
                common: SignedCommon {
                    kind: "Timestamp".to_owned(),
                    expires: self.now,
                    version: 0,
                },
                meta: BTreeMap::new(),
            },
            Some(prev) => {
                prev.check_timestamp_structure()
                    .map_err(GenerateError::Other)?;
                prev
            }
        };
        let snapshot_bytes = self
            .snapshot
            .as_ref()
            .map(|s| s.bytes.clone())
            .unwrap_or_default();
        timestamp
            .meta
            .insert("snapshot".to_owned(), FileMeta::of(&snapshot_bytes));
        timestamp.common.expires = self.now + TIMESTAMP_EXPIRY;
        timestamp.common.version += 1;
        let bytes = self.sign_meta(&RoleName::Timestamp, &timestamp)?;
        self.not_checksummed.remove(&RoleName::Snapshot);
        self.timestamp_loaded = true;
        Ok((bytes, timestamp.common.version))
    }
}

/// `SignedTargets.GetValidDelegations`: the direct children `parent` declares, their paths
/// restricted to the parent's.
fn valid_delegations(targets: &Targets, parent: &DelegationRole) -> Vec<DelegationRole> {
    targets
        .delegations
        .roles
        .iter()
        .filter_map(|r| targets.delegation(&r.name).ok().flatten())
        .filter(|child| {
            child
                .base
                .name
                .rsplit_once('/')
                .is_some_and(|(dir, _)| dir == parent.base.name)
        })
        .map(|mut child| {
            child
                .paths
                .retain(|p| parent.paths.iter().any(|pp| p.starts_with(pp.as_str())));
            child
        })
        .collect()
}
