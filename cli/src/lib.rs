//! `berth`: the Azure CLI's commands and flags for Berth, over its public REST API only (no
//! `berth-domain`, no `berth-infra`). `berth login`, `account`, `group`, `acr` and
//! `acr config content-trust` work as `az`'s do; global `--output`, `--query`,
//! `--only-show-errors`, `--verbose`, `--debug` and `--subscription` as well.

mod client;
mod commands;
pub mod output;
mod profile;

use clap::{Args, Parser, Subcommand};
use client::CliError;
use output::Format;
use std::io::Write;
use std::process::ExitCode;

/// The registry api-version `berth` speaks.
pub const API: &str = "2025-11-01";

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Berth's command line: the Azure CLI's acr, role, ad, group and account commands for a Berth deployment."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

/// Flags every command takes, as in `az`.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Output format.
    #[arg(
        short = 'o',
        long,
        global = true,
        value_enum,
        ignore_case = true,
        default_value = "json"
    )]
    pub output: Format,
    /// JMESPath query string (see jmespath.org).
    #[arg(long, global = true)]
    pub query: Option<String>,
    /// Only show errors, suppressing warnings.
    #[arg(long, global = true)]
    pub only_show_errors: bool,
    /// Increase logging verbosity.
    #[arg(long, global = true)]
    pub verbose: bool,
    /// Show all debug logs (HTTP requests and responses, with tokens and secrets redacted).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Name or ID of subscription.
    #[arg(long, global = true)]
    pub subscription: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in to a Berth deployment.
    Login(commands::account::LoginArgs),
    /// Log out and forget the cached credentials.
    Logout,
    /// Manage the signed-in account.
    #[command(subcommand)]
    Account(commands::account::AccountCommand),
    /// Manage resource groups.
    #[command(subcommand)]
    Group(commands::group::GroupCommand),
    /// Manage container registries.
    #[command(subcommand)]
    Acr(commands::acr::AcrCommand),
    /// Manage role definitions and assignments.
    #[command(subcommand)]
    Role(commands::role::RoleCommand),
    /// Manage the directory: service principals, users and groups.
    #[command(subcommand)]
    Ad(commands::ad::AdCommand),
    /// Read the activity log.
    #[command(subcommand)]
    Monitor(commands::monitor::MonitorCommand),
    /// Point the Azure CLI (`az`) at this deployment: print the set-up as a script, or
    /// apply it with --apply.
    AzConfig(commands::az_config::AzConfigArgs),
    /// Print a shell completion script.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs `berth` with the process's arguments.
pub async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let global = cli.global.clone();
    let started = std::time::Instant::now();
    let result = match cli.command {
        Command::Login(args) => commands::account::login(args, &global).await,
        Command::Logout => commands::account::logout(),
        Command::Account(c) => commands::account::run(c, &global),
        Command::Group(c) => commands::group::run(c, &global).await,
        Command::Acr(c) => commands::acr::run(c, &global).await,
        Command::Role(c) => commands::role::run(c, &global).await,
        Command::Ad(c) => commands::ad::run(c, &global).await,
        Command::Monitor(c) => commands::monitor::run(c, &global).await,
        Command::AzConfig(args) => match commands::az_config::run(args).await {
            // The script was printed as it is, for a shell.
            Ok(None) => return ExitCode::SUCCESS,
            Ok(Some(value)) => Ok(value),
            Err(e) => Err(e),
        },
        Command::Completion { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "berth", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
    };
    let code = match result {
        Ok(value) => print(&value, &global),
        Err(e) => {
            eprintln!("ERROR: {e}");
            ExitCode::FAILURE
        }
    };
    if global.verbose || global.debug {
        eprintln!(
            "INFO: Command ran in {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    }
    code
}

/// Prints a result with `--query` and `--output`.
fn print(value: &serde_json::Value, global: &Global) -> ExitCode {
    let queried = match &global.query {
        Some(q) => match output::query(value, q) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("ERROR: {e}");
                return ExitCode::from(2);
            }
        },
        None => output::Queried {
            value: value.clone(),
            key_order: None,
        },
    };
    let mut text = output::render(
        &queried.value,
        global.output,
        global.query.is_some(),
        queried.key_order.as_deref(),
    );
    // As in az: `jsonc` is colored on a terminal, and plain JSON otherwise.
    if global.output == Format::Jsonc && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        text = output::colorize_json(&text);
    }
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}

/// A warning on stderr, unless `--only-show-errors`.
pub(crate) fn warn(global: &Global, message: &str) {
    if !global.only_show_errors {
        eprintln!("WARNING: {message}");
    }
}

/// Asks `question` on the terminal; refuses without one, as `az` does.
pub(crate) fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::msg(
            "Unable to prompt for confirmation as no tty available. Use --yes.",
        ));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} (y/n): ");
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::msg(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::msg("Operation cancelled."))
    }
}
