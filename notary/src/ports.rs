//! What TUF validation needs from outside the domain: signature verification, X.509
//! certificate parsing, and signing with the keys the server holds (timestamp, and snapshot
//! when the collection's snapshot is server-managed).

use super::model::{Signature, TufKey};
use super::role::RoleName;
use time::OffsetDateTime;

/// Why a signature did not verify. Notary treats every such failure alike (the signature
/// does not count towards the threshold); the variants only help logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The method is not one Notary knows (`signing method is not supported`).
    #[error("signing method is not supported: {0}")]
    UnsupportedMethod(String),
    /// The key type does not fit the method (`ErrInvalidKeyType`).
    #[error("key type is not valid for signature")]
    InvalidKeyType,
    /// The key cannot be used (unparsable, or an RSA key under 2048 bits).
    #[error("key length is not supported: {0}")]
    InvalidKey(String),
    /// The signature does not verify.
    #[error("signature was invalid")]
    Invalid,
}

/// Checks one signature (Notary's `signed.Verifiers`).
pub trait TufSignatureVerifier: Send + Sync {
    /// Verifies `signature` over `message` with `key`, by `method` (already lower-case):
    /// `ecdsa` (raw `r||s` over SHA-256, keys `ecdsa`/`ecdsa-x509`), `eddsa` (`ed25519`),
    /// `rsapss` (PSS, SHA-256, salt 32, keys `rsa`/`rsa-x509`, at least 2048 bits),
    /// `rsapkcs1v15`, and `pycrypto-pkcs#1 pss`.
    ///
    /// # Errors
    /// [`SignatureError`] when it does not verify, for whatever reason.
    fn verify(
        &self,
        key: &TufKey,
        method: &str,
        signature: &[u8],
        message: &[u8],
    ) -> Result<(), SignatureError>;
}

/// The public-key algorithm of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateKey {
    /// An ECDSA key, with its DER `SubjectPublicKeyInfo`.
    Ecdsa {
        /// DER `SubjectPublicKeyInfo`.
        spki: Vec<u8>,
    },
    /// An RSA key, with its DER `SubjectPublicKeyInfo` and modulus size in bits.
    Rsa {
        /// DER `SubjectPublicKeyInfo`.
        spki: Vec<u8>,
        /// Modulus length in bits.
        bits: usize,
    },
    /// Any other algorithm (Notary cannot use it).
    Other,
}

/// What Notary looks at in an X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The certificate's DER bytes.
    pub der: Vec<u8>,
    /// Subject common name (empty when there is none).
    pub common_name: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Basic constraints say it is a CA.
    pub is_ca: bool,
    /// Signed with a SHA-1 algorithm (Notary refuses those).
    pub sha1_signature: bool,
    /// Its public key.
    pub key: CertificateKey,
}

/// Why a PEM bundle did not give certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CertificateError(pub String);

/// Parses certificate bundles (Notary's `utils.LoadCertBundleFromPEM`).
pub trait CertificateParser: Send + Sync {
    /// Every certificate of a PEM bundle, in order.
    ///
    /// # Errors
    /// [`CertificateError`] when a PEM block is not a `CERTIFICATE`, a certificate does not
    /// parse, or there is none.
    fn parse_pem_bundle(&self, pem: &[u8]) -> Result<Vec<Certificate>, CertificateError>;
}

/// Why the server could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing service: {0}")]
pub struct SignerError(pub String);

/// Signs with the private keys the server holds for a collection (Notary's `CryptoService`
/// behind `signed.Sign`).
pub trait TufSigner: Send + Sync {
    /// Signs `payload` with the private key whose canonical key ID (for `*-x509` keys: the
    /// ID of the bare public key) is `key_id`, if the server holds it for `gun`'s `role`.
    /// The signature's `keyid` is left for the caller to set (it is the ID in the metadata).
    ///
    /// # Errors
    /// [`SignerError`] when the key store or the signing fails; holding no such key is
    /// `Ok(None)`.
    fn sign(
        &self,
        gun: &str,
        role: &RoleName,
        key_id: &str,
        payload: &[u8],
    ) -> Result<Option<Signature>, SignerError>;
}

/// The crypto TUF validation needs, in one place.
#[derive(Clone, Copy)]
pub struct TufCrypto<'a> {
    /// Verifies signatures.
    pub verifier: &'a dyn TufSignatureVerifier,
    /// Parses certificates.
    pub certificates: &'a dyn CertificateParser,
    /// Signs with server-held keys.
    pub signer: &'a dyn TufSigner,
}

impl std::fmt::Debug for TufCrypto<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TufCrypto")
    }
}
