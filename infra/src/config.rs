//! Typed configuration: defaults < `berth.toml` < `BERTH_*` environment variables.
//! Bad configuration is a clear startup error, never a panic later.

use crate::oidc::{ALLOWED_ALGORITHMS, TrustedProvider};
use crate::persistence::DatabaseTarget;
use berth_domain::arm::SubscriptionId;
use berth_domain::registry::LoginServerNaming;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// How `berthd` serves TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP: on loopback, or behind a proxy that terminates TLS.
    Off,
    /// A certificate generated for `127.0.0.1`/`localhost` into the data directory.
    SelfSigned,
    /// A configured certificate chain and key (PEM files).
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `berthd`'s settings, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (`host:port`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Data directory (SQLite file, generated certificates).
    pub data_dir: PathBuf,
    /// `BERTH_DATABASE_URL`: `postgres://...` or `sqlite://path`; SQLite in the data directory when unset.
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema for Berth's tables.
    pub database_schema: Option<String>,
    /// The public base URL clients reach this server by (for `nextLink` and operation URLs).
    pub public_url: Option<String>,
    /// The bootstrap subscription's id.
    pub subscription_id: Option<SubscriptionId>,
    /// The tenant id of the deployment.
    pub tenant_id: Option<Uuid>,
    /// TLS.
    pub tls: TlsMode,
    /// How registry login servers are named (`BERTH_LOGIN_SERVER_SUFFIX`, default
    /// `registry.localhost`; `BERTH_LOGIN_SERVER_PORT`, none by default).
    pub login_servers: LoginServerNaming,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Log format.
    pub log_format: LogFormat,
    /// The bootstrap owner's appId (generated when unset).
    pub bootstrap_client_id: Option<Uuid>,
    /// The bootstrap owner's secret (generated when unset).
    pub bootstrap_client_secret: Option<SecretString>,
    /// The audience of management (ARM) tokens, as `az cloud register` is told it.
    pub management_audience: String,
    /// Trusted external OIDC providers.
    pub oidc_providers: Vec<TrustedProvider>,
    /// The external provider people may also sign in to the portal with, if any.
    pub portal_sign_in: Option<PortalSignIn>,
    /// `iss` of registry tokens: the `issuer` a registry's and Notary's token auth is given.
    pub registry_token_issuer: String,
    /// The Notary server's `service` name, when content trust uses one.
    pub notary_service: Option<String>,
    /// The Notary server content trust uses (its URL and CA), when one is configured.
    pub notary: Option<NotaryEndpoint>,
    /// The embedded trust server, served when no Notary server is configured.
    pub trust_server: TrustServerSettings,
    /// Content trust's timing and the operation worker's lease.
    pub trust: TrustTiming,
    /// Base64 of the 32-byte key that seals secrets kept readable (signing keys, TUF keys,
    /// admin passwords); every replica needs the same. Made once into the data directory
    /// when unset.
    pub secrets_key: Option<SecretString>,
    /// `BERTH_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client (none by
    /// default), for the sign-in limiters.
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// `BERTH_METRICS_ALLOW`: peers that may read `/metrics` without a token (none by
    /// default: a token allowed to read at the root scope is needed).
    pub metrics_allow: crate::proxies::TrustedProxies,
    /// `BERTH_AUDIT_SINK`: where sign-in and registry events go (daily files under
    /// `<data_dir>/audit` by default).
    pub audit_sink: crate::diagnostics::SinkTarget,
    /// `BERTH_AUDIT_RETENTION_DAYS`: how long the daily audit files and the activity log's
    /// records are kept.
    pub audit_retention_days: u32,
    /// `BERTH_REGISTRY_BACKEND`: the data plane behind the login servers.
    pub registry_backend: RegistryBackend,
}

/// The external OIDC provider people may sign in to the portal with
/// (`BERTH_PORTAL_OIDC_*`): one of the trusted providers, of which the portal is a
/// confidential client.
#[derive(Debug, Clone)]
pub struct PortalSignIn {
    /// `BERTH_PORTAL_OIDC_ISSUER`: the provider (an issuer of `BERTH_OIDC_PROVIDERS`).
    pub issuer: String,
    /// `BERTH_PORTAL_OIDC_CLIENT_ID`: the portal's client id there.
    pub client_id: String,
    /// `BERTH_PORTAL_OIDC_CLIENT_SECRET`: its secret.
    pub client_secret: SecretString,
    /// The resource the access token is asked for: the provider's first trusted audience.
    pub resource: String,
    /// `BERTH_PORTAL_OIDC_NAME`: the provider's name on the sign-in page.
    pub name: String,
}

/// The data plane behind the login servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryBackend {
    /// `embedded` (the default): a Distribution registry run by berthd as a supervised
    /// child on a private unix socket, storing under the data directory.
    Embedded {
        /// `BERTH_REGISTRY_BINARY`: its program, looked up on `PATH` (`docker-registry`).
        binary: String,
    },
    /// A URL: a Distribution registry (or replicas behind one address) run elsewhere, that
    /// takes only tokens berthd mints for `service` (its `auth.token`: `service`, `issuer`
    /// = `BERTH_REGISTRY_TOKEN_ISSUER`, `rootcertbundle` = berthd's token certificates).
    External {
        /// Its base URL (`https://`, or `http://` on loopback).
        url: String,
        /// `BERTH_REGISTRY_BACKEND_SERVICE`: its `auth.token.service`.
        service: String,
        /// `BERTH_REGISTRY_BACKEND_CA`: a PEM file of the CA that signed its certificate.
        ca_file: Option<PathBuf>,
    },
    /// `none`: Berth is the token server of registries a team runs itself; the login
    /// servers answer `/v2/` and the token endpoints only.
    None,
}

/// The `service` an external data plane's tokens name unless
/// `BERTH_REGISTRY_BACKEND_SERVICE` says otherwise. No login server can have it (it has no
/// dot), so the token server never grants a client a token for it.
pub const DATA_PLANE_SERVICE: &str = "berth-data-plane";

/// The embedded trust server: Berth's own Notary v1 API, on a listener of its own, with the
/// TLS of the main listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustServerSettings {
    /// `BERTH_TRUST_LISTEN`: its address (default `127.0.0.1:4443`; port 0 picks one), or
    /// none (`off`): then content trust needs a Notary server (`BERTH_NOTARY_URL`).
    pub listen: Option<SocketAddr>,
    /// `BERTH_TRUST_PUBLIC_URL`: the URL clients reach it by, when a proxy is in front.
    pub public_url: Option<String>,
    /// `BERTH_TRUST_MAX_UPLOAD_BYTES`: the largest metadata upload accepted (default 16 MiB).
    pub max_upload_bytes: usize,
}

/// The `service` name of the embedded trust server, unless `BERTH_NOTARY_SERVICE` says
/// otherwise: what a Notary client's token requests name, and the tokens' audience.
pub const EMBEDDED_TRUST_SERVICE: &str = "berth-notary";

/// Where the Notary server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotaryEndpoint {
    /// `BERTH_NOTARY_URL`: its base URL.
    pub url: String,
    /// `BERTH_NOTARY_CA`: a PEM file of the CA that signed its certificate.
    pub ca_file: Option<PathBuf>,
}

/// Content trust's timing, and the lease of a running operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustTiming {
    /// `BERTH_TRUST_PUSH_TOKEN_SECS`: lifetime of a token that grants a trust-data push.
    pub push_token_secs: u32,
    /// `BERTH_NOTARY_TOKEN_LEEWAY_SECS`: how long past `exp` the Notary server accepts a
    /// token (Distribution's token check allows 60 s).
    pub token_leeway_secs: u32,
    /// `BERTH_TRUST_WIPE_PARALLELISM`: collections deleted at once by a wipe.
    pub wipe_parallelism: u32,
    /// `BERTH_OPERATION_LEASE_SECS`: how long a worker's claim of an operation lasts
    /// without renewal (another replica takes it over after that).
    pub operation_lease_secs: u32,
}

impl Default for TrustTiming {
    fn default() -> Self {
        Self {
            push_token_secs: 60,
            token_leeway_secs: 60,
            wipe_parallelism: 16,
            operation_lease_secs: 30,
        }
    }
}

/// A provider as written in `[[oidc_providers]]` or `BERTH_OIDC_PROVIDERS` (a JSON array).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderRaw {
    issuer: String,
    audiences: Vec<String>,
    subject_claim: Option<String>,
    application_claims: Option<Vec<String>>,
    tenant: Option<String>,
    algorithms: Option<Vec<String>>,
    jwks_refetch_floor_secs: Option<u64>,
}

impl ProviderRaw {
    fn validate(self) -> Result<TrustedProvider, ConfigError> {
        let key = "BERTH_OIDC_PROVIDERS";
        let issuer = self.issuer;
        let host = issuer
            .strip_prefix("https://")
            .map(|rest| (true, rest))
            .or_else(|| issuer.strip_prefix("http://").map(|rest| (false, rest)));
        let Some((https, rest)) = host else {
            return Err(invalid(
                key,
                format!("issuer '{issuer}' is not an http(s) URL"),
            ));
        };
        let host = rest.split('/').next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        // Keys fetched over plain HTTP could be swapped on the way: only on loopback.
        if !https && !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(invalid(
                key,
                format!("issuer '{issuer}' must use https (plain http only on loopback)"),
            ));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(invalid(
                key,
                format!("issuer '{issuer}' needs at least one audience"),
            ));
        }
        let subject_claim = self.subject_claim.unwrap_or_else(|| "sub".to_owned());
        if !matches!(subject_claim.as_str(), "sub" | "oid") {
            return Err(invalid(
                key,
                format!("subject_claim '{subject_claim}' is not sub or oid"),
            ));
        }
        let algorithms = self
            .algorithms
            .unwrap_or_else(|| ["RS256", "PS256", "ES256"].map(str::to_owned).to_vec());
        if let Some(bad) = algorithms
            .iter()
            .find(|a| !ALLOWED_ALGORITHMS.contains(&a.as_str()))
        {
            return Err(invalid(
                key,
                format!(
                    "algorithm '{bad}' is not accepted (asymmetric only: {})",
                    ALLOWED_ALGORITHMS.join(", ")
                ),
            ));
        }
        Ok(TrustedProvider {
            issuer,
            audiences: self.audiences,
            subject_claim,
            application_claims: self
                .application_claims
                .unwrap_or_else(|| ["appid", "azp", "client_id"].map(str::to_owned).to_vec()),
            tenant: self.tenant,
            algorithms,
            jwks_refetch_floor_secs: self.jwks_refetch_floor_secs.unwrap_or(30),
        })
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is invalid.
    #[error("invalid setting {key}: {message}")]
    Invalid {
        /// The setting (env var name).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The settings as written in the file or the environment, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    database_schema: Option<String>,
    public_url: Option<String>,
    subscription_id: Option<String>,
    tenant_id: Option<String>,
    tls: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    login_server_suffix: Option<String>,
    login_server_port: Option<String>,
    max_body_bytes: Option<String>,
    log_format: Option<String>,
    bootstrap_client_id: Option<String>,
    bootstrap_client_secret: Option<String>,
    management_audience: Option<String>,
    oidc_providers: Option<Vec<ProviderRaw>>,
    portal_oidc_issuer: Option<String>,
    portal_oidc_client_id: Option<String>,
    portal_oidc_client_secret: Option<String>,
    portal_oidc_name: Option<String>,
    registry_token_issuer: Option<String>,
    notary_service: Option<String>,
    notary_url: Option<String>,
    notary_ca: Option<String>,
    trust_listen: Option<String>,
    trust_public_url: Option<String>,
    trust_max_upload_bytes: Option<String>,
    trust_push_token_secs: Option<String>,
    notary_token_leeway_secs: Option<String>,
    trust_wipe_parallelism: Option<String>,
    operation_lease_secs: Option<String>,
    secrets_key: Option<String>,
    trusted_proxies: Option<String>,
    metrics_allow: Option<String>,
    audit_sink: Option<String>,
    audit_retention_days: Option<String>,
    registry_backend: Option<String>,
    registry_binary: Option<String>,
    registry_backend_service: Option<String>,
    registry_backend_ca: Option<String>,
}

/// What one setting is, for people: `berthd --help` prints these.
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    /// Its environment variable.
    pub env: &'static str,
    /// Its key in the configuration file (`tls.mode` is `mode` in the `[tls]` table);
    /// `None` for secrets, which belong in the environment or a secret store.
    pub file_key: Option<&'static str>,
    /// Its default, as text.
    pub default: &'static str,
    /// What it sets.
    pub meaning: &'static str,
}

/// How a setting is written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileType {
    /// A string.
    Text,
    /// A whole number (not negative).
    Number,
    /// An array of strings (the environment variable joins them with commas).
    List,
    /// An array of tables (`[[oidc_providers]]`); read whole.
    Tables,
}

/// One setting: its documentation, how the file writes it, and where its raw value goes.
struct Setting {
    doc: SettingDoc,
    file_type: FileType,
    slot: Option<fn(&mut Raw) -> &mut Option<String>>,
}

/// Declares the settings table: one line a setting, the single source of the environment
/// overlay, the file's keys and types, and `berthd --help`.
macro_rules! settings {
    ($( $field:ident : $ty:ident, $env:literal, $file:expr, $default:literal, $meaning:literal; )+) => {
        &[$(Setting {
            doc: SettingDoc { env: $env, file_key: $file, default: $default, meaning: $meaning },
            file_type: FileType::$ty,
            slot: settings!(@slot $field),
        }),+]
    };
    (@slot oidc_providers) => { None };
    (@slot $field:ident) => { Some(|raw: &mut Raw| &mut raw.$field) };
}

/// Every setting of `berthd`: defaults < file < environment.
const SETTINGS: &[Setting] = settings! {
    listen: Text, "BERTH_LISTEN", Some("listen"), "127.0.0.1:8443",
        "Address of the main listener (host:port; port 0 picks a free one).";
    data_dir: Text, "BERTH_DATA_DIR", Some("data_dir"), "berth-data",
        "Data directory (owner-only): the SQLite file, generated certificates and keys.";
    database_url: Text, "BERTH_DATABASE_URL", Some("database_url"), "SQLite in the data directory",
        "postgres://... for PostgreSQL (replicas share it), or sqlite://path.";
    database_schema: Text, "BERTH_DATABASE_SCHEMA", Some("database_schema"), "public",
        "PostgreSQL schema of Berth's tables.";
    public_url: Text, "BERTH_PUBLIC_URL", Some("public_url"), "the listener's own URL",
        "Base URL clients reach this server by (tokens, nextLink, operation URLs).";
    subscription_id: Text, "BERTH_SUBSCRIPTION_ID", Some("subscription_id"), "generated at first start",
        "Id of the deployment's subscription.";
    tenant_id: Text, "BERTH_TENANT_ID", Some("tenant_id"), "generated at first start",
        "Tenant (directory) id of the deployment.";
    tls: Text, "BERTH_TLS", Some("tls.mode"), "self-signed",
        "off, self-signed (a development CA and certificate in the data directory) or files.";
    tls_cert: Text, "BERTH_TLS_CERT", Some("tls.cert"), "none",
        "PEM certificate chain to serve (with BERTH_TLS_KEY).";
    tls_key: Text, "BERTH_TLS_KEY", Some("tls.key"), "none",
        "PEM private key of the certificate.";
    login_server_suffix: Text, "BERTH_LOGIN_SERVER_SUFFIX", Some("login_server_suffix"), "registry.localhost",
        "Registries' login servers are <name>.<suffix>.";
    login_server_port: Number, "BERTH_LOGIN_SERVER_PORT", Some("login_server_port"), "the listener's (BERTH_PUBLIC_URL's, when set)",
        "Port appended to login servers, when they are not on 443.";
    max_body_bytes: Number, "BERTH_MAX_BODY_BYTES", Some("max_body_bytes"), "1048576",
        "Largest request body the API accepts.";
    log_format: Text, "BERTH_LOG_FORMAT", Some("log_format"), "pretty",
        "pretty or json (one object a line). RUST_LOG sets the level (default info).";
    bootstrap_client_id: Text, "BERTH_BOOTSTRAP_CLIENT_ID", Some("bootstrap_client_id"), "generated",
        "appId of the bootstrap owner made at first start (Owner at /).";
    bootstrap_client_secret: Text, "BERTH_BOOTSTRAP_CLIENT_SECRET", None, "generated, written to <data_dir>/bootstrap-owner.json",
        "The bootstrap owner's secret (16 characters or more).";
    management_audience: Text, "BERTH_MANAGEMENT_AUDIENCE", Some("management_audience"), "https://management.berth.local/",
        "Audience of management tokens (the cloud's activeDirectoryResourceId).";
    oidc_providers: Tables, "BERTH_OIDC_PROVIDERS", Some("oidc_providers"), "none",
        "Trusted external OIDC providers: a JSON array in the environment, [[oidc_providers]] in the file.";
    portal_oidc_issuer: Text, "BERTH_PORTAL_OIDC_ISSUER", Some("portal_oidc_issuer"), "none",
        "A trusted provider (its issuer) people may also sign in to the portal with.";
    portal_oidc_client_id: Text, "BERTH_PORTAL_OIDC_CLIENT_ID", Some("portal_oidc_client_id"), "none",
        "The portal's client id at that provider (its redirect URI: <public URL>/portal/auth/external/callback).";
    portal_oidc_client_secret: Text, "BERTH_PORTAL_OIDC_CLIENT_SECRET", None, "none",
        "The portal's client secret at that provider.";
    portal_oidc_name: Text, "BERTH_PORTAL_OIDC_NAME", Some("portal_oidc_name"), "the issuer's host",
        "The provider's name on the sign-in page (Sign in with <name>).";
    registry_token_issuer: Text, "BERTH_REGISTRY_TOKEN_ISSUER", Some("registry_token_issuer"), "berth-token-server",
        "iss of registry tokens, as registries' and Notary's token auth are told it.";
    notary_service: Text, "BERTH_NOTARY_SERVICE", Some("notary_service"), "berth-notary (embedded trust server)",
        "service name of the trust server (its tokens' audience).";
    notary_url: Text, "BERTH_NOTARY_URL", Some("notary_url"), "none (the embedded trust server)",
        "An external Notary v1 server for content trust (https, or http on loopback).";
    notary_ca: Text, "BERTH_NOTARY_CA", Some("notary_ca"), "the system's roots",
        "PEM CA file of the Notary server's certificate.";
    trust_listen: Text, "BERTH_TRUST_LISTEN", Some("trust_listen"), "127.0.0.1:4443",
        "Listener of the embedded trust server (Notary v1 API), or off.";
    trust_public_url: Text, "BERTH_TRUST_PUBLIC_URL", Some("trust_public_url"), "the trust listener's own URL",
        "URL Notary clients reach the embedded trust server by, behind a proxy.";
    trust_max_upload_bytes: Number, "BERTH_TRUST_MAX_UPLOAD_BYTES", Some("trust_max_upload_bytes"), "16777216",
        "Largest trust-metadata upload accepted (1024 to 1073741824).";
    trust_push_token_secs: Number, "BERTH_TRUST_PUSH_TOKEN_SECS", Some("trust_push_token_secs"), "60",
        "Lifetime of a token that grants a trust-data push (1 to 3600).";
    notary_token_leeway_secs: Number, "BERTH_NOTARY_TOKEN_LEEWAY_SECS", Some("notary_token_leeway_secs"), "60",
        "How long past exp the trust server accepts a token (0 to 3600).";
    trust_wipe_parallelism: Number, "BERTH_TRUST_WIPE_PARALLELISM", Some("trust_wipe_parallelism"), "16",
        "Collections a content-trust wipe deletes at once (1 to 256).";
    operation_lease_secs: Number, "BERTH_OPERATION_LEASE_SECS", Some("operation_lease_secs"), "30",
        "How long a replica's claim of an operation lasts unrenewed (3 to 3600).";
    secrets_key: Text, "BERTH_SECRETS_KEY", None, "made once into the data directory",
        "Base64 of the 32-byte key sealing secrets at rest; every replica needs the same.";
    trusted_proxies: List, "BERTH_TRUSTED_PROXIES", Some("trusted_proxies"), "none",
        "Peers (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client.";
    audit_sink: Text, "BERTH_AUDIT_SINK", Some("audit_sink"), "file",
        "Where sign-in and registry events go, as JSON lines: file (daily files in <data_dir>/audit), file:<directory>, stdout, or off.";
    audit_retention_days: Number, "BERTH_AUDIT_RETENTION_DAYS", Some("audit_retention_days"), "90",
        "Days the daily audit files and the activity log's records are kept (1 to 3650); older records are pruned hourly, the chain's start moved past them.";
    metrics_allow: List, "BERTH_METRICS_ALLOW", Some("metrics_allow"), "none",
        "Peers (addresses or CIDRs, comma-separated) that may scrape /metrics without a token; others need a token that may read at the root scope.";
    registry_backend: Text, "BERTH_REGISTRY_BACKEND", Some("registry_backend"), "embedded",
        "Data plane of the login servers: embedded (a supervised docker-registry), the URL of a Distribution registry, or none (token server only).";
    registry_backend_service: Text, "BERTH_REGISTRY_BACKEND_SERVICE", Some("registry_backend_service"), "berth-data-plane",
        "auth.token.service of an external data plane: the audience of the tokens berthd mints for it.";
    registry_backend_ca: Text, "BERTH_REGISTRY_BACKEND_CA", Some("registry_backend_ca"), "the system's roots",
        "PEM file of the CA of an external data plane's certificate.";
    registry_binary: Text, "BERTH_REGISTRY_BINARY", Some("registry_binary"), "docker-registry",
        "Program of the embedded data plane (Distribution's registry), looked up on PATH.";
};

/// The documentation of every setting, in the order `berthd --help` prints them.
pub fn setting_docs() -> impl Iterator<Item = &'static SettingDoc> {
    SETTINGS.iter().map(|s| &s.doc)
}

impl Raw {
    /// Reads a configuration file: flat keys, a `[tls]` table, and `[[oidc_providers]]`.
    /// Unknown keys, secrets, and values of the wrong type are refused.
    fn from_file(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut raw = Self::default();
        let mut entries: Vec<(String, toml::Value)> = Vec::new();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("tls", toml::Value::Table(tls)) => {
                    entries.extend(tls.into_iter().map(|(k, v)| (format!("tls.{k}"), v)));
                }
                ("tls", _) => return Err("`tls` must be a table ([tls])".to_owned()),
                (_, value) => entries.push((key, value)),
            }
        }
        for (key, value) in entries {
            let setting = SETTINGS
                .iter()
                .find(|s| s.doc.file_key == Some(key.as_str()))
                .ok_or_else(|| format!("unknown field `{key}`"))?;
            let text = match (setting.file_type, value) {
                (FileType::Text, toml::Value::String(s)) => s,
                (FileType::Number, toml::Value::Integer(n)) if n >= 0 => n.to_string(),
                (FileType::List, toml::Value::Array(items)) => items
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s),
                        _ => Err(format!("`{key}` must be an array of strings")),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                (FileType::Tables, value) => {
                    raw.oidc_providers = Some(
                        value
                            .try_into()
                            .map_err(|e: toml::de::Error| format!("`{key}`: {e}"))?,
                    );
                    continue;
                }
                (kind, other) => {
                    return Err(format!(
                        "`{key}` must be {}, not {}",
                        match kind {
                            FileType::Text => "a string",
                            FileType::Number => "a whole number",
                            FileType::List => "an array of strings",
                            FileType::Tables => "an array of tables",
                        },
                        other.type_str()
                    ));
                }
            };
            if let Some(slot) = setting.slot {
                *slot(&mut raw) = Some(text);
            }
        }
        Ok(raw)
    }
}

impl Settings {
    /// Loads the settings from `BERTH_CONFIG` (or `./berth.toml` if present) and the process
    /// environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad setting.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("BERTH_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                Path::new("berth.toml")
                    .exists()
                    .then(|| PathBuf::from("berth.toml"))
            });
        Self::from_sources(file.as_deref(), |k| std::env::var(k).ok())
    }

    /// Builds the settings from an optional TOML file and an environment lookup.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad setting.
    pub fn from_sources(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut raw = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Raw::from_file(&text).map_err(|message| ConfigError::Parse {
                    path: path.to_owned(),
                    message,
                })?
            }
            None => Raw::default(),
        };
        for setting in SETTINGS {
            if let (Some(slot), Some(value)) = (setting.slot, env(setting.doc.env)) {
                *slot(&mut raw) = Some(value);
            }
        }
        if let Some(json) = env("BERTH_OIDC_PROVIDERS") {
            raw.oidc_providers = Some(serde_json::from_str(&json).map_err(|e| {
                invalid(
                    "BERTH_OIDC_PROVIDERS",
                    format!("expected a JSON array of providers: {e}"),
                )
            })?);
        }
        raw.validate()
    }

    /// Where the data lives.
    #[must_use]
    pub fn database_target(&self) -> DatabaseTarget {
        match self.database_url.as_ref().map(ExposeSecret::expose_secret) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseTarget::Postgres {
                    url: url.to_owned(),
                    schema: self.database_schema.clone(),
                }
            }
            Some(url) => DatabaseTarget::Sqlite(PathBuf::from(url.trim_start_matches("sqlite://"))),
            None => DatabaseTarget::Sqlite(self.data_dir.join("berth.db")),
        }
    }
}

/// A whole number of `key` within `range`, or `default` when unset.
fn bounded(
    value: Option<String>,
    key: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.trim().parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            key,
            format!(
                "'{text}' is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// The portal's external sign-in, when `BERTH_PORTAL_OIDC_ISSUER` is set: with a client id
/// and secret, at one of the trusted `providers`.
fn portal_sign_in(
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    name: Option<String>,
    providers: &[TrustedProvider],
) -> Result<Option<PortalSignIn>, ConfigError> {
    let key = "BERTH_PORTAL_OIDC_ISSUER";
    let Some(issuer) = issuer.filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    let provider = providers
        .iter()
        .find(|p| p.issuer == issuer)
        .ok_or_else(|| {
            invalid(
                key,
                format!(
                    "'{issuer}' is not the issuer of one of BERTH_OIDC_PROVIDERS: trust it first"
                ),
            )
        })?;
    let resource = provider
        .audiences
        .first()
        .cloned()
        .ok_or_else(|| invalid(key, format!("the provider '{issuer}' has no audience")))?;
    let client_id = client_id.filter(|c| !c.is_empty()).ok_or_else(|| {
        invalid(
            "BERTH_PORTAL_OIDC_CLIENT_ID",
            "is required with BERTH_PORTAL_OIDC_ISSUER",
        )
    })?;
    let client_secret = client_secret.filter(|c| !c.is_empty()).ok_or_else(|| {
        invalid(
            "BERTH_PORTAL_OIDC_CLIENT_SECRET",
            "is required with BERTH_PORTAL_OIDC_ISSUER",
        )
    })?;
    let name = name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| {
        reqwest::Url::parse(&issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| issuer.clone())
    });
    Ok(Some(PortalSignIn {
        issuer,
        client_id,
        client_secret: SecretString::from(client_secret),
        resource,
        name,
    }))
}

/// The Notary server's URL: https, or plain http on loopback only (Berth's own `*` tokens
/// cross that connection), and the service name it is known by must be set too.
fn notary_endpoint(
    url: String,
    ca: Option<String>,
    has_service: bool,
) -> Result<NotaryEndpoint, ConfigError> {
    let url = http_url("BERTH_NOTARY_URL", &url)?;
    if !has_service {
        return Err(invalid(
            "BERTH_NOTARY_SERVICE",
            "must be set when BERTH_NOTARY_URL is: it is the Notary server's auth.token.service",
        ));
    }
    Ok(NotaryEndpoint {
        url,
        ca_file: ca.filter(|c| !c.is_empty()).map(PathBuf::from),
    })
}

/// An http(s) URL without its trailing `/`: `https://`, or `http://` to a loopback host
/// only (a token or an image must not cross a network in the clear).
fn http_url(key: &'static str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim_end_matches('/').to_owned();
    let host = url
        .strip_prefix("https://")
        .map(|rest| (rest, true))
        .or_else(|| url.strip_prefix("http://").map(|rest| (rest, false)));
    let Some((rest, https)) = host else {
        return Err(invalid(key, format!("'{url}' is not an http(s) URL")));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let hostname = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    if hostname.is_empty() {
        return Err(invalid(key, format!("'{url}' names no host")));
    }
    let loopback = hostname == "localhost"
        || hostname
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err(invalid(
            key,
            format!("'{url}' is plain HTTP to a host that is not loopback; use https://"),
        ));
    }
    Ok(url)
}

/// The port login servers name when none is set: the main listener's, since the login
/// servers answer there (none when it is chosen at bind time); behind a proxy
/// (`BERTH_PUBLIC_URL`), the port of that URL, if it names one.
fn default_login_server_port(listen: SocketAddr, public_url: Option<&str>) -> Option<u16> {
    match public_url {
        Some(url) => reqwest::Url::parse(url).ok()?.port(),
        None => Some(listen.port()).filter(|p| *p != 0),
    }
}

/// The embedded trust server's listener, public URL and upload limit. Like the main
/// listener, it serves plain HTTP beyond loopback only behind an https proxy.
fn trust_server_settings(
    listen: Option<String>,
    public_url: Option<String>,
    max_upload_bytes: Option<String>,
    tls: &TlsMode,
    main_public_url: Option<&str>,
) -> Result<TrustServerSettings, ConfigError> {
    let listen: Option<SocketAddr> = match listen.as_deref() {
        Some("off") => None,
        other => Some(other.unwrap_or("127.0.0.1:4443").parse().map_err(|e| {
            invalid(
                "BERTH_TRUST_LISTEN",
                format!("expected host:port such as 127.0.0.1:4443, or off ({e})"),
            )
        })?),
    };
    let public_url = match public_url.filter(|u| !u.is_empty()) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Some(url.trim_end_matches('/').to_owned())
        }
        Some(url) => {
            return Err(invalid(
                "BERTH_TRUST_PUBLIC_URL",
                format!("'{url}' is not an http(s) URL"),
            ));
        }
        None => None,
    };
    let behind_https = public_url
        .as_deref()
        .or(main_public_url)
        .is_some_and(|u| u.starts_with("https://"));
    if let Some(listen) = listen
        && *tls == TlsMode::Off
        && !listen.ip().is_loopback()
        && !behind_https
    {
        return Err(invalid(
            "BERTH_TRUST_LISTEN",
            format!(
                "is {listen}, which is not loopback, while BERTH_TLS is 'off': Notary clients \
                 send their tokens in clear. Serve TLS, or set BERTH_TRUST_PUBLIC_URL to the \
                 https:// URL of a TLS-terminating proxy"
            ),
        ));
    }
    let max_upload_bytes = match max_upload_bytes {
        None => 16 * 1024 * 1024,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1024..=1024 * 1024 * 1024).contains(n))
            .ok_or_else(|| {
                invalid(
                    "BERTH_TRUST_MAX_UPLOAD_BYTES",
                    format!("'{text}' is not a size in bytes from 1024 to 1073741824"),
                )
            })?,
    };
    Ok(TrustServerSettings {
        listen,
        public_url,
        max_upload_bytes,
    })
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl Raw {
    fn validate(self) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:8443")
            .parse()
            .map_err(|e| {
                invalid(
                    "BERTH_LISTEN",
                    format!("expected host:port such as 127.0.0.1:8443 ({e})"),
                )
            })?;
        let tls = match (self.tls.as_deref(), self.tls_cert, self.tls_key) {
            (Some("off"), None, None) => TlsMode::Off,
            (Some("off"), _, _) => {
                return Err(invalid(
                    "BERTH_TLS",
                    "is 'off' but a certificate or key is configured",
                ));
            }
            (None | Some("files"), Some(cert), Some(key)) => TlsMode::Files {
                cert: cert.into(),
                key: key.into(),
            },
            (_, Some(_), None) | (_, None, Some(_)) => {
                return Err(invalid(
                    "BERTH_TLS_CERT",
                    "BERTH_TLS_CERT and BERTH_TLS_KEY must be given together",
                ));
            }
            (None | Some("self-signed"), None, None) => TlsMode::SelfSigned,
            (Some(other), _, _) => {
                return Err(invalid(
                    "BERTH_TLS",
                    format!("'{other}' is not one of off, self-signed, files"),
                ));
            }
        };
        let public_url = match self.public_url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(url) => {
                return Err(invalid(
                    "BERTH_PUBLIC_URL",
                    format!("'{url}' is not an http(s) URL"),
                ));
            }
            None => None,
        };
        // Bearer tokens and client secrets cross the wire: plain HTTP only on loopback, or
        // behind a proxy that terminates TLS (then the public URL is https).
        if tls == TlsMode::Off
            && !listen.ip().is_loopback()
            && !public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        {
            return Err(invalid(
                "BERTH_TLS",
                format!(
                    "is 'off' while listening on {listen}, which is not loopback: tokens and secrets \
                     would cross the network in clear. Serve TLS, or put a TLS-terminating proxy \
                     in front and set BERTH_PUBLIC_URL to its https:// URL"
                ),
            ));
        }
        let subscription_id = self
            .subscription_id
            .map(|s| {
                SubscriptionId::parse(&s).map_err(|e| invalid("BERTH_SUBSCRIPTION_ID", e.message))
            })
            .transpose()?;
        let tenant_id = self
            .tenant_id
            .map(|s| {
                Uuid::parse_str(&s)
                    .map_err(|e| invalid("BERTH_TENANT_ID", format!("not a GUID: {e}")))
            })
            .transpose()?;
        let max_body_bytes = self
            .max_body_bytes
            .map(|s| {
                s.parse::<usize>()
                    .map_err(|e| invalid("BERTH_MAX_BODY_BYTES", e.to_string()))
            })
            .transpose()?
            .unwrap_or(1024 * 1024);
        let log_format = match self.log_format.as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "BERTH_LOG_FORMAT",
                    format!("'{other}' is not pretty or json"),
                ));
            }
        };
        let login_server_port = self
            .login_server_port
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                    invalid("BERTH_LOGIN_SERVER_PORT", format!("'{p}' is not a port"))
                })
            })
            .transpose()?
            .or_else(|| default_login_server_port(listen, public_url.as_deref()))
            .filter(|p| *p != 443);
        let login_servers = LoginServerNaming::new(
            self.login_server_suffix
                .as_deref()
                .unwrap_or("registry.localhost"),
            login_server_port,
        )
        .map_err(|e| invalid("BERTH_LOGIN_SERVER_SUFFIX", e))?;
        let bootstrap_client_id = self
            .bootstrap_client_id
            .map(|s| {
                Uuid::parse_str(&s)
                    .map_err(|e| invalid("BERTH_BOOTSTRAP_CLIENT_ID", format!("not a GUID: {e}")))
            })
            .transpose()?;
        if self
            .bootstrap_client_secret
            .as_ref()
            .is_some_and(|s| s.len() < 16)
        {
            return Err(invalid(
                "BERTH_BOOTSTRAP_CLIENT_SECRET",
                "must be at least 16 characters",
            ));
        }
        let management_audience = self
            .management_audience
            .unwrap_or_else(|| "https://management.berth.local/".to_owned());
        if !management_audience.starts_with("https://")
            && !management_audience.starts_with("http://")
        {
            return Err(invalid(
                "BERTH_MANAGEMENT_AUDIENCE",
                format!("'{management_audience}' is not a URL"),
            ));
        }
        let oidc_providers = self
            .oidc_providers
            .unwrap_or_default()
            .into_iter()
            .map(ProviderRaw::validate)
            .collect::<Result<Vec<_>, _>>()?;
        let portal_sign_in = portal_sign_in(
            self.portal_oidc_issuer,
            self.portal_oidc_client_id,
            self.portal_oidc_client_secret,
            self.portal_oidc_name,
            &oidc_providers,
        )?;
        let registry_token_issuer = self
            .registry_token_issuer
            .unwrap_or_else(|| "berth-token-server".to_owned());
        if registry_token_issuer.is_empty() || registry_token_issuer.chars().any(char::is_control) {
            return Err(invalid(
                "BERTH_REGISTRY_TOKEN_ISSUER",
                "must be a non-empty name",
            ));
        }
        let notary_service = self.notary_service.filter(|s| !s.is_empty());
        let notary = match self.notary_url.filter(|u| !u.is_empty()) {
            None => None,
            Some(url) => Some(notary_endpoint(
                url,
                self.notary_ca,
                notary_service.is_some(),
            )?),
        };
        let trust_server = trust_server_settings(
            self.trust_listen,
            self.trust_public_url,
            self.trust_max_upload_bytes,
            &tls,
            public_url.as_deref(),
        )?;
        // The embedded trust server is the default: it has a service name of its own.
        let notary_service = match (&notary, notary_service) {
            (None, None) if trust_server.listen.is_some() => {
                Some(EMBEDDED_TRUST_SERVICE.to_owned())
            }
            (_, service) => service,
        };
        let defaults = TrustTiming::default();
        let trust = TrustTiming {
            push_token_secs: bounded(
                self.trust_push_token_secs,
                "BERTH_TRUST_PUSH_TOKEN_SECS",
                defaults.push_token_secs,
                1..=3600,
            )?,
            token_leeway_secs: bounded(
                self.notary_token_leeway_secs,
                "BERTH_NOTARY_TOKEN_LEEWAY_SECS",
                defaults.token_leeway_secs,
                0..=3600,
            )?,
            wipe_parallelism: bounded(
                self.trust_wipe_parallelism,
                "BERTH_TRUST_WIPE_PARALLELISM",
                defaults.wipe_parallelism,
                1..=256,
            )?,
            operation_lease_secs: bounded(
                self.operation_lease_secs,
                "BERTH_OPERATION_LEASE_SECS",
                defaults.operation_lease_secs,
                3..=3600,
            )?,
        };
        let trusted_proxies =
            crate::proxies::TrustedProxies::parse(self.trusted_proxies.as_deref().unwrap_or(""))
                .map_err(|e| invalid("BERTH_TRUSTED_PROXIES", e))?;
        let data_dir = PathBuf::from(
            self.data_dir
                .clone()
                .unwrap_or_else(|| "berth-data".to_owned()),
        );
        let audit_sink = match self.audit_sink.as_deref().map(str::trim) {
            None | Some("file") => {
                crate::diagnostics::SinkTarget::Directory(data_dir.join("audit"))
            }
            Some("stdout") => crate::diagnostics::SinkTarget::Stdout,
            Some("off") => crate::diagnostics::SinkTarget::Off,
            Some(other) => match other.strip_prefix("file:") {
                Some(dir) if !dir.trim().is_empty() => {
                    crate::diagnostics::SinkTarget::Directory(PathBuf::from(dir.trim()))
                }
                _ => {
                    return Err(invalid(
                        "BERTH_AUDIT_SINK",
                        format!("'{other}' is not file, file:<directory>, stdout or off"),
                    ));
                }
            },
        };
        let audit_retention_days = bounded(
            self.audit_retention_days.clone(),
            "BERTH_AUDIT_RETENTION_DAYS",
            90,
            1..=3650,
        )?;
        let metrics_allow =
            crate::proxies::TrustedProxies::parse(self.metrics_allow.as_deref().unwrap_or(""))
                .map_err(|e| invalid("BERTH_METRICS_ALLOW", e))?;
        let registry_backend = match self.registry_backend.as_deref().unwrap_or("embedded") {
            "embedded" => RegistryBackend::Embedded {
                binary: self
                    .registry_binary
                    .filter(|b| !b.is_empty())
                    .unwrap_or_else(|| "docker-registry".to_owned()),
            },
            "none" => RegistryBackend::None,
            url if url.contains("://") => {
                let url = http_url("BERTH_REGISTRY_BACKEND", url)?;
                let service = self
                    .registry_backend_service
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| DATA_PLANE_SERVICE.to_owned());
                if service.contains('.') || service.chars().any(|c| c.is_control() || c == ' ') {
                    return Err(invalid(
                        "BERTH_REGISTRY_BACKEND_SERVICE",
                        "must be a name without dots or spaces, so that no login server has it",
                    ));
                }
                RegistryBackend::External {
                    url,
                    service,
                    ca_file: self
                        .registry_backend_ca
                        .filter(|c| !c.is_empty())
                        .map(PathBuf::from),
                }
            }
            other => {
                return Err(invalid(
                    "BERTH_REGISTRY_BACKEND",
                    format!("'{other}' is neither embedded, none nor an http(s) URL"),
                ));
            }
        };
        Ok(Settings {
            registry_backend,
            trusted_proxies,
            metrics_allow,
            audit_sink,
            audit_retention_days,
            secrets_key: self.secrets_key.map(SecretString::from),
            registry_token_issuer,
            notary_service,
            notary,
            trust_server,
            trust,
            oidc_providers,
            portal_sign_in,
            bootstrap_client_id,
            bootstrap_client_secret: self.bootstrap_client_secret.map(SecretString::from),
            management_audience,
            listen,
            data_dir: PathBuf::from(self.data_dir.unwrap_or_else(|| "berth-data".to_owned())),
            database_url: self.database_url.map(SecretString::from),
            database_schema: self.database_schema,
            public_url,
            subscription_id,
            tenant_id,
            tls,
            login_servers,
            max_body_bytes,
            log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn login_servers_name_the_port_they_are_served_on() -> Result<(), ConfigError> {
        let port = |pairs: &[(&str, &str)]| -> Result<Option<u16>, ConfigError> {
            Ok(Settings::from_sources(None, env(pairs))?
                .login_servers
                .port())
        };
        assert_eq!(port(&[])?, Some(8443), "the default listener's");
        assert_eq!(port(&[("BERTH_LISTEN", "127.0.0.1:0")])?, None);
        assert_eq!(
            port(&[
                ("BERTH_LISTEN", "0.0.0.0:443"),
                ("BERTH_TLS", "self-signed")
            ])?,
            None
        );
        assert_eq!(port(&[("BERTH_LOGIN_SERVER_PORT", "5000")])?, Some(5000));
        let proxied = [("BERTH_PUBLIC_URL", "https://berth.example.com")];
        assert_eq!(port(&proxied)?, None, "behind a proxy on 443");
        let proxied = [("BERTH_PUBLIC_URL", "https://berth.example.com:9443/")];
        assert_eq!(port(&proxied)?, Some(9443));
        Ok(())
    }

    #[test]
    fn defaults_give_the_embedded_deployment() -> Result<(), ConfigError> {
        let s = Settings::from_sources(None, env(&[]))?;
        assert_eq!(s.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(s.tls, TlsMode::SelfSigned);
        assert_eq!(
            s.database_target(),
            DatabaseTarget::Sqlite(PathBuf::from("berth-data/berth.db"))
        );
        Ok(())
    }

    #[test]
    fn a_notary_server_needs_its_service_name_and_https_beyond_loopback() -> Result<(), ConfigError>
    {
        let none = Settings::from_sources(None, env(&[]))?;
        assert_eq!((none.notary, none.trust), (None, TrustTiming::default()));
        let local = Settings::from_sources(
            None,
            env(&[
                ("BERTH_NOTARY_URL", "http://127.0.0.1:4443/"),
                ("BERTH_NOTARY_SERVICE", "notary"),
                ("BERTH_NOTARY_CA", "/etc/notary/ca.pem"),
                ("BERTH_TRUST_PUSH_TOKEN_SECS", "30"),
            ]),
        )?;
        assert_eq!(
            local.notary,
            Some(NotaryEndpoint {
                url: "http://127.0.0.1:4443".to_owned(),
                ca_file: Some(PathBuf::from("/etc/notary/ca.pem")),
            })
        );
        assert_eq!(local.trust.push_token_secs, 30);
        let refused = |pairs: &[(&str, &str)], key: &str| {
            let err = Settings::from_sources(None, env(pairs)).err();
            assert!(
                err.as_ref().is_some_and(|e| e.to_string().contains(key)),
                "{pairs:?}: {err:?}"
            );
        };
        refused(
            &[("BERTH_NOTARY_URL", "https://notary.example")],
            "BERTH_NOTARY_SERVICE",
        );
        refused(
            &[
                ("BERTH_NOTARY_URL", "http://notary.example:4443"),
                ("BERTH_NOTARY_SERVICE", "notary"),
            ],
            "BERTH_NOTARY_URL",
        );
        refused(
            &[
                ("BERTH_NOTARY_URL", "ftp://127.0.0.1"),
                ("BERTH_NOTARY_SERVICE", "notary"),
            ],
            "BERTH_NOTARY_URL",
        );
        refused(
            &[("BERTH_TRUST_PUSH_TOKEN_SECS", "0")],
            "BERTH_TRUST_PUSH_TOKEN_SECS",
        );
        refused(
            &[("BERTH_OPERATION_LEASE_SECS", "soon")],
            "BERTH_OPERATION_LEASE_SECS",
        );
        Ok(())
    }

    #[test]
    fn plain_http_beyond_loopback_needs_a_tls_proxy_in_front() -> Result<(), ConfigError> {
        let tls = Settings::from_sources(None, env(&[("BERTH_LISTEN", "0.0.0.0:8443")]))?;
        assert_eq!(tls.tls, TlsMode::SelfSigned);
        let plain = [("BERTH_LISTEN", "0.0.0.0:8080"), ("BERTH_TLS", "off")];
        let err = Settings::from_sources(None, env(&plain)).err();
        assert!(err.is_some_and(|e| e.to_string().contains("not loopback")));
        let proxied = [
            plain[0],
            plain[1],
            ("BERTH_PUBLIC_URL", "https://berth.example"),
        ];
        assert_eq!(
            Settings::from_sources(None, env(&proxied))?.tls,
            TlsMode::Off
        );
        Ok(())
    }

    #[test]
    fn environment_overrides_the_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berth.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1000\"\ndata_dir = \"/x\"\n[tls]\nmode = \"off\"\n",
        )?;
        let s = Settings::from_sources(Some(&path), env(&[("BERTH_LISTEN", "[::1]:2000")]))?;
        assert_eq!(s.listen.to_string(), "[::1]:2000");
        assert_eq!(s.data_dir, PathBuf::from("/x"));
        assert_eq!(s.tls, TlsMode::Off);
        Ok(())
    }

    #[test]
    fn trusted_providers_come_from_the_file_or_the_environment_and_are_checked()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berth.toml");
        std::fs::write(
            &path,
            "[[oidc_providers]]\nissuer = \"https://login.example/t\"\naudiences = [\"api://berth\"]\nsubject_claim = \"oid\"\ntenant = \"t\"\n",
        )?;
        let s = Settings::from_sources(Some(&path), env(&[]))?;
        let p = &s.oidc_providers[0];
        assert_eq!(
            (
                p.subject_claim.as_str(),
                p.tenant.as_deref(),
                p.algorithms.len()
            ),
            ("oid", Some("t"), 3)
        );
        let s = Settings::from_sources(
            None,
            env(&[(
                "BERTH_OIDC_PROVIDERS",
                r#"[{"issuer":"http://127.0.0.1:9/","audiences":["a"],"algorithms":["ES256"]}]"#,
            )]),
        )?;
        assert_eq!(s.oidc_providers[0].algorithms, ["ES256"]);
        for bad in [
            r#"[{"issuer":"http://idp.example/","audiences":["a"]}]"#,
            r#"[{"issuer":"https://idp.example/","audiences":[]}]"#,
            r#"[{"issuer":"https://idp.example/","audiences":["a"],"algorithms":["HS256"]}]"#,
            r#"[{"issuer":"https://idp.example/","audiences":["a"],"algorithms":["none"]}]"#,
            r#"[{"issuer":"https://idp.example/","audiences":["a"],"subject_claim":"email"}]"#,
            r#"[{"issuer":"https://idp.example/","audiences":["a"],"extra":1}]"#,
            "not json",
        ] {
            assert!(
                matches!(
                    Settings::from_sources(None, env(&[("BERTH_OIDC_PROVIDERS", bad)])),
                    Err(ConfigError::Invalid { .. })
                ),
                "{bad}"
            );
        }
        Ok(())
    }

    #[test]
    fn the_portals_external_sign_in_needs_a_trusted_provider_and_a_client()
    -> Result<(), Box<dyn std::error::Error>> {
        let providers =
            r#"[{"issuer":"https://idp.example/","audiences":["api://berth","other"]}]"#;
        let good = [
            ("BERTH_OIDC_PROVIDERS", providers),
            ("BERTH_PORTAL_OIDC_ISSUER", "https://idp.example/"),
            ("BERTH_PORTAL_OIDC_CLIENT_ID", "portal"),
            ("BERTH_PORTAL_OIDC_CLIENT_SECRET", "s3cret"),
        ];
        let s = Settings::from_sources(None, env(&good))?;
        let sign_in = s.portal_sign_in.ok_or("no external sign-in")?;
        assert_eq!(
            (sign_in.resource.as_str(), sign_in.name.as_str()),
            ("api://berth", "idp.example"),
            "the provider's first audience; the issuer's host by default"
        );
        assert!(
            !format!("{sign_in:?}").contains("s3cret"),
            "the secret is never printed"
        );
        assert!(
            Settings::from_sources(None, env(&[]))?
                .portal_sign_in
                .is_none()
        );
        let untrusted = [("BERTH_PORTAL_OIDC_ISSUER", "https://elsewhere.example/")];
        let without_client = &good[..2];
        let without_secret = &good[..3];
        for (bad, key) in [
            (&untrusted[..], "BERTH_PORTAL_OIDC_ISSUER"),
            (without_client, "BERTH_PORTAL_OIDC_CLIENT_ID"),
            (without_secret, "BERTH_PORTAL_OIDC_CLIENT_SECRET"),
        ] {
            match Settings::from_sources(None, env(bad)) {
                Err(ConfigError::Invalid { key: named, .. }) => assert_eq!(named, key),
                other => panic!("{key}: {other:?}"),
            }
        }
        Ok(())
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_errors() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berth.toml");
        std::fs::write(&path, "lisen = \"x\"\n")?;
        assert!(matches!(
            Settings::from_sources(Some(&path), env(&[])),
            Err(ConfigError::Parse { .. })
        ));
        for (k, v) in [
            ("BERTH_TLS", "maybe"),
            ("BERTH_SUBSCRIPTION_ID", "nope"),
            ("BERTH_PUBLIC_URL", "ftp://x"),
        ] {
            assert!(
                matches!(
                    Settings::from_sources(None, env(&[(k, v)])),
                    Err(ConfigError::Invalid { .. })
                ),
                "{k}"
            );
        }
        Ok(())
    }

    #[test]
    fn postgres_urls_select_postgres() -> Result<(), ConfigError> {
        let s = Settings::from_sources(
            None,
            env(&[
                ("BERTH_DATABASE_URL", "postgres://127.0.0.1/test"),
                ("BERTH_DATABASE_SCHEMA", "t1"),
            ]),
        )?;
        assert!(
            matches!(s.database_target(), DatabaseTarget::Postgres { schema: Some(ref x), .. } if x == "t1")
        );
        Ok(())
    }

    #[test]
    fn an_external_data_plane_is_an_https_or_loopback_url_with_a_dotless_service()
    -> Result<(), ConfigError> {
        let s = Settings::from_sources(
            None,
            env(&[("BERTH_REGISTRY_BACKEND", "https://registry.internal:5000/")]),
        )?;
        assert_eq!(
            s.registry_backend,
            RegistryBackend::External {
                url: "https://registry.internal:5000".to_owned(),
                service: DATA_PLANE_SERVICE.to_owned(),
                ca_file: None,
            }
        );
        let local = env(&[
            ("BERTH_REGISTRY_BACKEND", "http://127.0.0.1:5000"),
            ("BERTH_REGISTRY_BACKEND_SERVICE", "data"),
            ("BERTH_REGISTRY_BACKEND_CA", "/etc/ca.pem"),
        ]);
        assert!(matches!(
            Settings::from_sources(None, local)?.registry_backend,
            RegistryBackend::External { service, ca_file: Some(_), .. } if service == "data"
        ));
        for (key, pairs) in [
            (
                "BERTH_REGISTRY_BACKEND",
                vec![("BERTH_REGISTRY_BACKEND", "http://10.0.0.5:5000")],
            ),
            (
                "BERTH_REGISTRY_BACKEND",
                vec![("BERTH_REGISTRY_BACKEND", "ftp://x")],
            ),
            (
                "BERTH_REGISTRY_BACKEND",
                vec![("BERTH_REGISTRY_BACKEND", "https://")],
            ),
            (
                "BERTH_REGISTRY_BACKEND_SERVICE",
                vec![
                    ("BERTH_REGISTRY_BACKEND", "https://r.example"),
                    ("BERTH_REGISTRY_BACKEND_SERVICE", "r.registry.localhost"),
                ],
            ),
        ] {
            let refused = Settings::from_sources(None, env(&pairs));
            assert!(
                matches!(&refused, Err(ConfigError::Invalid { key: k, .. }) if *k == key),
                "{pairs:?}: {refused:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn trusted_proxies_are_parsed_at_startup_and_a_bad_entry_is_refused() -> Result<(), ConfigError>
    {
        let s = Settings::from_sources(None, env(&[]))?;
        assert_eq!(s.trusted_proxies, crate::proxies::TrustedProxies::default());
        let s = Settings::from_sources(None, env(&[("BERTH_TRUSTED_PROXIES", "10.0.0.0/8, ::1")]))?;
        assert!(
            s.trusted_proxies.contains(
                "10.2.3.4"
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
                    .into()
            )
        );
        let bad = Settings::from_sources(None, env(&[("BERTH_TRUSTED_PROXIES", "10.0.0.0/40")]));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                key: "BERTH_TRUSTED_PROXIES",
                ..
            })
        ));
        Ok(())
    }
}
