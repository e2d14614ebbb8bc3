//! Notary's TUF metadata as JSON (`tuf/data`): the signed envelope, keys, and the four kinds
//! of `signed` payload, parsed as leniently as Go's `encoding/json` does (unknown fields are
//! ignored, missing ones take their zero value) and checked by the same structure rules
//! (`isValidRootStructure`, `isValidTargetsStructure`, `IsValidSnapshotStructure`,
//! `IsValidTimestampStructure`).

use super::canonical::to_canonical;
use super::encoding::{base64_decode, base64_encode, go_time, parse_go_time, sha256_hex};
use super::role::RoleName;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Key type of a plain ECDSA public key (DER `SubjectPublicKeyInfo`).
pub const ECDSA_KEY: &str = "ecdsa";
/// Key type of an ECDSA key wrapped in a PEM X.509 certificate (chain).
pub const ECDSA_X509_KEY: &str = "ecdsa-x509";
/// Key type of a plain RSA public key (DER `SubjectPublicKeyInfo`).
pub const RSA_KEY: &str = "rsa";
/// Key type of an RSA key wrapped in a PEM X.509 certificate (chain).
pub const RSA_X509_KEY: &str = "rsa-x509";
/// Key type of an Ed25519 public key (32 raw bytes).
pub const ED25519_KEY: &str = "ed25519";

/// A TUF public key as it appears in root and delegation metadata (`data.TUFKey`); the
/// private half, if any is present, is ignored as Notary ignores it for key IDs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TufKey {
    /// `ecdsa`, `ecdsa-x509`, `rsa`, `rsa-x509`, `ed25519` (or anything else, never valid).
    #[serde(default)]
    pub keytype: String,
    /// The public key bytes (base64 in JSON).
    #[serde(default)]
    pub keyval: KeyVal,
}

/// `keyval` of a [`TufKey`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct KeyVal {
    /// Public key bytes: DER SPKI, PEM certificate(s), or raw Ed25519 bytes.
    #[serde(default, deserialize_with = "bytes")]
    pub public: Vec<u8>,
}

impl TufKey {
    /// A public key of `keytype` with `public` bytes.
    #[must_use]
    pub fn new(keytype: &str, public: Vec<u8>) -> Self {
        Self {
            keytype: keytype.to_owned(),
            keyval: KeyVal { public },
        }
    }

    /// Notary's key ID: hex SHA-256 of the canonical JSON
    /// `{"keytype":…,"keyval":{"private":null,"public":"<base64>"}}`.
    #[must_use]
    pub fn id(&self) -> String {
        let value = json!({
            "keytype": self.keytype,
            "keyval": {"private": null, "public": base64_encode(&self.keyval.public)},
        });
        sha256_hex(&to_canonical(&value).unwrap_or_default())
    }

    /// The key as JSON, as Notary serves it (`{"keytype","keyval":{"private":null,"public"}}`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "keytype": self.keytype,
            "keyval": {"private": null, "public": base64_encode(&self.keyval.public)},
        })
    }
}

/// One signature over the canonical `signed` payload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Signature {
    /// ID of the key that made it.
    #[serde(default)]
    pub keyid: String,
    /// Signature method, lower-cased as Notary does when it reads it
    /// (`ecdsa`, `eddsa`, `rsapss`, `rsapkcs1v15`, `pycrypto-pkcs#1 pss`).
    #[serde(default, deserialize_with = "lowercase")]
    pub method: String,
    /// Signature bytes (base64 in JSON).
    #[serde(default, deserialize_with = "bytes")]
    pub sig: Vec<u8>,
}

impl Signature {
    /// The signature as JSON, in the field order Notary writes it.
    #[must_use]
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Field order of Go's `data.Signature` (keyid, method, sig); encoding/json writes
        // struct fields in declaration order.
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"keyid\":");
        out.extend_from_slice(json_string(&self.keyid).as_bytes());
        out.extend_from_slice(b",\"method\":");
        out.extend_from_slice(json_string(&self.method).as_bytes());
        out.extend_from_slice(b",\"sig\":\"");
        out.extend_from_slice(base64_encode(&self.sig).as_bytes());
        out.extend_from_slice(b"\"}");
        out
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A metadata file: the `signed` payload (kept as JSON, since signatures cover its
/// canonical form) and its signatures (`data.Signed`).
#[derive(Debug, Clone, PartialEq)]
pub struct SignedEnvelope {
    /// The `signed` payload.
    pub signed: Value,
    /// The signatures.
    pub signatures: Vec<Signature>,
}

impl SignedEnvelope {
    /// Parses a metadata file.
    ///
    /// # Errors
    /// A message when it is not a JSON object with a `signed` payload and well-formed
    /// signatures.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            signed: Option<Value>,
            #[serde(default, deserialize_with = "signatures")]
            signatures: Vec<Signature>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        match raw.signed {
            Some(signed) if !signed.is_null() => Ok(Self {
                signed,
                signatures: raw.signatures,
            }),
            _ => Err("metadata contained an empty payload".to_owned()),
        }
    }

    /// The file as Notary's server writes metadata it signs itself (`json.Marshal` of
    /// `data.Signed`): `{"signed":<canonical payload>,"signatures":[…]}`.
    ///
    /// # Errors
    /// A message when the payload has no canonical form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = b"{\"signed\":".to_vec();
        out.extend(to_canonical(&self.signed).map_err(|e| e.to_string())?);
        out.extend_from_slice(b",\"signatures\":[");
        for (i, sig) in self.signatures.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend(sig.to_json_bytes());
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}

/// Fields every payload has (`data.SignedCommon`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedCommon {
    /// `Root`, `Targets`, `Snapshot` or `Timestamp`.
    #[serde(rename = "_type", default)]
    pub kind: String,
    /// When it stops being valid (`null` or missing is Go's zero time, long expired).
    #[serde(default = "zero_time", deserialize_with = "go_time_field")]
    pub expires: OffsetDateTime,
    /// Its version; each new one must be higher.
    #[serde(default)]
    pub version: i64,
}

impl Default for SignedCommon {
    fn default() -> Self {
        Self {
            kind: String::new(),
            expires: zero_time(),
            version: 0,
        }
    }
}

/// What the server needs of an upload before validating it (`data.SignedMeta`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedMeta {
    /// The common fields of the payload (Go's zero values when absent or `null`).
    #[serde(default, deserialize_with = "common_or_null")]
    pub signed: SignedCommon,
    /// The signatures (parsed only to refuse malformed ones, as Notary does).
    #[serde(default, deserialize_with = "signatures")]
    pub signatures: Vec<Signature>,
}

/// `keyids` and `threshold` of a role (`data.RootRole`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct RootRole {
    /// The IDs of the role's keys.
    #[serde(default, deserialize_with = "strings")]
    pub keyids: Vec<String>,
    /// How many of them must sign.
    #[serde(default)]
    pub threshold: i64,
}

/// The payload of `root.json` (`data.Root`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Root {
    /// Common fields.
    #[serde(flatten)]
    pub common: SignedCommon,
    /// Every key of the base roles, by ID.
    #[serde(default, deserialize_with = "map_or_null")]
    pub keys: BTreeMap<String, TufKey>,
    /// The base roles (a `null` role is kept as `None`).
    #[serde(default, deserialize_with = "map_or_null")]
    pub roles: BTreeMap<String, Option<RootRole>>,
    /// `consistent_snapshot`.
    #[serde(default)]
    pub consistent_snapshot: bool,
}

/// A delegation declared by a targets role (`data.Role`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DelegatedRole {
    /// The delegated role's name (`targets/...`).
    #[serde(default)]
    pub name: String,
    /// The IDs of its keys (in the delegating role's `delegations.keys`).
    #[serde(default, deserialize_with = "strings")]
    pub keyids: Vec<String>,
    /// How many of them must sign.
    #[serde(default)]
    pub threshold: i64,
    /// Target path prefixes it may sign for.
    #[serde(default, deserialize_with = "strings")]
    pub paths: Vec<String>,
}

/// `delegations` of a targets role (`data.Delegations`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Delegations {
    /// Keys of the delegated roles, by ID.
    #[serde(default, deserialize_with = "map_or_null")]
    pub keys: BTreeMap<String, TufKey>,
    /// The delegated roles.
    #[serde(default, deserialize_with = "list_or_null")]
    pub roles: Vec<DelegatedRole>,
}

/// Length and hashes of a file (`data.FileMeta`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct FileMeta {
    /// Length in bytes.
    #[serde(default)]
    pub length: i64,
    /// Digests by algorithm (`sha256`, `sha512`; others are ignored).
    #[serde(default, deserialize_with = "hashes")]
    pub hashes: BTreeMap<String, Vec<u8>>,
    /// Free-form data, kept as is.
    #[serde(default)]
    pub custom: Option<Value>,
}

impl FileMeta {
    /// Length, SHA-256 and SHA-512 of `bytes` (`data.NewFileMeta` with Notary's default hashes).
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        let mut hashes = BTreeMap::new();
        hashes.insert("sha256".to_owned(), Sha256::digest(bytes).to_vec());
        hashes.insert("sha512".to_owned(), Sha512::digest(bytes).to_vec());
        Self {
            length: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            hashes,
            custom: None,
        }
    }

    /// The JSON form (`custom` omitted when absent).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut hashes = Map::new();
        for (alg, digest) in &self.hashes {
            hashes.insert(alg.clone(), Value::String(base64_encode(digest)));
        }
        let mut obj = Map::new();
        obj.insert("hashes".to_owned(), Value::Object(hashes));
        obj.insert("length".to_owned(), Value::from(self.length));
        if let Some(custom) = &self.custom {
            obj.insert("custom".to_owned(), custom.clone());
        }
        Value::Object(obj)
    }
}

/// The payload of a targets or delegation file (`data.Targets`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Targets {
    /// Common fields.
    #[serde(flatten)]
    pub common: SignedCommon,
    /// Targets by name.
    #[serde(default, deserialize_with = "map_or_null")]
    pub targets: BTreeMap<String, FileMeta>,
    /// Delegations to child roles.
    #[serde(default)]
    pub delegations: Delegations,
}

/// The payload of `snapshot.json` or `timestamp.json` (`data.Snapshot`, `data.Timestamp`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MetaList {
    /// Common fields.
    #[serde(flatten)]
    pub common: SignedCommon,
    /// Length and hashes of other metadata files, by role name.
    #[serde(default, deserialize_with = "map_or_null")]
    pub meta: BTreeMap<String, FileMeta>,
}

impl MetaList {
    /// The payload as JSON (what gets canonicalized and signed).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut meta = Map::new();
        for (role, file) in &self.meta {
            meta.insert(role.clone(), file.to_json());
        }
        json!({
            "_type": self.common.kind,
            "expires": go_time(self.common.expires),
            "meta": Value::Object(meta),
            "version": self.common.version,
        })
    }
}

/// `ErrInvalidMetadata` text: `<role> type metadata invalid: <msg>`.
fn invalid(role: &str, msg: &str) -> String {
    format!("{role} type metadata invalid: {msg}")
}

fn check_type(common: &SignedCommon, role: &str, expected: &str) -> Result<(), String> {
    if common.kind != expected {
        return Err(invalid(
            role,
            &format!("expected type {expected}, not {}", common.kind),
        ));
    }
    if common.version < 1 {
        let msg = if expected == "Root" {
            "version cannot be less than 1"
        } else {
            "version cannot be less than one"
        };
        return Err(invalid(role, msg));
    }
    Ok(())
}

/// `isValidRootRoleStructure`: threshold at least 1, every key ID has a key.
fn check_role_structure(
    containing: &str,
    name: &str,
    keyids: &[String],
    threshold: i64,
    keys: &BTreeMap<String, TufKey>,
) -> Result<(), String> {
    if threshold < 1 {
        return Err(invalid(
            containing,
            &format!("invalid threshold specified for {name}: {threshold} "),
        ));
    }
    for id in keyids {
        if !keys.contains_key(id) {
            return Err(invalid(
                containing,
                &format!("key ID {id} specified in {name} without corresponding key"),
            ));
        }
    }
    Ok(())
}

impl Root {
    /// Parses and checks a root payload (`data.RootFromSigned`).
    ///
    /// # Errors
    /// The message Notary would give.
    pub fn from_signed(signed: &Value) -> Result<Self, String> {
        let root: Self = serde_json::from_value(signed.clone()).map_err(|e| e.to_string())?;
        check_type(&root.common, "root", "Root")?;
        for base in ["root", "targets", "snapshot", "timestamp"] {
            let Some(Some(role)) = root.roles.get(base) else {
                return Err(invalid(
                    "root",
                    &format!("missing {base} role specification"),
                ));
            };
            check_role_structure("root", base, &role.keyids, role.threshold, &root.keys)?;
        }
        Ok(root)
    }

    /// Keys and threshold of a base role (`SignedRoot.BuildBaseRole`).
    ///
    /// # Errors
    /// `tuf: invalid role …` when the role or one of its keys is missing.
    pub fn base_role(&self, role: &RoleName) -> Result<BaseRole, String> {
        let Some(Some(data)) = self.roles.get(role.as_str()) else {
            return Err(format!(
                "tuf: invalid role {role}. role not found in root file"
            ));
        };
        let mut keys = BTreeMap::new();
        for id in &data.keyids {
            let Some(key) = self.keys.get(id) else {
                return Err(format!(
                    "tuf: invalid role {role}. key with ID {id} was not found in root metadata"
                ));
            };
            keys.insert(id.clone(), key.clone());
        }
        Ok(BaseRole {
            name: role.to_string(),
            keys,
            threshold: data.threshold,
        })
    }
}

impl Targets {
    /// Parses and checks a targets or delegation payload for `role`
    /// (`data.TargetsFromSigned`).
    ///
    /// # Errors
    /// The message Notary would give.
    pub fn from_signed(signed: &Value, role: &RoleName) -> Result<Self, String> {
        let targets: Self = serde_json::from_value(signed.clone()).map_err(|e| e.to_string())?;
        let name = role.as_str();
        check_type(&targets.common, name, "Targets")?;
        for child in &targets.delegations.roles {
            let valid = RoleName::parse(&child.name)
                .ok()
                .filter(|r| matches!(r, RoleName::Delegation(_)))
                .and_then(|r| r.parent())
                .is_some_and(|parent| parent == *role);
            if !valid {
                return Err(invalid(
                    name,
                    &format!("delegation role {} invalid", child.name),
                ));
            }
            check_role_structure(
                name,
                &child.name,
                &child.keyids,
                child.threshold,
                &targets.delegations.keys,
            )?;
        }
        Ok(targets)
    }

    /// The delegation `name` declared here, with its keys (`SignedTargets.BuildDelegationRole`).
    ///
    /// # Errors
    /// When a key it lists is missing, or it is not declared (`None` inside `Ok`).
    pub fn delegation(&self, name: &str) -> Result<Option<DelegationRole>, String> {
        let Some(role) = self.delegations.roles.iter().find(|r| r.name == name) else {
            return Ok(None);
        };
        let mut keys = BTreeMap::new();
        for id in &role.keyids {
            let Some(key) = self.delegations.keys.get(id) else {
                return Err(format!(
                    "tuf: invalid role {name}. role lists unknown key {id} as a signing key"
                ));
            };
            keys.insert(id.clone(), key.clone());
        }
        Ok(Some(DelegationRole {
            base: BaseRole {
                name: name.to_owned(),
                keys,
                threshold: role.threshold,
            },
            paths: role.paths.clone(),
        }))
    }
}

impl MetaList {
    /// Parses and checks a snapshot payload (`data.SnapshotFromSigned`).
    ///
    /// # Errors
    /// The message Notary would give.
    pub fn snapshot_from_signed(signed: &Value) -> Result<Self, String> {
        let snapshot: Self = serde_json::from_value(signed.clone()).map_err(|e| e.to_string())?;
        snapshot.check_snapshot_structure()?;
        Ok(snapshot)
    }

    /// `data.IsValidSnapshotStructure`.
    ///
    /// # Errors
    /// The message Notary would give.
    pub fn check_snapshot_structure(&self) -> Result<(), String> {
        check_type(&self.common, "snapshot", "Snapshot")?;
        for file in ["root", "targets"] {
            let hashes = self.meta.get(file).map(|m| &m.hashes);
            if !hashes.is_some_and(|h| h.contains_key("sha256")) {
                return Err(invalid(
                    "snapshot",
                    &format!("missing {file} sha256 checksum information"),
                ));
            }
            if let Err(e) = check_hash_structures(hashes.unwrap_or(&BTreeMap::new())) {
                return Err(invalid(
                    "snapshot",
                    &format!("invalid {file} checksum information, {e}"),
                ));
            }
        }
        Ok(())
    }

    /// Parses and checks a timestamp payload (`data.TimestampFromSigned`).
    ///
    /// # Errors
    /// The message Notary would give.
    pub fn timestamp_from_signed(signed: &Value) -> Result<Self, String> {
        let timestamp: Self = serde_json::from_value(signed.clone()).map_err(|e| e.to_string())?;
        timestamp.check_timestamp_structure()?;
        Ok(timestamp)
    }

    /// `data.IsValidTimestampStructure`.
    ///
    /// # Errors
    /// The message Notary would give.
    pub fn check_timestamp_structure(&self) -> Result<(), String> {
        check_type(&self.common, "timestamp", "Timestamp")?;
        let hashes = self.meta.get("snapshot").map(|m| &m.hashes);
        if !hashes.is_some_and(|h| h.contains_key("sha256")) {
            return Err(invalid(
                "timestamp",
                "missing snapshot sha256 checksum information",
            ));
        }
        if let Err(e) = check_hash_structures(hashes.unwrap_or(&BTreeMap::new())) {
            return Err(invalid(
                "timestamp",
                &format!("invalid snapshot checksum information, {e}"),
            ));
        }
        Ok(())
    }
}

/// `data.CheckValidHashStructures`: known digests have the right length, and there is at
/// least one.
fn check_hash_structures(hashes: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let mut count = 0;
    for (alg, digest) in hashes {
        let size = match alg.as_str() {
            "sha256" => 32,
            "sha512" => 64,
            _ => continue,
        };
        if digest.len() != size {
            return Err(format!("{alg} checksum invalid"));
        }
        count += 1;
    }
    if count == 0 {
        return Err("at least one supported hash needed".to_owned());
    }
    Ok(())
}

/// `data.CheckHashes`: every known digest of `hashes` matches `payload`, and there is one.
///
/// # Errors
/// `sha256 checksum for <name> did not match: expected <hex>`, or
/// `no checksums for supported algorithms were provided for <name>`.
pub fn check_hashes(
    payload: &[u8],
    name: &str,
    hashes: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let mut count = 0;
    for (alg, expected) in hashes {
        let actual = match alg.as_str() {
            "sha256" => Sha256::digest(payload).to_vec(),
            "sha512" => Sha512::digest(payload).to_vec(),
            _ => continue,
        };
        if !constant_time_eq(&actual, expected) {
            return Err(format!(
                "{alg} checksum for {name} did not match: expected {}",
                hex::encode(expected)
            ));
        }
        count += 1;
    }
    if count == 0 {
        return Err(format!(
            "no checksums for supported algorithms were provided for {name}"
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The keys and threshold a role's signatures are checked against (`data.BaseRole`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRole {
    /// The role name (for messages).
    pub name: String,
    /// Its keys by the ID the metadata gives them.
    pub keys: BTreeMap<String, TufKey>,
    /// How many distinct keys must have signed.
    pub threshold: i64,
}

/// A delegated role with its keys and paths (`data.DelegationRole`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationRole {
    /// Keys and threshold.
    pub base: BaseRole,
    /// Path prefixes it may sign for.
    pub paths: Vec<String>,
}

// --- serde helpers: Go's zero values for null/missing fields -------------------------------

fn zero_time() -> OffsetDateTime {
    time::Date::from_calendar_date(1, time::Month::January, 1)
        .map(|d| d.midnight().assume_utc())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn go_time_field<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(zero_time()),
        Some(text) => parse_go_time(&text).map_err(serde::de::Error::custom),
    }
}

fn common_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<SignedCommon, D::Error> {
    Ok(Option::<SignedCommon>::deserialize(d)?.unwrap_or_default())
}

fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(Vec::new()),
        Some(text) => base64_decode(&text).map_err(serde::de::Error::custom),
    }
}

fn lowercase<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .unwrap_or_default()
        .to_lowercase())
}

fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

fn signatures<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Signature>, D::Error> {
    Ok(Option::<Vec<Signature>>::deserialize(d)?.unwrap_or_default())
}

fn list_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn map_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<BTreeMap<String, T>, D::Error> {
    Ok(Option::<BTreeMap<String, T>>::deserialize(d)?.unwrap_or_default())
}

fn hashes<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
    let raw = Option::<BTreeMap<String, Option<String>>>::deserialize(d)?.unwrap_or_default();
    raw.into_iter()
        .map(|(alg, text)| {
            let digest = match text {
                None => Vec::new(),
                Some(t) => base64_decode(&t).map_err(serde::de::Error::custom)?,
            };
            Ok((alg, digest))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Against files the real notary CLI and notary-server wrote
    //! (`notary/tests/fixtures/tuf`, see its README).

    use super::*;
    use std::path::{Path, PathBuf};

    fn fixture_files() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if !path.ends_with("refusals") {
                        walk(&path, out);
                    }
                } else if path.extension().is_some_and(|e| e == "json")
                    && !path.ends_with("server-keys.json")
                {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tuf"),
            &mut out,
        );
        out.sort();
        out
    }

    #[test]
    fn notary_files_embed_exactly_our_canonical_bytes_of_their_payload() {
        let files = fixture_files();
        assert!(files.len() > 20, "fixtures found: {}", files.len());
        for path in files {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let envelope =
                SignedEnvelope::parse(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let canonical = to_canonical(&envelope.signed).unwrap_or_default();
            // notary writes `{"signed":<canonical payload>,"signatures":[...]}`, so
            // re-serializing the envelope must give back the file byte for byte.
            assert_eq!(
                envelope.to_bytes().unwrap_or_default(),
                bytes,
                "{path:?} round-trips"
            );
            assert!(bytes.starts_with(&[b"{\"signed\":".as_slice(), &canonical].concat()));
        }
    }

    #[test]
    fn key_ids_are_the_sha256_of_the_canonical_key_as_notary_computes_them() {
        let mut checked = 0;
        for path in fixture_files() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let envelope = SignedEnvelope::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
            for holder in [
                &envelope.signed["keys"],
                &envelope.signed["delegations"]["keys"],
            ] {
                let keys: BTreeMap<String, TufKey> =
                    serde_json::from_value(holder.clone()).unwrap_or_default();
                for (id, key) in keys {
                    assert_eq!(key.id(), id, "{path:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 10, "checked {checked} keys");
    }

    #[test]
    fn notary_payloads_parse_and_pass_the_structure_rules() {
        for path in fixture_files() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let envelope = SignedEnvelope::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
            let kind = envelope.signed["_type"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let result = match kind.as_str() {
                "Root" => Root::from_signed(&envelope.signed).map(|_| ()),
                "Targets" => {
                    let name = if path.to_string_lossy().contains("releases") {
                        "targets/releases"
                    } else {
                        "targets"
                    };
                    let role = RoleName::parse(name).unwrap_or(RoleName::Targets);
                    Targets::from_signed(&envelope.signed, &role).map(|_| ())
                }
                "Snapshot" => MetaList::snapshot_from_signed(&envelope.signed).map(|_| ()),
                "Timestamp" => MetaList::timestamp_from_signed(&envelope.signed).map(|_| ()),
                other => Err(format!("unknown type {other}")),
            };
            assert_eq!(result, Ok(()), "{path:?}");
        }
    }

    #[test]
    fn structure_rules_refuse_what_notary_refuses() {
        let root_bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/tuf/app/upload-01/root.json"),
        )
        .unwrap_or_default();
        let envelope = SignedEnvelope::parse(&root_bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut no_snapshot_role = envelope.signed.clone();
        if let Some(roles) = no_snapshot_role["roles"].as_object_mut() {
            roles.remove("snapshot");
        }
        assert_eq!(
            Root::from_signed(&no_snapshot_role).err().as_deref(),
            Some("root type metadata invalid: missing snapshot role specification")
        );
        let mut zero = envelope.signed.clone();
        zero["version"] = Value::from(0);
        assert_eq!(
            Root::from_signed(&zero).err().as_deref(),
            Some("root type metadata invalid: version cannot be less than 1")
        );
        let mut wrong_type = envelope.signed.clone();
        wrong_type["_type"] = Value::from("Targets");
        assert!(Root::from_signed(&wrong_type).is_err());
        let snapshot = json!({"_type": "Snapshot", "version": 1, "expires": "2030-01-01T00:00:00Z",
            "meta": {"root": {"length": 1, "hashes": {"sha256": base64_encode(&[0; 31])}}}});
        assert!(MetaList::snapshot_from_signed(&snapshot).is_err());
        assert_eq!(
            check_hashes(b"x", "targets", &BTreeMap::new()),
            Err("no checksums for supported algorithms were provided for targets".to_owned())
        );
        assert!(check_hashes(b"x", "targets", &FileMeta::of(b"x").hashes).is_ok());
        assert!(check_hashes(b"y", "targets", &FileMeta::of(b"x").hashes).is_err());
    }

    #[test]
    fn signature_methods_are_read_lower_case_and_malformed_signatures_refused() {
        let envelope = SignedEnvelope::parse(
            br#"{"signed":{"a":1},"signatures":[{"keyid":"k","method":"ECDSA","sig":"AAEC"}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(envelope.signatures[0].method, "ecdsa");
        assert_eq!(envelope.signatures[0].sig, vec![0, 1, 2]);
        assert!(
            SignedEnvelope::parse(br#"{"signed":{"a":1},"signatures":[{"sig":"!!"}]}"#).is_err()
        );
        assert!(SignedEnvelope::parse(br#"{"signatures":[]}"#).is_err());
    }
}
