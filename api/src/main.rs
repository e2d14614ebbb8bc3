//! `berthd`: loads the settings, builds the application, serves until stopped.
//!
//! `berthd rotate-signing-key` makes a new signing key for the built-in issuer and exits:
//! running servers sign with it within a minute, and tokens signed with the old key stay
//! valid until they expire.

use berth_api::{Application, telemetry};
use berth_infra::config::Settings;
use berth_infra::jwt::JwtSigner;
use berth_infra::persistence::Database;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
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
        let signer = JwtSigner::open(db).await.map_err(|e| e.to_string())?;
        signer.rotate().await.map_err(|e| e.to_string())
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
