//! Berth's Notary v1 server, as notary-server 0.7 behaves: the TUF metadata model,
//! Notary's canonical JSON and encodings, the server-side validation of an upload
//! ([`validate_update`]), and the use case that serves it ([`EmbeddedTrustServer`], which is
//! also a [`berth_domain::trust::TrustStore`]). Crypto and storage stay behind ports
//! ([`TufSignatureVerifier`], [`CertificateParser`], [`TufSigner`], [`TufMetadataStore`],
//! [`TufServerKeys`]), which `berth-infra` implements; the HTTP surface, its statuses and
//! Notary's error envelope are `berth-api`'s.
//!
//! It depends on the domain (the trust-store port, the clock, the store's errors), never the
//! other way: the domain knows content trust as a policy, a catalog and a wipe, not TUF.

mod builder;
pub mod canonical;
pub mod encoding;
mod keys;
pub mod model;
pub mod ports;
mod refresh;
mod role;
pub mod root;
mod server;
mod store;
mod update;
pub mod verify;

pub use builder::{SNAPSHOT_EXPIRY, TIMESTAMP_EXPIRY};
pub use keys::{KeyWriteError, NewKey, TufServerKeys};
pub use model::{FileMeta, MetaList, Root, Signature, SignedEnvelope, SignedMeta, Targets, TufKey};
pub use ports::{
    Certificate, CertificateError, CertificateKey, CertificateParser, SignatureError, SignerError,
    TufCrypto, TufSignatureVerifier, TufSigner,
};
pub use refresh::{RefreshError, is_fresh, refresh_server_signed};
pub use role::{InvalidRoleName, RoleName};
pub use server::{
    ChangefeedError, DEFAULT_CHANGEFEED_PAGE, EmbeddedTrustServer, KeyError, MAX_CHANGEFEED_PAGE,
    PublishError, ReadError, changefeed_window,
};
pub use store::{
    ChangeCategory, ChangeWindow, StoredTufFile, TufChange, TufMetadataStore, TufSelector,
    TufWriteError, WriteGate,
};
pub use update::{
    MetaUpdate, UpdateError, UploadedFile, ValidationError, parse_upload, validate_update,
};
