//! `tandem`: the command line of tandem.
//!
//! - `up`: the whole stack in one process against a local NATS (module [`up`], with
//!   [`local_nats`] starting a `nats-server` when none is reachable, and [`demo`]).
//! - `setup`: every stream, bucket, object store and durable, made as the NATS admin before
//!   the services start (module [`setup`]).
//! - `submit`: JSON reports in, outcomes out (module [`submit`]).
//! - `watch`: every tandem event as it happens, in words (modules [`watch`], [`render`]).
//! - `situation get|list|endorse|contest|history`: determinations, their review by the
//!   agencies and their history (module [`situation`]).
//! - `policy check|apply`: trying and deploying a leadership policy (module [`policy`]).
//! - `directory import|list|remove`, `notifications list|ack`: coordinators and what they were
//!   told (modules [`directory`], [`notifications`]).
//! - `trace`: from a report or a situation to its trace in the tracing dashboard (module
//!   [`trace`]).
//! - `dlq list|replay`: dead letters (module [`dlq`]).
//! - `data get`: the published dataset, over HTTP from the publish service (module [`data`]).
//! - `bench`: runs the `tandem-bench` binary (module [`bench`]), which measures throughput,
//!   latency and memory against the bare-NATS limit.
//!
//! What it prints for people (determinations, rationale, event lines) is in the reader's
//! language: `--lang`, else `TANDEM_LANG`, else the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`:
//! `fr_FR.UTF-8` is French), else English; see [`lang`]. `--json` output is the same in every
//! language.

mod bench;
mod data;
mod demo;
mod directory;
mod dlq;
mod local_nats;
mod notifications;
mod policy;
mod render;
mod setup;
mod situation;
mod submit;
mod trace;
mod up;
mod watch;

use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand};
use tandem_i18n::Lang;
use tandem_runtime::{
    config::{self, CommonArgs, CommonConfig},
    nats, service_api, telemetry,
};

tandem_runtime::global_allocator!();

/// tandem: the IOM/UNHCR Framework of Engagement as running software.
#[derive(Parser)]
#[command(name = "tandem", version, about)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// The language of what tandem prints for people: en, fr or es (default: the locale's,
    /// from LC_ALL, LC_MESSAGES or LANG, else English). `--json` output does not change.
    #[arg(long, global = true, env = "TANDEM_LANG", value_parser = parse_lang)]
    lang: Option<Lang>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process against NATS_URL, starting a local nats-server
    /// (with JetStream, state in --state-dir) when none is reachable.
    Up(up::UpArgs),
    /// Create every stream, bucket, object store and durable consumer the services need, as
    /// the NATS admin (NATS_URL with NATS_USER/NATS_PASSWORD or NATS_CREDS); what exists is
    /// left as it is. Run before starting services under the shipped accounts.
    Setup,
    /// Submit situation reports from a JSON file (or - for stdin): one object, an array, or one
    /// object per line.
    Submit(submit::SubmitArgs),
    /// Follow tandem's events live, in words.
    Watch,
    /// The trace ids of a report's outcome or of a situation's last determination, with a link
    /// when TANDEM_TRACE_URL is set (e.g. http://localhost:16686/trace/{trace_id}).
    Trace(trace::TraceArgs),
    /// Exit 0 when a service answers on the NATS service API (for readiness probes), e.g.
    /// `tandem ping intake`, `tandem ping notify-iom`.
    Ping {
        /// The service: intake, leadership, notify-iom, notify-unhcr, publish.
        service: String,
        /// Seconds to wait for an answer.
        #[arg(long, default_value_t = 2)]
        timeout: u64,
    },
    /// Current determinations: who leads each situation and why.
    #[command(subcommand)]
    Situation(situation::SituationCommand),
    /// Check a leadership policy file against current situations, or apply a deployed one.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Get the published situation dataset.
    Data(data::DataArgs),
    /// The coordinator directory: import, list, remove focal points.
    #[command(subcommand)]
    Directory(directory::DirectoryCommand),
    /// Notifications: list them, acknowledge one.
    #[command(subcommand)]
    Notifications(notifications::NotificationsCommand),
    /// Dead letters: list them, replay them once the cause is fixed.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Measure the pipeline against the bare-NATS limit on a nats-server of its own.
    Bench(bench::BenchArgs),
}

/// Exit codes, for scripts.
pub mod exit {
    /// A report was rejected.
    pub const REJECTED: u8 = 1;
    /// A review was refused.
    pub const REFUSED: u8 = 1;
    /// No such report or situation.
    pub const NOT_FOUND: u8 = 1;
    /// tandem could not do what was asked (NATS unreachable, bad arguments).
    pub const FAILURE: u8 = 2;
    /// An outcome did not arrive in time.
    pub const TIMEOUT: u8 = 3;
}

/// The reader's language, chosen once at start-up by [`main`].
static LANG: OnceLock<Lang> = OnceLock::new();

/// The language to print in for people.
pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or_default()
}

/// `--lang` and `TANDEM_LANG`: a language tandem speaks (`fr`, `fr-CA`, `es_CO.UTF-8`).
fn parse_lang(tag: &str) -> Result<Lang, String> {
    Lang::from_tag(tag).ok_or_else(|| format!("tandem speaks en, fr and es, not {tag:?}"))
}

/// The language of the POSIX locale: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set
/// (as the C library reads them), when tandem speaks it; English otherwise (`C`, `de_DE`).
fn locale_lang(var: impl Fn(&str) -> Option<String>) -> Lang {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .filter_map(|name| var(name).filter(|value| !value.is_empty()))
        .next()
        .and_then(|tag| Lang::from_tag(&tag))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli
        .lang
        .unwrap_or_else(|| locale_lang(|name| std::env::var(name).ok()));
    let _ = LANG.set(lang);
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("tandem: {error:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // These need no NATS connection of their own.
    let command = match cli.command {
        Command::Up(args) => return up::run(&cli.common, args).await.map(|()| ExitCode::SUCCESS),
        Command::Data(args) => return data::run(args).await,
        Command::Bench(args) => return bench::run(args),
        command => command,
    };
    let config: CommonConfig = config::load(&cli.common)?;
    let telemetry = telemetry::init_with_level("tandem-cli", config.log_format, "warn")?;
    let client = nats::try_connect(&config.nats, "tandem-cli").await?;
    let code = match command {
        Command::Up(_) | Command::Data(_) | Command::Bench(_) => ExitCode::SUCCESS,
        Command::Setup => setup::run(&client, &config)
            .await
            .map(|()| ExitCode::SUCCESS)?,
        Command::Submit(args) => submit::run(&client, args).await?,
        Command::Watch => watch::run(&client).await.map(|()| ExitCode::SUCCESS)?,
        Command::Trace(args) => trace::run(&client, args).await?,
        Command::Ping { service, timeout } => {
            let wait = std::time::Duration::from_secs(timeout);
            match service_api::wait_for_services(&client, &[service.as_str()], wait).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("tandem: {error:#}");
                    ExitCode::from(exit::FAILURE)
                }
            }
        }
        Command::Situation(command) => situation::run(&client, command).await?,
        Command::Policy(command) => policy::run(&client, command).await?,
        Command::Directory(command) => directory::run(&client, command).await?,
        Command::Notifications(command) => notifications::run(&client, command).await?,
        Command::Dlq(command) => dlq::run(&client, command).await?,
    };
    let _ = client.flush().await;
    telemetry.shutdown();
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_decides_when_no_language_is_asked_for() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert_eq!(locale_lang(env(&[("LANG", "fr_FR.UTF-8")])), Lang::Fr);
        assert_eq!(
            locale_lang(env(&[("LC_ALL", "es_CO.UTF-8"), ("LANG", "fr_FR.UTF-8")])),
            Lang::Es
        );
        assert_eq!(
            locale_lang(env(&[("LC_ALL", ""), ("LANG", "fr_FR.UTF-8")])),
            Lang::Fr
        );
        assert_eq!(locale_lang(env(&[("LANG", "C.UTF-8")])), Lang::En);
        assert_eq!(locale_lang(env(&[("LANG", "de_DE.UTF-8")])), Lang::En);
        assert_eq!(locale_lang(env(&[])), Lang::En);
        assert_eq!(parse_lang("es-419"), Ok(Lang::Es));
        assert!(parse_lang("de").unwrap_err().contains("en, fr and es"));
    }
}
