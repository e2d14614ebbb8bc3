//! `berthd`'s command line: loads the settings, builds the application, serves until
//! stopped, or runs a maintenance command. The `berthd` binary is this and nothing else.
//!
//! `berthd rotate-signing-key` makes new signing keys for the built-in issuer and the
//! registry token server, and exits: running servers sign with them within a minute, tokens
//! signed with the old keys stay valid until they expire, and the registry token
//! certificate bundle lists old and new keys (give registries the new bundle).

use crate::{Application, telemetry};
use berth_infra::config::Settings;
use berth_infra::jwt::JwtSigner;
use berth_infra::persistence::{Database, seal_secrets_at_rest};
use berth_infra::registry_token::TokenServerKeys;
use berth_infra::sealing::AesGcmBox;
use std::process::ExitCode;
use std::sync::Arc;

/// Runs `berthd` with the process's arguments and environment.
pub async fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("berthd: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("rotate-signing-key") => return rotate_signing_key(&settings).await,
        Some(other) => {
            eprintln!("berthd: unknown command '{other}' (commands: rotate-signing-key)");
            return ExitCode::from(2);
        }
    }
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("berthd: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(url = app.base_url(), "berthd listening");
    if let Some(ca) = app.ca_file() {
        tracing::info!(ca_file = %ca.display(), "serving a generated development certificate; trust this CA file in clients (e.g. REQUESTS_CA_BUNDLE)");
    }
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berthd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn rotate_signing_key(settings: &Settings) -> ExitCode {
    let rotated = async {
        let db = Database::open(&settings.database_target())
            .await
            .map_err(|e| e.to_string())?;
        let sealing = Arc::new(AesGcmBox::from_config(
            settings
                .secrets_key
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret),
            &settings.data_dir,
        )?);
        seal_secrets_at_rest(&db, &sealing)
            .await
            .map_err(|e| e.to_string())?;
        let signer = JwtSigner::open(db.clone(), sealing.clone())
            .await
            .map_err(|e| e.to_string())?;
        let kid = signer.rotate().await.map_err(|e| e.to_string())?;
        let bundle = settings.data_dir.join("registry-token-certs.pem");
        let registry_keys = TokenServerKeys::open(db, sealing, &bundle)
            .await
            .map_err(|e| e.to_string())?;
        registry_keys
            .rotate_all()
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "berthd: registry tokens are signed with a new key; give registries {}",
            bundle.display()
        );
        Ok::<_, String>(kid)
    };
    match rotated.await {
        Ok(kid) => {
            println!("berthd: the built-in issuer signs with key {kid} from now on");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("berthd: cannot rotate the signing key: {e}");
            ExitCode::FAILURE
        }
    }
}
