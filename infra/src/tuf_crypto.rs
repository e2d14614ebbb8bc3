//! The crypto of Notary v1 trust data with aws-lc-rs and x509-parser: signature
//! verification as Notary's `signed.Verifiers` (ECDSA raw `r||s` over SHA-256, Ed25519,
//! RSA-PSS and PKCS#1 v1.5 with SHA-256), certificate parsing for `*-x509` keys, and the
//! server-held timestamp/snapshot keys (generation, PKCS#8 bytes in and out, signing).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use berth_notary::model::{ECDSA_KEY, ECDSA_X509_KEY, ED25519_KEY, RSA_KEY, RSA_X509_KEY};
use berth_notary::{
    Certificate, CertificateError, CertificateKey, CertificateParser, RoleName, Signature,
    SignatureError, SignerError, TufKey, TufSignatureVerifier, TufSigner,
};
use std::collections::BTreeMap;
use std::sync::RwLock;
use time::OffsetDateTime;
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Notary's minimum RSA key size.
const MIN_RSA_BITS: usize = 2048;

/// Verifies TUF signatures and parses certificates with aws-lc-rs and x509-parser.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLcTufCrypto;

/// An elliptic curve Notary's ECDSA verifier accepts (Go's `ecdsa.Verify` with SHA-256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn scalar_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

/// The DER `SubjectPublicKeyInfo` of the first certificate of a PEM bundle (Go's
/// `pem.Decode` + `x509.ParseCertificate` in the verifiers).
fn first_certificate_spki(pem: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let block = Pem::iter_from_buffer(pem)
        .next()
        .ok_or(SignatureError::Invalid)?
        .map_err(|_| SignatureError::Invalid)?;
    let (_, cert) =
        X509Certificate::from_der(&block.contents).map_err(|_| SignatureError::Invalid)?;
    Ok(cert.public_key().raw.to_vec())
}

/// Curve of an EC `SubjectPublicKeyInfo`.
fn ec_curve(spki_der: &[u8]) -> Result<Curve, SignatureError> {
    let (_, spki) =
        SubjectPublicKeyInfo::from_der(spki_der).map_err(|_| SignatureError::Invalid)?;
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.10045.2.1" {
        return Err(SignatureError::Invalid);
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    match curve.as_deref() {
        Some("1.2.840.10045.3.1.7") => Ok(Curve::P256),
        Some("1.3.132.0.34") => Ok(Curve::P384),
        Some("1.3.132.0.35") => Ok(Curve::P521),
        _ => Err(SignatureError::Invalid),
    }
}

/// RSA modulus size of an RSA `SubjectPublicKeyInfo`.
fn rsa_bits(spki_der: &[u8]) -> Result<usize, SignatureError> {
    let (_, spki) =
        SubjectPublicKeyInfo::from_der(spki_der).map_err(|_| SignatureError::Invalid)?;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => Ok(rsa.key_size()),
        _ => Err(SignatureError::Invalid),
    }
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from fixed-size big-endian `r` and `s`.
fn fixed_to_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed: &[u8] = {
            let start = bytes
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(bytes.len().saturating_sub(1));
            &bytes[start..]
        };
        let mut out = vec![0x02];
        let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
        push_len(&mut out, trimmed.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
        out
    }
    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 128 {
            out.push(u8::try_from(len).unwrap_or(0));
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
            out.extend(bytes);
        }
    }
    let body: Vec<u8> = [integer(r), integer(s)].concat();
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend(body);
    out
}

impl AwsLcTufCrypto {
    fn verify_ecdsa(key: &TufKey, sig: &[u8], msg: &[u8]) -> Result<(), SignatureError> {
        let spki = match key.keytype.as_str() {
            ECDSA_X509_KEY => first_certificate_spki(&key.keyval.public)?,
            ECDSA_KEY => key.keyval.public.clone(),
            _ => return Err(SignatureError::InvalidKeyType),
        };
        let curve = ec_curve(&spki)?;
        if sig.len() != 2 * curve.scalar_len() {
            return Err(SignatureError::Invalid);
        }
        let (r, s) = sig.split_at(curve.scalar_len());
        let result =
            match curve {
                Curve::P256 => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &spki)
                    .verify(msg, sig),
                Curve::P384 => UnparsedPublicKey::new(&signature::ECDSA_P384_SHA256_ASN1, &spki)
                    .verify(msg, &fixed_to_der(r, s)),
                Curve::P521 => UnparsedPublicKey::new(&signature::ECDSA_P521_SHA256_FIXED, &spki)
                    .verify(msg, sig),
            };
        result.map_err(|_| SignatureError::Invalid)
    }

    fn rsa_spki(key: &TufKey) -> Result<Vec<u8>, SignatureError> {
        match key.keytype.as_str() {
            RSA_X509_KEY => first_certificate_spki(&key.keyval.public),
            RSA_KEY => Ok(key.keyval.public.clone()),
            _ => Err(SignatureError::InvalidKeyType),
        }
    }

    fn verify_rsa(
        spki: &[u8],
        alg: &'static signature::RsaParameters,
        sig: &[u8],
        msg: &[u8],
    ) -> Result<(), SignatureError> {
        if rsa_bits(spki)? < MIN_RSA_BITS {
            return Err(SignatureError::InvalidKey(format!(
                "RSA key must be at least {MIN_RSA_BITS} bits."
            )));
        }
        if sig.len() < MIN_RSA_BITS / 8 {
            return Err(SignatureError::Invalid);
        }
        UnparsedPublicKey::new(alg, spki)
            .verify(msg, sig)
            .map_err(|_| SignatureError::Invalid)
    }
}

impl TufSignatureVerifier for AwsLcTufCrypto {
    fn verify(
        &self,
        key: &TufKey,
        method: &str,
        sig: &[u8],
        msg: &[u8],
    ) -> Result<(), SignatureError> {
        match method {
            "ecdsa" => Self::verify_ecdsa(key, sig, msg),
            "eddsa" => {
                if key.keytype != ED25519_KEY {
                    return Err(SignatureError::InvalidKeyType);
                }
                if key.keyval.public.len() != 32 {
                    return Err(SignatureError::InvalidKey(
                        "ed25519 public key must be 32 bytes.".to_owned(),
                    ));
                }
                if sig.len() != 64 {
                    return Err(SignatureError::Invalid);
                }
                UnparsedPublicKey::new(&signature::ED25519, &key.keyval.public)
                    .verify(msg, sig)
                    .map_err(|_| SignatureError::Invalid)
            }
            "rsapss" => Self::verify_rsa(
                &Self::rsa_spki(key)?,
                &signature::RSA_PSS_2048_8192_SHA256,
                sig,
                msg,
            ),
            "rsapkcs1v15" => Self::verify_rsa(
                &Self::rsa_spki(key)?,
                &signature::RSA_PKCS1_2048_8192_SHA256,
                sig,
                msg,
            ),
            "pycrypto-pkcs#1 pss" => {
                // Notary reads the `rsa` key's bytes as PEM here.
                if key.keytype != RSA_KEY {
                    return Err(SignatureError::InvalidKeyType);
                }
                let block = Pem::iter_from_buffer(&key.keyval.public)
                    .next()
                    .ok_or(SignatureError::Invalid)?
                    .map_err(|_| SignatureError::Invalid)?;
                Self::verify_rsa(
                    &block.contents,
                    &signature::RSA_PSS_2048_8192_SHA256,
                    sig,
                    msg,
                )
            }
            other => Err(SignatureError::UnsupportedMethod(other.to_owned())),
        }
    }
}

/// OIDs of the SHA-1 certificate signature algorithms Notary refuses.
const SHA1_SIGNATURE_OIDS: [&str; 3] = [
    "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
    "1.2.840.10040.4.3",    // dsa-with-sha1
    "1.2.840.10045.4.1",    // ecdsa-with-SHA1
];

fn certificate_from_der(der: &[u8]) -> Result<Certificate, CertificateError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| CertificateError(format!("x509: {e}")))?;
    let time = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t)
            .map_err(|e| CertificateError(format!("x509: validity out of range: {e}")))
    };
    let spki = cert.public_key();
    let key = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => CertificateKey::Rsa {
            spki: spki.raw.to_vec(),
            bits: rsa.key_size(),
        },
        Ok(PublicKey::EC(_)) => CertificateKey::Ecdsa {
            spki: spki.raw.to_vec(),
        },
        _ => CertificateKey::Other,
    };
    Ok(Certificate {
        der: der.to_vec(),
        // Go keeps the last common name of the subject.
        common_name: cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .last()
            .unwrap_or_default()
            .to_owned(),
        not_before: time(cert.validity().not_before.timestamp())?,
        not_after: time(cert.validity().not_after.timestamp())?,
        is_ca: cert.is_ca(),
        sha1_signature: SHA1_SIGNATURE_OIDS
            .contains(&cert.signature_algorithm.algorithm.to_id_string().as_str()),
        key,
    })
}

impl CertificateParser for AwsLcTufCrypto {
    fn parse_pem_bundle(&self, pem: &[u8]) -> Result<Vec<Certificate>, CertificateError> {
        let mut certs = Vec::new();
        for block in Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| CertificateError(format!("pem: {e}")))?;
            if block.label != "CERTIFICATE" {
                return Err(CertificateError(format!(
                    "invalid pem block type: {}",
                    block.label
                )));
            }
            certs.push(certificate_from_der(&block.contents)?);
        }
        if certs.is_empty() {
            return Err(CertificateError("no valid certificates found".to_owned()));
        }
        Ok(certs)
    }
}

/// Why a server key could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server key: {0}")]
pub struct ServerKeyError(String);

/// A private key the server holds for one collection's timestamp or snapshot role: its TUF
/// public key and its private key as PKCS#8 DER (the bytes to store, encrypted, at rest).
#[derive(Clone, PartialEq, Eq)]
pub struct ServerKey {
    /// The collection (GUN).
    pub gun: String,
    /// `timestamp` or `snapshot`.
    pub role: RoleName,
    /// The public key as it goes into root.json (`ecdsa`: DER SPKI; `ed25519`: raw 32 bytes).
    pub public: TufKey,
    /// PKCS#8 DER of the private key.
    pub private_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("gun", &self.gun)
            .field("role", &self.role)
            .field("key_id", &self.public.id())
            .finish_non_exhaustive()
    }
}

impl ServerKey {
    /// A new ECDSA P-256 key (notary-server's `key_algorithm: ecdsa`).
    ///
    /// # Errors
    /// [`ServerKeyError`] when key generation fails.
    pub fn generate_ecdsa(gun: &str, role: RoleName) -> Result<Self, ServerKeyError> {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|e| ServerKeyError(e.to_string()))?;
        let private = pair
            .to_pkcs8v1()
            .map_err(|e| ServerKeyError(e.to_string()))?;
        let public = pair
            .public_key()
            .as_der()
            .map_err(|e| ServerKeyError(e.to_string()))?;
        Ok(Self {
            gun: gun.to_owned(),
            role,
            public: TufKey::new(ECDSA_KEY, public.as_ref().to_vec()),
            private_pkcs8: private.as_ref().to_vec(),
        })
    }

    /// A new Ed25519 key (notary-server's local signer, which ignores `key_algorithm`).
    ///
    /// # Errors
    /// [`ServerKeyError`] when key generation fails.
    pub fn generate_ed25519(gun: &str, role: RoleName) -> Result<Self, ServerKeyError> {
        let pair = Ed25519KeyPair::generate().map_err(|e| ServerKeyError(e.to_string()))?;
        let private = pair
            .to_pkcs8v1()
            .map_err(|e| ServerKeyError(e.to_string()))?;
        Ok(Self {
            gun: gun.to_owned(),
            role,
            public: TufKey::new(ED25519_KEY, pair.public_key().as_ref().to_vec()),
            private_pkcs8: private.as_ref().to_vec(),
        })
    }

    /// A key read back from its PKCS#8 bytes; `keytype` is `ecdsa` (P-256) or `ed25519`.
    ///
    /// # Errors
    /// [`ServerKeyError`] when the bytes are not such a key.
    pub fn from_pkcs8(
        gun: &str,
        role: RoleName,
        keytype: &str,
        private_pkcs8: &[u8],
    ) -> Result<Self, ServerKeyError> {
        let public = match keytype {
            ECDSA_KEY => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    private_pkcs8,
                )
                .map_err(|e| ServerKeyError(e.to_string()))?;
                let der = pair
                    .public_key()
                    .as_der()
                    .map_err(|e| ServerKeyError(e.to_string()))?;
                der.as_ref().to_vec()
            }
            ED25519_KEY => Ed25519KeyPair::from_pkcs8_maybe_unchecked(private_pkcs8)
                .map_err(|e| ServerKeyError(e.to_string()))?
                .public_key()
                .as_ref()
                .to_vec(),
            other => return Err(ServerKeyError(format!("unsupported key type {other}"))),
        };
        Ok(Self {
            gun: gun.to_owned(),
            role,
            public: TufKey::new(keytype, public),
            private_pkcs8: private_pkcs8.to_vec(),
        })
    }

    /// Signs `payload` as Notary does: `ecdsa` (raw `r||s`) or `eddsa`.
    ///
    /// # Errors
    /// [`ServerKeyError`] when the key does not load or signing fails.
    pub fn sign(&self, payload: &[u8]) -> Result<Signature, ServerKeyError> {
        let (method, sig) = match self.public.keytype.as_str() {
            ECDSA_KEY => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &self.private_pkcs8,
                )
                .map_err(|e| ServerKeyError(e.to_string()))?;
                let sig = pair
                    .sign(&SystemRandom::new(), payload)
                    .map_err(|e| ServerKeyError(e.to_string()))?;
                ("ecdsa", sig.as_ref().to_vec())
            }
            ED25519_KEY => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&self.private_pkcs8)
                    .map_err(|e| ServerKeyError(e.to_string()))?;
                ("eddsa", pair.sign(payload).as_ref().to_vec())
            }
            other => return Err(ServerKeyError(format!("unsupported key type {other}"))),
        };
        Ok(Signature {
            keyid: self.public.id(),
            method: method.to_owned(),
            sig,
        })
    }
}

/// The server's keys of some collections, in memory (loaded from storage by the caller
/// before a validation), looked up by GUN and key ID as Notary's crypto service does.
#[derive(Debug, Default)]
pub struct InMemoryTufSigner {
    keys: RwLock<BTreeMap<(String, String), ServerKey>>,
}

impl InMemoryTufSigner {
    /// A signer holding `keys`.
    #[must_use]
    pub fn new(keys: impl IntoIterator<Item = ServerKey>) -> Self {
        let signer = Self::default();
        for key in keys {
            signer.add(key);
        }
        signer
    }

    /// Holds one more key.
    pub fn add(&self, key: ServerKey) {
        if let Ok(mut keys) = self.keys.write() {
            keys.insert((key.gun.clone(), key.public.id()), key);
        }
    }
}

impl TufSigner for InMemoryTufSigner {
    fn sign(
        &self,
        gun: &str,
        _role: &RoleName,
        key_id: &str,
        payload: &[u8],
    ) -> Result<Option<Signature>, SignerError> {
        let keys = self
            .keys
            .read()
            .map_err(|_| SignerError("key store lock poisoned".to_owned()))?;
        let Some(key) = keys.get(&(gun.to_owned(), key_id.to_owned())) else {
            return Ok(None);
        };
        key.sign(payload)
            .map(Some)
            .map_err(|e| SignerError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    //! Real Notary output (see `notary/tests/fixtures/tuf/README.md`) through the real
    //! validation with real crypto.

    use super::*;
    use berth_notary::encoding::base64_decode;
    use berth_notary::{
        MetaList, MetaUpdate, SignedEnvelope, TufCrypto, UpdateError, UploadedFile,
        ValidationError, canonical, validate_update,
    };
    use serde_json::Value;
    use std::path::{Path, PathBuf};

    const APP: &str = "example.com/app";
    const SRVSNAP: &str = "example.com/srvsnap";

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../notary/tests/fixtures/tuf")
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(fixtures().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or(Value::Null)
    }

    /// The parts of one captured upload, named as the notary CLI names them.
    fn upload(dir: &str) -> Vec<UploadedFile> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<UploadedFile>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            entries.sort();
            for path in entries {
                if path.is_dir() {
                    walk(base, &path, out);
                } else {
                    let rel = path.strip_prefix(base).unwrap_or(&path).to_string_lossy();
                    out.push(UploadedFile {
                        filename: rel.trim_end_matches(".json").to_owned(),
                        data: std::fs::read(&path).unwrap_or_default(),
                    });
                }
            }
        }
        let base = fixtures().join(dir);
        let mut out = Vec::new();
        walk(&base, &base, &mut out);
        assert!(!out.is_empty(), "{dir} has files");
        out
    }

    fn server_keys() -> Vec<ServerKey> {
        let keys = json(&read("server-keys.json"));
        keys.as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                let field = |name: &str| k[name].as_str().unwrap_or_default().to_owned();
                let key = ServerKey::from_pkcs8(
                    &field("gun"),
                    RoleName::parse(&field("role")).unwrap_or(RoleName::Timestamp),
                    &field("keytype"),
                    &base64_decode(&field("private_pkcs8")).unwrap_or_default(),
                )
                .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    key.public.id(),
                    field("key_id"),
                    "key ID of the signer's key"
                );
                key
            })
            .collect()
    }

    fn now() -> OffsetDateTime {
        // The fixtures were made on 2026-11-25; their root certificates last ten years.
        OffsetDateTime::from_unix_timestamp(1_795_651_200).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// A collection as the storage would hold it: the current file of each role.
    #[derive(Default, Clone)]
    struct Store(BTreeMap<RoleName, Vec<u8>>);

    impl Store {
        fn apply(&mut self, updates: &[MetaUpdate]) {
            for u in updates {
                self.0.insert(u.role.clone(), u.data.clone());
            }
        }
    }

    struct Server {
        signer: InMemoryTufSigner,
    }

    impl Server {
        fn with_notary_keys() -> Self {
            Self {
                signer: InMemoryTufSigner::new(server_keys()),
            }
        }

        fn without_keys() -> Self {
            Self {
                signer: InMemoryTufSigner::default(),
            }
        }

        fn crypto(&self) -> TufCrypto<'_> {
            TufCrypto {
                verifier: &AwsLcTufCrypto,
                certificates: &AwsLcTufCrypto,
                signer: &self.signer,
            }
        }

        fn validate(
            &self,
            gun: &str,
            files: &[UploadedFile],
            store: &Store,
            at: OffsetDateTime,
        ) -> Result<Vec<MetaUpdate>, UpdateError> {
            validate_update(gun, files, &store.0, at, self.crypto())
        }

        fn accept(&self, gun: &str, dir: &str, store: &mut Store) -> Vec<MetaUpdate> {
            let updates = self
                .validate(gun, &upload(dir), store, now())
                .unwrap_or_else(|e| panic!("{dir}: {e:?}"));
            store.apply(&updates);
            updates
        }
    }

    fn roles(updates: &[MetaUpdate]) -> Vec<String> {
        updates.iter().map(|u| u.role.to_string()).collect()
    }

    fn version_of(updates: &[MetaUpdate], role: &RoleName) -> i64 {
        updates
            .iter()
            .find(|u| &u.role == role)
            .map_or(0, |u| u.version)
    }

    /// Every key of every root and targets file of the fixtures, by ID.
    fn all_keys() -> BTreeMap<String, TufKey> {
        let mut keys = BTreeMap::new();
        for path in fixture_files() {
            let value = json(&std::fs::read(&path).unwrap_or_default());
            for holder in [
                &value["signed"]["keys"],
                &value["signed"]["delegations"]["keys"],
            ] {
                if let Some(map) = holder.as_object() {
                    for (id, key) in map {
                        if let Ok(key) = serde_json::from_value::<TufKey>(key.clone()) {
                            keys.insert(id.clone(), key);
                        }
                    }
                }
            }
        }
        for key in server_keys() {
            keys.insert(key.public.id(), key.public);
        }
        keys
    }

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
        walk(&fixtures(), &mut out);
        out.sort();
        out
    }

    #[test]
    fn every_signature_notary_made_verifies_over_our_canonical_bytes() {
        let keys = all_keys();
        let mut checked = 0;
        for path in fixture_files() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let envelope =
                SignedEnvelope::parse(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let message = canonical::to_canonical(&envelope.signed).unwrap_or_default();
            // Notary writes the payload canonically: the file holds the very bytes signed.
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                text.starts_with(&format!(
                    "{{\"signed\":{}",
                    String::from_utf8_lossy(&message)
                )),
                "{path:?} embeds the canonical payload"
            );
            for sig in &envelope.signatures {
                let key = keys
                    .get(&sig.keyid)
                    .unwrap_or_else(|| panic!("key {}", sig.keyid));
                assert_eq!(key.id(), sig.keyid);
                assert_eq!(
                    AwsLcTufCrypto.verify(key, &sig.method, &sig.sig, &message),
                    Ok(()),
                    "{path:?} signature by {}",
                    sig.keyid
                );
                let mut flipped = sig.sig.clone();
                flipped[5] ^= 1;
                assert!(
                    AwsLcTufCrypto
                        .verify(key, &sig.method, &flipped, &message)
                        .is_err()
                );
                checked += 1;
            }
        }
        assert!(checked >= 20, "checked {checked} signatures");
    }

    #[test]
    fn the_notary_cli_history_of_a_collection_validates_step_by_step() {
        let server = Server::with_notary_keys();
        let mut store = Store::default();

        // notary init -p: root, targets and snapshot from the client.
        let first = server.accept(APP, "app/upload-01", &mut store);
        assert_eq!(roles(&first), ["root", "targets", "snapshot", "timestamp"]);
        // Our timestamp covers the same snapshot bytes as notary-server's did.
        let ours = json(&first[3].data);
        let notarys = json(&read("app/server/1.timestamp.json"));
        assert_eq!(ours["signed"]["meta"], notarys["signed"]["meta"]);
        assert_eq!(ours["signed"]["version"], 1);

        let second = server.accept(APP, "app/upload-02", &mut store);
        assert_eq!(roles(&second), ["targets", "snapshot", "timestamp"]);
        assert_eq!(version_of(&second, &RoleName::Timestamp), 2);

        // A delegation, then a publish into it.
        server.accept(APP, "app/upload-03", &mut store);
        let delegated = server.accept(APP, "app/upload-04", &mut store);
        assert_eq!(
            roles(&delegated),
            ["targets/releases", "snapshot", "timestamp"]
        );

        // key rotate snapshot -r: a new root naming the server's snapshot key, no snapshot
        // uploaded: the server makes and signs it.
        let rotated = server.accept(APP, "app/upload-05", &mut store);
        assert_eq!(roles(&rotated), ["root", "snapshot", "timestamp"]);
        // The client's last snapshot was version 5 (its first one is 2).
        assert_eq!(version_of(&rotated, &RoleName::Snapshot), 6);

        for dir in ["app/upload-06", "app/upload-07"] {
            let updates = server.accept(APP, dir, &mut store);
            assert_eq!(roles(&updates), ["targets", "snapshot", "timestamp"]);
        }
        // Root key rotation, signed by the old and the new root keys.
        let root_rotation = server.accept(APP, "app/upload-08", &mut store);
        assert_eq!(roles(&root_rotation), ["root", "snapshot", "timestamp"]);
        assert_eq!(version_of(&root_rotation, &RoleName::Root), 3);
        let after = server.accept(APP, "app/upload-09", &mut store);
        assert_eq!(version_of(&after, &RoleName::Timestamp), 9);

        // What the server generated is consistent: the snapshot covers the stored files,
        // the timestamp the snapshot, and both carry valid signatures of the server keys.
        let snapshot = &store.0[&RoleName::Snapshot];
        let timestamp = &store.0[&RoleName::Timestamp];
        // notary-server, given the same uploads, ended with the same versions and meta.
        for (role, ours) in [("snapshot", snapshot), ("timestamp", timestamp)] {
            let notarys = json(&read(&format!("app/server/current.{role}.json")));
            let ours = json(ours);
            assert_eq!(
                ours["signed"]["version"], notarys["signed"]["version"],
                "{role}"
            );
            if role == "snapshot" {
                assert_eq!(ours["signed"]["meta"], notarys["signed"]["meta"]);
            }
        }
        let snap = SignedEnvelope::parse(snapshot).unwrap_or_else(|e| panic!("{e}"));
        let snap_meta: MetaList =
            serde_json::from_value(snap.signed.clone()).unwrap_or_else(|e| panic!("{e}"));
        for role in [
            RoleName::Root,
            RoleName::Targets,
            RoleName::parse("targets/releases").unwrap_or(RoleName::Root),
        ] {
            let expected = berth_notary::FileMeta::of(&store.0[&role]);
            assert_eq!(
                snap_meta.meta[role.as_str()].hashes,
                expected.hashes,
                "{role}"
            );
        }
        let ts = SignedEnvelope::parse(timestamp).unwrap_or_else(|e| panic!("{e}"));
        let ts_meta: MetaList =
            serde_json::from_value(ts.signed.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ts_meta.meta["snapshot"].hashes,
            berth_notary::FileMeta::of(snapshot).hashes
        );
        let keys = all_keys();
        for envelope in [&snap, &ts] {
            let message = canonical::to_canonical(&envelope.signed).unwrap_or_default();
            for sig in &envelope.signatures {
                assert_eq!(
                    AwsLcTufCrypto.verify(&keys[&sig.keyid], &sig.method, &sig.sig, &message),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn a_collection_initialised_with_a_server_managed_snapshot_validates() {
        let server = Server::with_notary_keys();
        let mut store = Store::default();
        let updates = server.accept(SRVSNAP, "srvsnap/upload-10", &mut store);
        assert_eq!(
            roles(&updates),
            ["root", "targets", "snapshot", "timestamp"]
        );
        // The snapshot we generate lists what notary-server's listed.
        let ours = json(&updates[2].data);
        let notarys = json(&read("srvsnap/server/1.snapshot.json"));
        assert_eq!(ours["signed"]["meta"], notarys["signed"]["meta"]);
        assert_eq!(ours["signed"]["_type"], "Snapshot");
        // An upload with no file at all (the CLI's `publish` with nothing staged) only
        // refreshes the server's snapshot and timestamp.
        let empty = server
            .validate(SRVSNAP, &[], &store, now())
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(roles(&empty), ["snapshot", "timestamp"]);
        assert_eq!(version_of(&empty, &RoleName::Snapshot), 2);
        let notarys = json(&read("srvsnap/server/current.snapshot.json"));
        assert_eq!(
            json(&empty[0].data)["signed"]["meta"],
            notarys["signed"]["meta"]
        );
        assert_eq!(
            json(&empty[0].data)["signed"]["version"],
            notarys["signed"]["version"]
        );
    }

    fn history(server: &Server, steps: &[&str]) -> Store {
        let mut store = Store::default();
        for dir in steps {
            server.accept(APP, dir, &mut store);
        }
        store
    }

    fn invalid(result: Result<Vec<MetaUpdate>, UpdateError>) -> ValidationError {
        match result {
            Err(UpdateError::Invalid(e)) => e,
            other => panic!("expected INVALID_UPDATE, got {other:?}"),
        }
    }

    fn replace(files: &mut [UploadedFile], role: &str, data: Vec<u8>) {
        for f in files.iter_mut().filter(|f| f.filename == role) {
            f.data = data.clone();
        }
    }

    #[test]
    fn a_flipped_signature_byte_is_refused() {
        let server = Server::with_notary_keys();
        let mut files = upload("app/upload-01");
        let mut targets = json(&read("app/upload-01/targets.json"));
        let sig = targets["signatures"][0]["sig"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut bytes = base64_decode(&sig).unwrap_or_default();
        bytes[10] ^= 0x01;
        targets["signatures"][0]["sig"] =
            Value::String(berth_notary::encoding::base64_encode(&bytes));
        replace(
            &mut files,
            "targets",
            serde_json::to_vec(&targets).unwrap_or_default(),
        );
        let error = server.validate(APP, &files, &Store::default(), now());
        assert_eq!(
            error.as_ref().map_err(UpdateError::code).err(),
            Some("INVALID_UPDATE")
        );
        let e = invalid(error);
        assert!(
            matches!(&e, ValidationError::BadTargets { msg } if msg == "valid signatures did not meet threshold for targets"),
            "{e:?}"
        );
        assert_eq!(e.detail()["Name"], "ErrBadTargets");
    }

    #[test]
    fn a_replayed_older_version_is_refused() {
        let server = Server::with_notary_keys();
        let store = history(
            &server,
            &["app/upload-01", "app/upload-02", "app/upload-03"],
        );
        let error = server.validate(APP, &upload("app/upload-02"), &store, now());
        let Err(e) = error else {
            panic!("replay accepted")
        };
        assert_eq!(e.code(), "VERSION");
        assert!(
            matches!(
                e,
                UpdateError::OldVersion {
                    role: RoleName::Targets
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_snapshot_with_a_wrong_checksum_is_refused() {
        let server = Server::with_notary_keys();
        let store = history(&server, &["app/upload-01"]);
        // Targets v2 with the (validly signed) snapshot v1, whose targets hash is v1's.
        let mut files = upload("app/upload-02");
        replace(&mut files, "snapshot", read("app/upload-01/snapshot.json"));
        let e = invalid(server.validate(APP, &files, &store, now()));
        assert!(
            matches!(&e, ValidationError::BadSnapshot { msg } if msg.starts_with("sha256 checksum for targets did not match")),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_roles_are_refused() {
        let server = Server::with_notary_keys();
        let store = history(
            &server,
            &["app/upload-01", "app/upload-02", "app/upload-03"],
        );
        for name in ["mirror", "targets/Releases", "targets/"] {
            let files = [UploadedFile {
                filename: name.to_owned(),
                data: read("app/upload-04/targets/releases.json"),
            }];
            let Err(e) = server.validate(APP, &files, &store, now()) else {
                panic!("{name} accepted")
            };
            assert_eq!(e.code(), "INVALID_ROLE", "{name}");
        }
        // A well-formed delegation name its parent does not delegate to.
        let files = [UploadedFile {
            filename: "targets/other".to_owned(),
            data: read("app/upload-04/targets/releases.json"),
        }];
        let e = invalid(server.validate(APP, &files, &store, now()));
        assert!(
            matches!(&e, ValidationError::BadTargets { msg } if msg.contains("delegation does not exist")),
            "{e:?}"
        );
        // Nor before the parent declared it (state before `delegation add`).
        let early = history(&server, &["app/upload-01", "app/upload-02"]);
        let e = invalid(server.validate(APP, &upload("app/upload-04"), &early, now()));
        assert!(
            matches!(&e, ValidationError::BadTargets { msg } if msg.contains("delegation does not exist")),
            "{e:?}"
        );
    }

    #[test]
    fn targets_signed_by_a_key_not_in_root_are_refused() {
        let server = Server::with_notary_keys();
        let store = history(&server, &["app/upload-01"]);
        // Another collection's targets (signed by its own targets key).
        let files = [UploadedFile {
            filename: "targets".to_owned(),
            data: read("srvsnap/upload-10/targets.json"),
        }];
        let e = invalid(server.validate(APP, &files, &store, now()));
        assert!(
            matches!(&e, ValidationError::BadTargets { msg } if msg.contains("did not meet threshold")),
            "{e:?}"
        );
        // And a root whose certificate was issued for another GUN.
        let files = [UploadedFile {
            filename: "root".to_owned(),
            data: read("srvsnap/upload-10/root.json"),
        }];
        let e = invalid(server.validate(APP, &files, &Store::default(), now()));
        assert!(
            matches!(&e, ValidationError::BadRoot { msg } if msg.contains("unable to retrieve valid leaf certificates")),
            "{e:?}"
        );
    }

    #[test]
    fn a_root_rotation_needs_both_the_old_and_the_new_root_keys() {
        let server = Server::with_notary_keys();
        let steps = [
            "app/upload-01",
            "app/upload-02",
            "app/upload-03",
            "app/upload-04",
            "app/upload-05",
            "app/upload-06",
            "app/upload-07",
        ];
        let store = history(&server, &steps);
        let old_root = json(&store.0[&RoleName::Root]);
        let old_ids: Vec<String> = old_root["signed"]["roles"]["root"]["keyids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let new_root = json(&read("app/upload-08/root.json"));
        assert_eq!(new_root["signatures"].as_array().map(Vec::len), Some(2));
        for (keep_old, expected) in [
            (false, "could not rotate trust to a new trusted root"),
            (true, "failed to validate integrity of roots"),
        ] {
            let mut tampered = new_root.clone();
            if let Some(sigs) = tampered["signatures"].as_array_mut() {
                sigs.retain(|s| old_ids.iter().any(|id| s["keyid"] == id.as_str()) == keep_old);
            }
            let files = [UploadedFile {
                filename: "root".to_owned(),
                data: serde_json::to_vec(&tampered).unwrap_or_default(),
            }];
            let e = invalid(server.validate(APP, &files, &store, now()));
            assert!(
                matches!(&e, ValidationError::BadRoot { msg } if msg.contains(expected)),
                "{e:?}"
            );
        }
        // A root that skips a version is refused before anything else.
        let early = history(&server, &["app/upload-01"]);
        let e = invalid(server.validate(APP, &upload("app/upload-08"), &early, now()));
        assert!(
            matches!(&e, ValidationError::BadRoot { msg } if msg == "Root modifications must increment the version. Current 1, new 3"),
            "{e:?}"
        );
    }

    #[test]
    fn an_uploaded_timestamp_is_ignored_and_the_server_makes_its_own() {
        let server = Server::with_notary_keys();
        let mut files = upload("app/upload-01");
        files.push(UploadedFile {
            filename: "timestamp".to_owned(),
            data: read("app/server/9.timestamp.json"),
        });
        let updates = server
            .validate(APP, &files, &Store::default(), now())
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            roles(&updates),
            ["root", "targets", "snapshot", "timestamp"]
        );
        assert_eq!(version_of(&updates, &RoleName::Timestamp), 1);
    }

    #[test]
    fn a_first_upload_without_root_is_refused() {
        let server = Server::with_notary_keys();
        let e = invalid(server.validate(APP, &upload("app/upload-02"), &Store::default(), now()));
        assert_eq!(
            e,
            ValidationError::Validation {
                msg: "no pre-existing root and no root provided in update.".to_owned()
            }
        );
        assert_eq!(e.detail()["Name"], "ErrValidation");
    }

    #[test]
    fn without_the_snapshot_key_the_client_must_send_a_snapshot() {
        let server = Server::with_notary_keys();
        let store = history(&server, &["app/upload-01"]);
        let files: Vec<UploadedFile> = upload("app/upload-02")
            .into_iter()
            .filter(|f| f.filename != "snapshot")
            .collect();
        let e = invalid(server.validate(APP, &files, &store, now()));
        assert!(
            matches!(&e, ValidationError::BadHierarchy { missing, .. } if missing == "snapshot"),
            "{e:?}"
        );
        assert_eq!(e.detail()["Error"]["Missing"], "snapshot");
    }

    #[test]
    fn without_the_timestamp_key_nothing_is_accepted() {
        let e = invalid(Server::without_keys().validate(
            APP,
            &upload("app/upload-01"),
            &Store::default(),
            now(),
        ));
        assert_eq!(
            e,
            ValidationError::BadRoot {
                msg: "no  timestamp keys exist on the server".to_owned()
            }
        );
    }

    #[test]
    fn expired_uploads_are_refused() {
        let server = Server::with_notary_keys();
        let store = history(&server, &["app/upload-01"]);
        // The client's targets v2 expire 2029-11-24; its root certificate lasts until 2036.
        let later = OffsetDateTime::from_unix_timestamp(1_893_456_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let e = invalid(server.validate(APP, &upload("app/upload-02"), &store, later));
        assert!(
            matches!(&e, ValidationError::BadTargets { msg } if msg.starts_with("targets expired at")),
            "{e:?}"
        );
    }

    #[test]
    fn malformed_parts_are_refused_as_notary_does() {
        let server = Server::with_notary_keys();
        let files = [UploadedFile {
            filename: "root.json".to_owned(),
            data: b"{not json".to_vec(),
        }];
        let e = server.validate(APP, &files, &Store::default(), now()).err();
        assert_eq!(e.as_ref().map(UpdateError::code), Some("MALFORMED_JSON"));
        let files = [UploadedFile {
            filename: ".json".to_owned(),
            data: b"{}".to_vec(),
        }];
        let e = server.validate(APP, &files, &Store::default(), now()).err();
        assert_eq!(e.as_ref().map(UpdateError::code), Some("NO_FILENAME"));
        // Go decodes `{}` into zero values: not malformed, but a root of version 0.
        let files = [UploadedFile {
            filename: "root".to_owned(),
            data: b"{}".to_vec(),
        }];
        let e = invalid(server.validate(APP, &files, &Store::default(), now()));
        assert_eq!(
            e,
            ValidationError::BadRoot {
                msg: "Root modifications must increment the version. Current 1, new 0".to_owned()
            }
        );
    }

    fn part(filename: &str, path: &str) -> UploadedFile {
        UploadedFile {
            filename: filename.to_owned(),
            data: read(path),
        }
    }

    /// A refusal's code, message and detail (the HTTP envelope around them is the api's).
    fn as_sent(e: &UpdateError) -> (String, String, Option<Value>) {
        (e.code().to_owned(), e.message().to_owned(), e.detail())
    }

    /// The code, message and detail of the one error of a captured notary-server body.
    fn sent(body: &[u8]) -> (String, String, Option<Value>) {
        let error = &json(body)["errors"][0];
        let text = |field: &str| error[field].as_str().unwrap_or_default().to_owned();
        (text("code"), text("message"), error.get("detail").cloned())
    }

    #[test]
    fn refusals_answer_what_debian_notary_server_answered_to_the_same_requests() {
        let keyless = Server::without_keys();
        let mut flipped = json(&read("app/upload-01/targets.json"));
        let sig = flipped["signatures"][0]["sig"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut bytes = base64_decode(&sig).unwrap_or_default();
        bytes[10] ^= 0x01;
        flipped["signatures"][0]["sig"] =
            Value::String(berth_notary::encoding::base64_encode(&bytes));
        let flipped = UploadedFile {
            filename: "targets".to_owned(),
            data: serde_json::to_vec(&flipped).unwrap_or_default(),
        };
        let raw = |filename: &str, data: &[u8]| UploadedFile {
            filename: filename.to_owned(),
            data: data.to_vec(),
        };
        let cases: Vec<(&str, Vec<UploadedFile>)> = vec![
            ("no-timestamp-key", upload("app/upload-01")),
            (
                "no-root",
                vec![part("targets", "app/upload-02/targets.json")],
            ),
            (
                "invalid-role",
                vec![part("targets/Upper", "app/upload-02/targets.json")],
            ),
            ("malformed-json", vec![raw("targets", b"nope")]),
            ("empty-root", vec![raw("root", b"{}")]),
            (
                "flipped-signature",
                vec![
                    part("root", "app/upload-01/root.json"),
                    flipped,
                    part("snapshot", "app/upload-01/snapshot.json"),
                ],
            ),
            (
                "foreign-targets",
                vec![
                    part("root", "app/upload-01/root.json"),
                    part("targets", "srvsnap/upload-10/targets.json"),
                ],
            ),
            (
                "foreign-root",
                vec![part("root", "srvsnap/upload-10/root.json")],
            ),
            (
                "wrong-checksum",
                vec![
                    part("root", "app/upload-01/root.json"),
                    part("targets", "app/upload-01/targets.json"),
                    part("snapshot", "app/upload-02/snapshot.json"),
                ],
            ),
            (
                "unknown-delegation",
                vec![
                    part("root", "app/upload-01/root.json"),
                    part("targets", "app/upload-01/targets.json"),
                    part("targets/other", "app/upload-04/targets/releases.json"),
                ],
            ),
            (
                "root-skips-a-version",
                vec![part("root", "app/upload-08/root.json")],
            ),
        ];
        for (name, files) in cases {
            let answer = keyless
                .validate(APP, &files, &Store::default(), now())
                .err()
                .map(|e| as_sent(&e));
            assert_eq!(
                answer,
                Some(sent(&read(&format!("refusals/{name}.json")))),
                "{name}"
            );
        }
        // The replay needs stored metadata, so the server that holds the keys.
        let server = Server::with_notary_keys();
        let store = history(
            &server,
            &["app/upload-01", "app/upload-02", "app/upload-03"],
        );
        let answer = server
            .validate(APP, &upload("app/upload-02"), &store, now())
            .err()
            .map(|e| as_sent(&e));
        assert_eq!(answer, Some(sent(&read("refusals/replay.json"))));
    }

    #[test]
    fn generated_server_keys_sign_what_the_verifier_accepts() {
        for key in [
            ServerKey::generate_ecdsa(APP, RoleName::Timestamp),
            ServerKey::generate_ed25519(APP, RoleName::Snapshot),
        ] {
            let key = key.unwrap_or_else(|e| panic!("{e}"));
            let again = ServerKey::from_pkcs8(
                APP,
                key.role.clone(),
                &key.public.keytype,
                &key.private_pkcs8,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(again.public, key.public);
            let sig = again.sign(b"payload").unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(sig.keyid, key.public.id());
            assert_eq!(
                AwsLcTufCrypto.verify(&key.public, &sig.method, &sig.sig, b"payload"),
                Ok(())
            );
            assert!(
                AwsLcTufCrypto
                    .verify(&key.public, &sig.method, &sig.sig, b"other")
                    .is_err()
            );
        }
    }

    #[test]
    fn notary_root_certificates_parse_as_go_reads_them() {
        let root = json(&read("app/upload-01/root.json"));
        let ids: Vec<&str> = root["signed"]["roles"]["root"]["keyids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let key: TufKey = serde_json::from_value(root["signed"]["keys"][ids[0]].clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let certs = AwsLcTufCrypto
            .parse_pem_bundle(&key.keyval.public)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].common_name, APP);
        assert!(!certs[0].is_ca && !certs[0].sha1_signature);
        assert!(matches!(certs[0].key, CertificateKey::Ecdsa { .. }));
        // Re-encoding the certificate as Go does gives back the key (and so its ID).
        let reencoded = berth_notary::verify::cert_bundle_to_key(&certs[0], &[]);
        assert_eq!(reencoded.map(|k| k.id()), Some(ids[0].to_owned()));
        assert!(
            AwsLcTufCrypto
                .parse_pem_bundle(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
        assert!(AwsLcTufCrypto.parse_pem_bundle(b"").is_err());
    }
}
