//! `berthd`'s command line: serves (the default), checks a configuration without starting,
//! or rotates the signing keys. `--help` lists every setting with its environment variable,
//! file key, default and meaning. The `berthd` binary is this and nothing else.

use crate::startup::{Store, bootstrap_owner_file};
use crate::{Application, telemetry};
use berth_infra::config::{Settings, TlsMode, setting_docs};
use berth_infra::jwt::JwtSigner;
use berth_infra::persistence::DatabaseTarget;
use berth_infra::registry_token::TokenServerKeys;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::fmt::Write as _;
use std::process::ExitCode;

/// Berth's server: the ARM API of registries, roles and content trust, the built-in token
/// issuer, the registry token server and the embedded Notary v1 trust server.
#[derive(Debug, Parser)]
#[command(name = "berthd", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve until SIGINT or SIGTERM (the default).
    Serve,
    /// Validate the configuration, say what is wrong or what it sets, and exit.
    CheckConfig,
    /// Make new signing keys for the built-in issuer and the registry token server, and
    /// exit. Running servers sign with them within a minute; tokens signed with the old
    /// keys stay valid until they expire, and the registry token certificate bundle lists
    /// old and new keys (give registries the new bundle).
    RotateSigningKey,
    /// The activity log (verify its chain, prune it) and the audit events (query them).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the activity log's chain from its first record to its head, and name the first
    /// record that was deleted, edited or added outside Berth. Exits 0 when it is intact, 1
    /// when it is not, 2 when it cannot be read.
    Verify,
    /// Delete the activity log's records from before a time (RFC 3339, such as
    /// 2026-09-01T00:00:00Z), move the chain's start past them and record the prune. berthd
    /// prunes what is older than BERTH_AUDIT_RETENTION_DAYS by itself every hour.
    Prune {
        /// Records before this time are deleted.
        #[arg(long, value_parser = parse_instant)]
        before: time::OffsetDateTime,
    },
    /// Print the sign-in and repository events of the daily audit files
    /// (BERTH_AUDIT_SINK=file, kept BERTH_AUDIT_RETENTION_DAYS days) that match, as the JSON
    /// lines they are, oldest first: `berthd audit events --category login --result 401
    /// --hours 12` lists last night's refused sign-ins.
    Events(EventsArgs),
}

/// What `berthd audit events` selects.
#[derive(Debug, clap::Args)]
struct EventsArgs {
    /// From this time (RFC 3339); the last --hours when not given.
    #[arg(long, value_parser = parse_instant)]
    since: Option<time::OffsetDateTime>,
    /// Until this time (RFC 3339); now when not given.
    #[arg(long, value_parser = parse_instant)]
    until: Option<time::OffsetDateTime>,
    /// How many hours back from --until to start, when --since is not given.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=87_600))]
    hours: u32,
    /// Registry sign-ins (ContainerRegistryLoginEvents), repository events
    /// (ContainerRegistryRepositoryEvents), or sign-ins at the built-in issuer (SignInLogs).
    #[arg(long, value_enum)]
    category: Option<EventCategory>,
    /// Login, Push, Pull, Delete, TrustDataPush or TrustDataDelete.
    #[arg(long)]
    operation: Option<String>,
    /// The HTTP status answered, such as 401.
    #[arg(long)]
    result: Option<String>,
    /// Who: a user's name, an application's appId, a token's name.
    #[arg(long)]
    identity: Option<String>,
    /// The login server asked for.
    #[arg(long)]
    login_server: Option<String>,
    /// The repository.
    #[arg(long)]
    repository: Option<String>,
    /// Read the daily files in DIR instead of this berthd's audit directory; given more than
    /// once (each replica's directory), their events are merged in time order.
    #[arg(long = "dir", value_name = "DIR")]
    dirs: Vec<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EventCategory {
    Login,
    Repository,
    SignIn,
}

fn parse_instant(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time such as 2026-09-01T00:00:00Z: {e}"))
}

/// Every setting, as `--help` ends.
fn settings_help() -> String {
    let mut out = String::from(
        "Settings: defaults < the file named by BERTH_CONFIG (or ./berth.toml) < BERTH_* \
         environment variables.\n",
    );
    for doc in setting_docs() {
        let file = doc
            .file_key
            .map_or_else(|| "environment only".to_owned(), |k| format!("file: {k}"));
        let _ = write!(
            out,
            "\n  {}  ({file}; default: {})\n      {}\n",
            doc.env, doc.default, doc.meaning
        );
    }
    out
}

/// Runs `berthd` with the process's arguments and environment.
pub async fn main() -> ExitCode {
    let command = Cli::command().after_long_help(settings_help());
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("berthd: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            println!("{}", describe(&settings));
            println!("berthd: the configuration is valid");
            ExitCode::SUCCESS
        }
        Command::RotateSigningKey => {
            telemetry::init(settings.log_format);
            rotate_signing_key(&settings).await
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            telemetry::init(settings.log_format);
            audit_verify(&settings).await
        }
        Command::Audit {
            command: AuditCommand::Events(args),
        } => audit_events(&settings, args),
        Command::Audit {
            command: AuditCommand::Prune { before },
        } => {
            telemetry::init(settings.log_format);
            audit_prune(&settings, before).await
        }
        Command::Serve => {
            telemetry::init(settings.log_format);
            serve(settings).await
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let app = match Application::build(settings.clone()).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("berthd: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", ready_block(&app, &settings));
    tracing::info!(url = app.base_url(), "berthd listening");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berthd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a configuration sets, without its secrets.
fn describe(settings: &Settings) -> String {
    let database = match settings.database_target() {
        DatabaseTarget::Sqlite(path) => format!("SQLite {}", path.display()),
        DatabaseTarget::Postgres { schema, .. } => format!(
            "PostgreSQL (schema {})",
            schema.as_deref().unwrap_or("public")
        ),
    };
    let tls = match &settings.tls {
        TlsMode::Off => "off".to_owned(),
        TlsMode::SelfSigned => "a generated development certificate".to_owned(),
        TlsMode::Files { cert, .. } => format!("the certificate {}", cert.display()),
    };
    let trust = match (&settings.notary, settings.trust_server.listen) {
        (Some(notary), _) => format!("the Notary server {}", notary.url),
        (None, Some(addr)) => format!("the embedded trust server on {addr}"),
        (None, None) => "none (content trust cannot be enabled)".to_owned(),
    };
    format!(
        "  listen         {}\n  data dir       {}\n  database       {database}\n  TLS            {tls}\n  \
         content trust  {trust}\n  login servers  <name>.{}\n  OIDC providers {}",
        settings.listen,
        settings.data_dir.display(),
        settings.login_servers.client_suffix(),
        settings.oidc_providers.len(),
    )
}

/// The block printed once the server is bound: where it answers, what clients must trust,
/// and the next command to run.
fn ready_block(app: &Application, settings: &Settings) -> String {
    let url = app.base_url();
    let mut out = format!(
        "berthd {} is ready\n  API            {url}  (OpenAPI {url}/openapi.json, docs {url}/docs)\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(trust) = app.trust_url() {
        let _ = writeln!(out, "  trust server   {trust}  (Notary v1)");
    }
    let ca = app.ca_file().map(|ca| ca.display().to_string());
    if let Some(ca) = &ca {
        let _ = writeln!(
            out,
            "  CA file        {ca}  (a generated development CA: trust it in clients)"
        );
    }
    let sub = app.subscription();
    let _ = writeln!(
        out,
        "  subscription   {}  (tenant {})",
        sub.id, sub.tenant_id
    );
    let login = |app_id: &str, secret: &str| {
        let ca = ca
            .as_deref()
            .map(|ca| format!(" --ca-file {ca}"))
            .unwrap_or_default();
        format!("berth login --service-principal -u {app_id} -p {secret} --endpoint {url}{ca}")
    };
    match app.bootstrap_owner() {
        Some(owner) => {
            let file = bootstrap_owner_file(settings);
            // The secret is never printed: standard output is a log too (a container's,
            // a collector's). It is in the owner-only file.
            let secret = match &owner.generated_secret {
                Some(_) => {
                    let _ = writeln!(
                        out,
                        "  bootstrap owner appId {} (Owner at /); its secret is in {} (owner-only)",
                        owner.app_id,
                        file.display()
                    );
                    format!(
                        "\"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"secret\"])' {})\"",
                        file.display()
                    )
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  bootstrap owner appId {} (Owner at /), with the configured secret",
                        owner.app_id
                    );
                    "\"$BERTH_BOOTSTRAP_CLIENT_SECRET\"".to_owned()
                }
            };
            let _ = write!(out, "Next: {}", login(&owner.app_id.to_string(), &secret));
        }
        None => {
            let _ = write!(out, "Next: {}", login("<appId>", "<secret>"));
        }
    }
    out
}

async fn audit_verify(settings: &Settings) -> ExitCode {
    use berth_domain::activity::{ActivityLog, ChainReport};
    let store = match Store::open(settings).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("berthd: cannot open the store: {e}");
            return ExitCode::from(2);
        }
    };
    match store.activity.verify().await {
        Ok(ChainReport::Intact { records }) => {
            println!("berthd: the activity log is intact ({records} records checked)");
            ExitCode::SUCCESS
        }
        Ok(ChainReport::Broken { seq, event, reason }) => {
            let event = event.map_or_else(String::new, |e| format!(" (event {e})"));
            println!("berthd: the activity log is broken at record {seq}{event}: {reason}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("berthd: cannot read the activity log: {e}");
            ExitCode::from(2)
        }
    }
}

fn audit_events(settings: &Settings, args: EventsArgs) -> ExitCode {
    use berth_infra::diagnostics::{EventFilter, SinkTarget, query};
    let dirs = match &settings.audit_sink {
        _ if !args.dirs.is_empty() => args.dirs.clone(),
        SinkTarget::Directory(dir) => vec![dir.clone()],
        SinkTarget::Stdout => {
            eprintln!(
                "berthd: BERTH_AUDIT_SINK=stdout: the events are where the collector of berthd's output keeps them"
            );
            return ExitCode::from(2);
        }
        SinkTarget::Off => {
            eprintln!("berthd: BERTH_AUDIT_SINK=off: no events are kept");
            return ExitCode::from(2);
        }
    };
    // A directory named by hand that is not there would read as a day without events.
    if let Some(missing) = args.dirs.iter().find(|d| !d.is_dir()) {
        eprintln!("berthd: --dir {}: no such directory", missing.display());
        return ExitCode::from(2);
    }
    let until = args.until.unwrap_or_else(time::OffsetDateTime::now_utc);
    let since = args
        .since
        .unwrap_or(until - time::Duration::hours(args.hours.into()));
    if since > until {
        eprintln!("berthd: --since must not be after --until");
        return ExitCode::from(2);
    }
    let filter = EventFilter {
        category: args.category.map(|c| {
            match c {
                EventCategory::Login => berth_domain::diagnostics::LOGIN_EVENTS,
                EventCategory::Repository => berth_domain::diagnostics::REPOSITORY_EVENTS,
                EventCategory::SignIn => berth_domain::diagnostics::SIGN_IN_EVENTS,
            }
            .to_owned()
        }),
        operation: args.operation,
        result: args.result,
        identity: args.identity,
        login_server: args.login_server,
        repository: args.repository,
    };
    let stdout = std::io::stdout();
    match query(&dirs, since, until, &filter, &mut stdout.lock()) {
        Ok(count) => {
            eprintln!("berthd: {}", counted(count.matched, "event", "events"));
            if count.unreadable > 0 {
                eprintln!(
                    "berthd: {} of the audit files not an event, skipped",
                    counted(count.unreadable, "line", "lines")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            eprintln!(
                "berthd: cannot read the audit files in {}: {e}",
                dirs.join(", ")
            );
            ExitCode::from(2)
        }
    }
}

async fn audit_prune(settings: &Settings, before: time::OffsetDateTime) -> ExitCode {
    use berth_domain::activity::ActivityLog;
    let store = match Store::open(settings).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("berthd: cannot open the store: {e}");
            return ExitCode::from(2);
        }
    };
    match store.activity.prune(before).await {
        Ok(deleted) => {
            println!(
                "berthd: {} of the activity log pruned",
                counted(deleted, "record", "records")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("berthd: cannot prune the activity log: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `n` and the noun, singular or plural as `n` asks.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The operator running `berthd` on this machine, as the activity log names them.
fn operator() -> berth_domain::activity::ActivityCaller {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    berth_domain::activity::ActivityCaller {
        object_id: None,
        name: format!("berthd:{user}"),
        kind: "Operator".to_owned(),
    }
}

async fn rotate_signing_key(settings: &Settings) -> ExitCode {
    use berth_domain::activity::ActivityLog;
    let facts = berth_infra::activity::RequestFacts {
        correlation_id: uuid::Uuid::new_v4().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        client_request_id: None,
        client_address: None,
        trace_id: None,
        method: "CLI".to_owned(),
        by_path: None,
    };
    let (result, recording) = berth_infra::activity::recorded(facts, async {
        berth_infra::activity::note_caller(operator());
        berth_infra::activity::note_action(ROTATE_ACTION, "/providers/Berth/signingKeys", true);
        let store = Store::open(settings).await.map_err(|e| e.to_string())?;
        let kid = rotate(settings, &store).await;
        Ok::<_, String>((store, kid))
    })
    .await;
    let (store, rotated) = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("berthd: cannot rotate the signing key: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (status, code) = match &rotated {
        Ok(_) => (200, None),
        Err(_) => (500, Some("InternalServerError".to_owned())),
    };
    let rest = recording.finish(status, code);
    if let Err(e) = store.activity.append(&rest).await {
        eprintln!("berthd: the activity log could not record the rotation: {e}");
    }
    match rotated {
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

/// The activity log's name for a rotation of the signing keys.
const ROTATE_ACTION: &str = "Berth/signingKeys/rotate/action";

async fn rotate(settings: &Settings, store: &Store) -> Result<String, String> {
    let rotated = async {
        let signer = JwtSigner::open(store.database.clone(), store.sealing.clone())
            .await
            .map_err(|e| e.to_string())?;
        let kid = signer.rotate().await.map_err(|e| e.to_string())?;
        let bundle = settings.data_dir.join("registry-token-certs.pem");
        let registry_keys =
            TokenServerKeys::open(store.database.clone(), store.sealing.clone(), &bundle)
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
    rotated.await
}
