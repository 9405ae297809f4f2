//! The command tree, as `clap` derive types. Each subcommand's options live with it, so new
//! subcommands (`inbox …`, `reconcile`) are one more variant of [`Command`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Start and follow bulk enrichments, send signed test webhooks, run a local fake of the API.
#[derive(Debug, Parser)]
#[command(name = "enrich", version, about, propagate_version = true)]
pub struct Cli {
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enrich people: start a bulk enrichment, read it, wait for it.
    #[command(subcommand)]
    People(EnrichmentCommand),
    /// Enrich companies: start a bulk enrichment, read it, wait for it.
    #[command(subcommand)]
    Companies(EnrichmentCommand),
    /// Sign events and POST them to a webhook receiver, with optional faults.
    Send(SendArgs),
    /// Run the local fake of the API, which delivers signed webhooks.
    Sim(SimArgs),
    /// Operate a receiver's inbox: counts, dead letters, retry, replay, purge, erase, release,
    /// rekey, and the admin page.
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// Store in an inbox every person of an enrichment whose webhook never arrived.
    Reconcile(ReconcileArgs),
}

/// Whether a table shows personal data: offered by the commands whose tables hold some
/// (`people`/`companies` `get` and `wait`, `inbox dead`), and only there (`inbox serve` has a
/// flag of the same name of its own, for the admin page's bodies).
#[derive(Debug, Clone, Copy, Args)]
pub struct ShowPersonal {
    /// Show names, email addresses, phone numbers and error texts in tables (by default they
    /// show ids and counts only; --json always prints everything).
    #[arg(long)]
    pub show_personal: bool,
}

/// The inbox to operate on.
#[derive(Debug, Clone, Args)]
pub struct InboxUrl {
    /// The inbox database: `sqlite:PATH` (the file must exist) or `postgres://…`.
    #[arg(
        long = "inbox",
        value_name = "URL",
        env = "ENRICH_INBOX_URL",
        hide_env_values = true
    )]
    pub url: String,
}

/// `inbox …`.
#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// How many deliveries are due, waiting on backoff, processing, dead, done and quarantined,
    /// and how long the oldest claimable one has waited (the figures of the inbox's gauges).
    Stats(InboxUrl),
    /// The figures of `inbox stats`, read again every --interval: redrawn in place on a
    /// terminal, one JSON object per line with --json.
    Watch {
        /// Time between readings (such as 500ms, 2s, 1m; a plain number is seconds).
        #[arg(long, value_name = "SECS", value_parser = parse_interval, default_value = "2")]
        interval: Duration,
        /// Stop after this many readings (default: until interrupted).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// The dead letters (deliveries that failed every attempt), oldest first.
    Dead {
        /// Show at most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        personal: ShowPersonal,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// Put a dead letter (or every one, with --all) back in line, attempts reset.
    #[command(group = clap::ArgGroup::new("which").required(true))]
    Retry {
        /// The delivery's id (from `inbox dead`).
        #[arg(group = "which")]
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long, group = "which")]
        all: bool,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// Process a done delivery once more.
    Replay {
        /// The delivery's id.
        id: i64,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// Apply a retention policy now (a worker applies the inbox's on a schedule): drop the
    /// bodies of deliveries processed longer ago than --older-than, the bodies and error texts
    /// of dead letters older than --dead-letters, and forget keys after --keep-keys (a
    /// redelivery after that is stored anew). Deletes in bounded batches.
    Purge {
        /// Drop bodies processed longer ago than this (such as 7d, 12h, 30m).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "7d")]
        older_than: std::time::Duration,
        /// Drop the body and error text of dead letters that died longer ago than this.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30d")]
        dead_letters: std::time::Duration,
        /// Forget keys processed longer ago than this (at least --older-than).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30d")]
        keep_keys: std::time::Duration,
        /// Rows per batch (each batch is one commit, holding the write lock briefly).
        #[arg(long, value_name = "ROWS", default_value_t = 500)]
        batch_size: u32,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// Serve the inbox's admin page (counts, dead letters, retry, replay, a delivery's
    /// history and redacted body) on --listen until Ctrl-C. Refuses to start without an access
    /// token: browsers sign in with it, scripts send `Authorization: Bearer TOKEN`. With
    /// --show-personal the operator token also sees full bodies.
    Serve {
        /// The address to listen on (keep it on loopback, or put https in front).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8089")]
        listen: std::net::SocketAddr,
        /// The operator's access token, at least 16 characters.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "ENRICH_ADMIN_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// A second token that may only read, at least 16 characters.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "ENRICH_ADMIN_READ_ONLY_TOKEN",
            hide_env_values = true
        )]
        read_only_token: Option<String>,
        /// Let the operator token see delivery bodies in full (names, email addresses, phone
        /// numbers); by default every token sees them masked.
        #[arg(long)]
        show_personal: bool,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// Release the quarantine with the signing secret: verify each quarantined delivery's
    /// stored signature against its stored body (its timestamp against the time it was
    /// received); verified ones are processed, the others become dead letters with the reason.
    /// In bounded batches.
    Release {
        /// The signing secret, from the API settings (a comma-separated list while rotating).
        #[arg(
            long,
            value_name = "SECRET",
            env = "SURFE_WEBHOOK_SECRET",
            hide_env_values = true
        )]
        secret: String,
        /// Only say what would be released, changing nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// Erase one person (or a whole enrichment): the body, signature and error text of every
    /// matching delivery, in every state. Keys stay, so a redelivery is still a duplicate.
    #[command(group = clap::ArgGroup::new("subject").required(true).multiple(false))]
    Erase {
        /// Every delivery of this external ID (your id of the person).
        #[arg(long, value_name = "ID", group = "subject")]
        external_id: Option<String>,
        /// Every delivery whose stored body holds this email address (case-insensitive).
        #[arg(long, value_name = "ADDRESS", group = "subject")]
        email: Option<String>,
        /// Every delivery of this enrichment (`enrichmentID`).
        #[arg(long, value_name = "ID", group = "subject")]
        enrichment: Option<String>,
        /// Only say what would be erased.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        inbox: InboxUrl,
    },
    /// Re-seal every stored body and error text under the current key of ENRICH_INBOX_KEYS
    /// (`ID:BASE64KEY,…`, the current key first, older keys after it): rows sealed under an
    /// older key, and plaintext rows stored before encryption was turned on. Progress on
    /// stderr after each batch.
    Rekey {
        /// Rows per batch (each batch is one commit, holding the write lock briefly).
        #[arg(long, value_name = "ROWS", default_value_t = 500)]
        batch_size: u32,
        #[command(flatten)]
        inbox: InboxUrl,
    },
}

/// `reconcile ENRICHMENT_ID`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The people enrichment id (`enrichmentID`).
    pub id: String,

    #[command(flatten)]
    pub inbox: InboxUrl,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// `people …` and `companies …`.
#[derive(Debug, Subcommand)]
pub enum EnrichmentCommand {
    /// Start an enrichment from a CSV or JSON file (`-` reads JSON from stdin).
    Start(StartArgs),
    /// Print an enrichment's progress and results so far.
    Get(GetArgs),
    /// Wait for an enrichment to finish (with a progress bar), then print its results.
    Wait(WaitArgs),
}

/// Where the API is and the key to call it with.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the API (a local fake: the URL `enrich sim` prints).
    #[arg(long = "api", value_name = "URL", env = "SURFE_API_URL", default_value = enrich_client::DEFAULT_BASE_URL)]
    pub api: String,

    /// API key (prefer the environment variable: a command line is visible to other users).
    #[arg(
        long,
        value_name = "KEY",
        env = "SURFE_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

/// `start FILE`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// CSV (with a header row) or JSON file of the people or companies to enrich; `-` for JSON
    /// on stdin.
    pub file: PathBuf,

    /// The https URL that receives one webhook per finished item (http only for loopback).
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,

    /// What to look for (people only), comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "email")]
    pub include: Vec<Look>,

    /// Most items per request; more are split into several enrichments (people: at most and by
    /// default 10000; companies: 500 by default, the API's recommendation).
    #[arg(long, value_name = "N")]
    pub per_request: Option<usize>,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// What a people enrichment looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Look {
    /// Email addresses.
    Email,
    /// Mobile phone numbers.
    Mobile,
    /// The LinkedIn profile URL.
    #[value(name = "linkedInUrl", alias = "linkedin-url", alias = "linkedin")]
    LinkedInUrl,
    /// The job history.
    #[value(name = "jobHistory", alias = "job-history")]
    JobHistory,
}

/// `get ID`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The enrichment id (`enrichmentID`).
    pub id: String,

    #[command(flatten)]
    pub personal: ShowPersonal,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// `wait ID`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The enrichment id (`enrichmentID`).
    pub id: String,

    /// Give up after this many seconds (default: wait as long as it takes).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Seconds between polls at most.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub max_interval: u64,

    #[command(flatten)]
    pub personal: ShowPersonal,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// `send URL [EVENT…]`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("fault").multiple(false))]
pub struct SendArgs {
    /// The receiver's URL, such as http://127.0.0.1:3000/webhook.
    #[arg(required_unless_present = "list")]
    pub url: Option<String>,

    /// Events to send: built-in fixture names (see --list), JSON files, or `-` for stdin.
    /// Default: person-full.
    pub events: Vec<String>,

    /// List the built-in fixtures and exit.
    #[arg(long)]
    pub list: bool,

    /// The signing secret (the receiver's SURFE_WEBHOOK_SECRET).
    #[arg(long, env = "SURFE_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// Send each event this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// How many requests to have in flight at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Fault: sign as of 10 minutes ago (expect 401 stale_timestamp).
    #[arg(long, group = "fault")]
    pub stale: bool,

    /// Fault: change the body after signing it (expect 401 invalid_signature).
    #[arg(long, group = "fault")]
    pub tamper: bool,

    /// Fault: send no signature header (expect 401 missing_signature).
    #[arg(long, group = "fault")]
    pub unsigned: bool,

    /// Fault: sign with a secret the receiver does not have (expect 401 invalid_signature).
    #[arg(long, group = "fault")]
    pub wrong_secret: bool,

    /// The status every answer must have (default: 200, or 401 with a fault).
    #[arg(long, value_name = "STATUS")]
    pub expect_status: Option<u16>,

    /// The `code` every answer must have (default: the fault's documented code).
    #[arg(long, value_name = "CODE")]
    pub expect_code: Option<String>,
}

/// `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// The API key the fake accepts.
    #[arg(long, env = "SURFE_API_KEY", hide_env_values = true, default_value = enrich_sim::DEFAULT_API_KEY)]
    pub api_key: String,

    /// The secret the fake signs webhooks with.
    #[arg(long, env = "SURFE_WEBHOOK_SECRET", hide_env_values = true, default_value = enrich_sim::DEFAULT_WEBHOOK_SECRET)]
    pub secret: String,

    /// Waits before each retry of a failed delivery, comma-separated (ms, s or m).
    #[arg(long, value_delimiter = ',', value_parser = parse_duration, default_value = "1s,5s,25s,125s")]
    pub retry_schedule: Vec<std::time::Duration>,

    /// How long one delivery attempt may take (ms, s or m).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub delivery_timeout: std::time::Duration,

    /// Share (0 to 1) of deliveries sent twice.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub duplicate_rate: f64,

    /// Share (0 to 1) of deliveries lost for good (only in the GET results).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub drop_rate: f64,

    /// Time to enrich one item (ms, s or m).
    #[arg(long, value_parser = parse_duration, default_value = "50ms")]
    pub item_delay: std::time::Duration,

    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Reads `500ms`, `5s`, `2m`, `3h`, `7d` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 5s, 2m, 3h or 7d"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(number.saturating_mul(3600))),
        "d" => Ok(Duration::from_secs(number.saturating_mul(86_400))),
        _ => Err(format!(
            "{text:?} is not a duration such as 500ms, 5s, 2m, 3h or 7d"
        )),
    }
}

/// Reads a watch interval: a [`parse_duration`] of at least 100 ms.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if interval < Duration::from_millis(100) {
        return Err(format!(
            "{text:?} is shorter than the shortest interval, 100ms"
        ));
    }
    Ok(interval)
}

/// Reads a share between 0 and 1.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| format!("{text:?} is not a share between 0 and 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(3 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "s", "5w", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("100ms"), Ok(Duration::from_millis(100)));
        for bad in ["0", "99ms", "x"] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        for bad in ["-0.1", "1.5", "NaN", "x"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }
}
