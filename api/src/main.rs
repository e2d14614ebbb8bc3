//! `berthd`: loads the settings, builds the application, serves until stopped.

use berth_api::{Application, telemetry};
use berth_infra::config::Settings;
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
