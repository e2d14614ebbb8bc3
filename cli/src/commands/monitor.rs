//! `berth monitor activity-log list`, as `az monitor activity-log list`: a time range
//! (`--start-time`, `--end-time`, `--offset`; the last six hours by default), one of
//! `--resource-group`, `--resource-id`, `--namespace`, `--correlation-id`, plus `--caller`
//! and `--status`, newest first, at most `--max-events`.

use crate::Global;
use crate::client::{CliError, Client};
use clap::{Args, Subcommand};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const INSIGHTS_API: &str = "2015-04-01";

/// `berth monitor ...`.
#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// The activity log: who changed what, when, and how it ended.
    #[command(subcommand)]
    ActivityLog(ActivityLogCommand),
}

/// `berth monitor activity-log ...`.
#[derive(Debug, Subcommand)]
pub enum ActivityLogCommand {
    /// List and query activity-log events.
    List(ListArgs),
}

/// What to list.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this correlation id's events.
    #[arg(long)]
    correlation_id: Option<String>,
    /// Only this resource group's events.
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
    /// Only this resource's events (its full id).
    #[arg(long)]
    resource_id: Option<String>,
    /// Only this provider's events (`Microsoft.ContainerRegistry`).
    #[arg(long = "namespace")]
    resource_provider: Option<String>,
    /// Only this caller's events (principal name or appId).
    #[arg(long)]
    caller: Option<String>,
    /// Only events with this status (Started, Accepted, Succeeded, Failed).
    #[arg(long)]
    status: Option<String>,
    /// Start time of the query (ISO 8601).
    #[arg(long)]
    start_time: Option<String>,
    /// End time of the query (ISO 8601); now by default.
    #[arg(long)]
    end_time: Option<String>,
    /// The length of the range, back from the end or on from the start: `6h`, `1d`, `30m`.
    #[arg(long, default_value = "6h")]
    offset: String,
    /// At most this many events.
    #[arg(long, default_value_t = 50)]
    max_events: usize,
    /// Only these properties of each event.
    #[arg(long, num_args = 1..)]
    select: Vec<String>,
}

fn period(text: &str) -> Result<Duration, CliError> {
    let bad = || {
        CliError::msg(format!(
            "--offset '{text}' is not a period: use a number and d, h, m or s, as 6h or 1d"
        ))
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    match unit.to_ascii_lowercase() {
        'd' => Ok(Duration::days(n)),
        'h' => Ok(Duration::hours(n)),
        'm' => Ok(Duration::minutes(n)),
        's' => Ok(Duration::seconds(n)),
        _ => Err(bad()),
    }
}

fn instant(flag: &str, text: &str) -> Result<OffsetDateTime, CliError> {
    [
        text.to_owned(),
        format!("{text}Z"),
        format!("{text}T00:00:00Z"),
    ]
    .iter()
    .find_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
    .ok_or_else(|| CliError::msg(format!("{flag} '{text}' is not an ISO 8601 time")))
}

fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The `$filter` az would send for `args`.
fn filter(args: &ListArgs, now: OffsetDateTime) -> Result<String, CliError> {
    let offset = period(&args.offset)?;
    let start = args
        .start_time
        .as_deref()
        .map(|t| instant("--start-time", t))
        .transpose()?;
    let end = args
        .end_time
        .as_deref()
        .map(|t| instant("--end-time", t))
        .transpose()?;
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s + offset),
        (None, Some(e)) => (e - offset, e),
        (None, None) => (now - offset, now),
    };
    let format = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let mut filter = format!(
        "eventTimestamp ge {} and eventTimestamp le {}",
        quoted(&format(start)),
        quoted(&format(end))
    );
    // As az: the narrowest of the four, then caller and status.
    let narrowing = [
        ("correlationId", &args.correlation_id),
        ("resourceGroupName", &args.resource_group),
        ("resourceUri", &args.resource_id),
        ("resourceProvider", &args.resource_provider),
    ]
    .into_iter()
    .find_map(|(field, value)| value.as_deref().map(|v| (field, v)));
    for (field, value) in narrowing.into_iter().chain(
        [("caller", &args.caller), ("status", &args.status)]
            .into_iter()
            .filter_map(|(field, value)| value.as_deref().map(|v| (field, v))),
    ) {
        filter.push_str(&format!(" and {field} eq {}", quoted(value)));
    }
    Ok(filter)
}

pub(crate) async fn run(command: MonitorCommand, global: &Global) -> Result<Value, CliError> {
    let MonitorCommand::ActivityLog(ActivityLogCommand::List(args)) = command;
    let filter = filter(&args, OffsetDateTime::now_utc())?;
    let mut client = Client::load(global.debug)?;
    let sub = client.subscription(global.subscription.as_deref()).await?;
    let mut next = Some(format!(
        "/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values?api-version={INSIGHTS_API}&$filter={}{}",
        urlencoding::encode(&filter),
        if args.select.is_empty() {
            String::new()
        } else {
            format!("&$select={}", urlencoding::encode(&args.select.join(",")))
        }
    ));
    let mut events = Vec::new();
    while let Some(url) = next.take() {
        if events.len() >= args.max_events {
            break;
        }
        let page = client.get(&url).await?;
        events.extend(page["value"].as_array().cloned().unwrap_or_default());
        next = page["nextLink"]
            .as_str()
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
    }
    events.truncate(args.max_events);
    Ok(Value::Array(events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ListArgs,
    }

    fn filter_of(argv: &[&str]) -> String {
        let wrapper = Wrapper::parse_from(std::iter::once("list").chain(argv.iter().copied()));
        let now = OffsetDateTime::parse("2026-12-04T12:00:00Z", &Rfc3339)
            .unwrap_or_else(|e| panic!("{e}"));
        filter(&wrapper.args, now).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_filter_is_the_one_az_sends() {
        assert_eq!(
            filter_of(&["-g", "rg", "--caller", "o'neil@x"]),
            "eventTimestamp ge '2026-12-04T06:00:00Z' and eventTimestamp le '2026-12-04T12:00:00Z' and resourceGroupName eq 'rg' and caller eq 'o''neil@x'"
        );
        assert_eq!(
            filter_of(&[
                "--start-time",
                "2026-12-01",
                "--offset",
                "1d",
                "--correlation-id",
                "c",
                "-g",
                "ignored"
            ]),
            "eventTimestamp ge '2026-12-01T00:00:00Z' and eventTimestamp le '2026-12-02T00:00:00Z' and correlationId eq 'c'"
        );
    }

    #[test]
    fn a_bad_offset_or_time_is_a_usage_error() {
        let wrapper = Wrapper::parse_from(["list", "--offset", "6x"]);
        assert!(filter(&wrapper.args, OffsetDateTime::now_utc()).is_err());
        let wrapper = Wrapper::parse_from(["list", "--start-time", "yesterday"]);
        assert!(filter(&wrapper.args, OffsetDateTime::now_utc()).is_err());
    }
}
