//! The `hotline` command line: parse arguments, build the [`Config`], hand
//! it to the server or the store. No logic beyond that lives here.
//!
//! Exit codes: 0 success, 1 a configuration or runtime error (printed as one
//! line per problem, never a panic or a backtrace), 2 a usage error (clap's).

use clap::{Args, Parser, Subcommand};
use hotline::config::{Config, ConfigError, PortRange};
use hotline::ivr::{AnyPrompt, Calendar, CalendarTime, DirCatalog, PromptCatalog};
use hotline::media::prompts::check_wav;
use hotline::report::{self, DateRange, Format, Group};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Read when no `--config` is given, if it exists.
const DEFAULT_CONFIG_FILE: &str = "hotline.toml";

#[derive(Debug, Parser)]
#[command(
    name = "hotline",
    version,
    about = "Contact centre in one binary: SIP server, IVR, ACD, inquiries"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SIP and HTTP servers until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Validate configuration files and IVR scripts; prints
    /// `file:line:col: message` per problem and exits 1 if there is any.
    /// A file with a `[flow]` table is an IVR script, checked against the
    /// prompts directory; any other is a config. Without FILES checks
    /// ./hotline.toml (if present), the built-in defaults and every script
    /// in the IVR directory.
    Check(CheckArgs),
    /// Apply the database migrations and exit.
    Migrate(MigrateArgs),
    /// Print a statistical report straight from the database (the same
    /// figures as `/api/v1/reports/*`; definitions in the README).
    Report(ReportArgs),
    /// IVR tools for admins.
    Ivr {
        #[command(subcommand)]
        command: IvrCommand,
    },
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Config files and IVR scripts to check.
    files: Vec<PathBuf>,
    /// Config file that names the IVR and prompts directories (default:
    /// ./hotline.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of IVR scripts checked when no FILES are given [default: ivr-scripts].
    #[arg(long, value_name = "DIR")]
    ivr_dir: Option<PathBuf>,
    /// Directory of prompts the scripts are checked against [default: prompts].
    #[arg(long, value_name = "DIR")]
    prompts_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum IvrCommand {
    /// Walk a flow with a key sequence, no network: prints each prompt,
    /// each key, where silence leads once the keys run out, and the final
    /// action (`outcome <status> path=... category=... topic=...`).
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// The IVR script.
    file: PathBuf,
    /// Keys pressed, in order: `1,1`, `11` or `1,*,0` (0-9, * and #); ""
    /// for a caller who presses nothing.
    #[arg(value_parser = parse_keys)]
    digits: Keys,
    /// Local time of the call, `YYYY-MM-DDTHH:MM`, for `business_hours`
    /// [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_local_time)]
    at: Option<CalendarTime>,
    /// Call outside working hours, whatever the time.
    #[arg(long, conflicts_with = "open")]
    closed: bool,
    /// Call inside working hours, whatever the time.
    #[arg(long)]
    open: bool,
    /// Config file with the `[calendar]` (default: ./hotline.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of prompts the script is checked against [default: prompts].
    #[arg(long, value_name = "DIR")]
    prompts_dir: Option<PathBuf>,
}

/// DTMF keys from the command line.
#[derive(Debug, Clone)]
struct Keys(Vec<char>);

fn parse_keys(text: &str) -> Result<Keys, String> {
    text.chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .map(|c| {
            if c.is_ascii_digit() || c == '*' || c == '#' {
                Ok(c)
            } else {
                Err(format!("invalid key `{c}`: keys are 0-9, * and #"))
            }
        })
        .collect::<Result<Vec<char>, String>>()
        .map(Keys)
}

fn parse_local_time(text: &str) -> Result<CalendarTime, String> {
    let bad = || format!("invalid time `{text}`: expected YYYY-MM-DDTHH:MM, e.g. 2026-11-26T10:00");
    let (date, time) = text.trim().split_once(['T', ' ']).ok_or_else(bad)?;
    let mut ymd = date.splitn(3, '-');
    let mut hm = time.splitn(2, ':');
    let next = |parts: &mut std::str::SplitN<'_, char>| -> Result<u32, String> {
        parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)
    };
    let year = next(&mut ymd)?;
    let month = next(&mut ymd)?;
    let day = next(&mut ymd)?;
    let hour = next(&mut hm)?;
    let minute = next(&mut hm)?;
    let narrow = |n: u32| u8::try_from(n).map_err(|_| bad());
    CalendarTime::new(
        i32::try_from(year).map_err(|_| bad())?,
        narrow(month)?,
        narrow(day)?,
        narrow(hour)?,
        narrow(minute)?,
    )
    .ok_or_else(bad)
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Configuration file (default: ./hotline.toml if it exists, else the
    /// built-in defaults). The flags below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// SIP address, UDP and TCP [default: 0.0.0.0:5060].
    #[arg(long, value_name = "ADDR")]
    sip: Option<SocketAddr>,
    /// HTTP API address [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// sqlite://FILE or postgres://... [default: sqlite://hotline.db].
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// UDP ports for RTP [default: 10000-20000].
    #[arg(long, value_name = "LO-HI")]
    rtp_ports: Option<PortRange>,
    /// Directory of IVR scripts [default: ivr-scripts].
    #[arg(long, value_name = "DIR")]
    ivr_dir: Option<PathBuf>,
    /// Directory of prompts [default: prompts].
    #[arg(long, value_name = "DIR")]
    prompts_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// Configuration file (default: ./hotline.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database to migrate; overrides the config's `database.url`.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// First day, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    from: String,
    /// Last day (included), YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    to: String,
    /// `json` or `csv`.
    #[arg(long, default_value = "json")]
    format: Format,
    /// `summary` (per period) or `agents` (per agent).
    #[arg(long, value_enum, default_value = "summary")]
    kind: ReportKind,
    /// Periods of the summary: `day`, `week` (Monday to Sunday) or `month`.
    #[arg(long, default_value = "day")]
    group: Group,
    /// UTC offset the days are read in, e.g. +03:00 [default: UTC].
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    tz: Option<String>,
    /// Configuration file (default: ./hotline.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database to read; overrides the config's `database.url`.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReportKind {
    Summary,
    Agents,
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2 (0 for --help/--version).
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Check(args) => check(args),
        Command::Serve(args) => serve(args),
        Command::Migrate(args) => migrate(args),
        Command::Report(args) => report(args),
        Command::Ivr {
            command: IvrCommand::Simulate(args),
        } => simulate(args),
    }
}

/// Logs go to stderr so that stdout stays for command output; `RUST_LOG`
/// selects them, `info` by default.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn check(args: CheckArgs) -> ExitCode {
    let mut failed = false;
    // The directories scripts are checked against. A broken config is
    // reported by its own check; the defaults stand in for it here.
    let mut paths = load_config(args.config.as_deref())
        .map(|c| c.paths)
        .unwrap_or_default();
    if let Some(dir) = args.ivr_dir {
        paths.ivr_dir = dir;
    }
    if let Some(dir) = args.prompts_dir {
        paths.prompts_dir = dir;
    }
    let catalog = DirCatalog::new(&paths.prompts_dir).with_format_check(check_wav);
    if args.files.is_empty() {
        let config_file = args
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        if args.config.is_some() || config_file.exists() {
            failed |= report_config(
                &config_file.display().to_string(),
                Config::load(&config_file),
            );
        }
        let defaults = Config::default();
        failed |= report_config("defaults", defaults.validate().map(|()| defaults.clone()));
        if paths.ivr_dir.is_dir() {
            let (loaded, problems) = hotline::ivr::load_dir(&paths.ivr_dir, &catalog);
            for script in loaded {
                println!("ok: {}", script.source.path.display());
            }
            for problem in &problems {
                eprintln!("{problem}");
            }
            failed |= !problems.is_empty();
        } else {
            eprintln!(
                "{}: IVR script directory not found: `hotline serve` would not start (set --ivr-dir or paths.ivr_dir)",
                paths.ivr_dir.display()
            );
            failed = true;
        }
    }
    for file in &args.files {
        if !is_ivr_script(file) {
            failed |= report_config(&file.display().to_string(), Config::load(file));
            continue;
        }
        match check_script(file, &catalog) {
            Ok(_) => println!("ok: {}", file.display()),
            Err(problems) => {
                for problem in problems {
                    eprintln!("{problem}");
                }
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints `ok: label` or the config's problems; true when there were any.
fn report_config(label: &str, result: Result<Config, ConfigError>) -> bool {
    match result {
        Ok(_) => {
            println!("ok: {label}");
            false
        }
        Err(e) => {
            eprintln!("{e}");
            true
        }
    }
}

/// A file with a `[flow]` table is an IVR script. A file that is not even
/// TOML counts as one when a line opens `[flow]`, so the script parser
/// reports its syntax error.
fn is_ivr_script(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    match text.parse::<toml::Table>() {
        Ok(table) => table.contains_key("flow"),
        Err(_) => text.lines().any(|l| l.trim_start().starts_with("[flow]")),
    }
}

/// Parses and validates one script; every problem as `file:line:col: message`.
fn check_script(
    path: &Path,
    prompts: &dyn PromptCatalog,
) -> Result<hotline::ivr::Script, Vec<hotline::ivr::Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![hotline::ivr::Diagnostic {
            file: path.display().to_string(),
            line: 1,
            col: 1,
            message: format!("cannot read: {e}"),
        }]
    })?;
    let script = hotline::ivr::parse(path, &text)?;
    let problems = hotline::ivr::validate(&script, prompts);
    if problems.is_empty() {
        Ok(script)
    } else {
        Err(problems)
    }
}

fn simulate(args: SimulateArgs) -> ExitCode {
    let config = match load_config(args.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let prompts_dir = args.prompts_dir.unwrap_or(config.paths.prompts_dir);
    let dir_catalog;
    let catalog: &dyn PromptCatalog = if prompts_dir.is_dir() {
        dir_catalog = DirCatalog::new(&prompts_dir).with_format_check(check_wav);
        &dir_catalog
    } else {
        eprintln!(
            "note: prompts directory {} not found: prompts not checked",
            prompts_dir.display()
        );
        &AnyPrompt
    };
    let script = match check_script(&args.file, catalog) {
        Ok(script) => script,
        Err(problems) => {
            for problem in problems {
                eprintln!("{problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    let mut calendar = config.calendar;
    if args.closed {
        calendar.weekly = Default::default();
    }
    if args.open {
        calendar.weekly = std::array::from_fn(|_| vec![(0, 24 * 60)]);
        calendar.holidays.clear();
    }
    let now = args.at.unwrap_or_else(|| local_now(&calendar));
    for line in hotline::ivr::simulate(&script, &args.digits.0, &calendar, now) {
        println!("{line}");
    }
    ExitCode::SUCCESS
}

/// The institute's local time now, per the calendar's UTC offset.
fn local_now(calendar: &Calendar) -> CalendarTime {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    calendar.local_time(unix)
}

/// The config file named on the command line, else ./hotline.toml if it
/// exists, else the defaults.
fn load_config(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    match explicit {
        Some(path) => Config::load(path),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
            Config::load(Path::new(DEFAULT_CONFIG_FILE))
        }
        None => Ok(Config::default()),
    }
}

/// Loads the config, applies command-line overrides and re-validates the
/// result (an override can conflict with the file, e.g. `--http` on the SIP port).
fn configure(
    explicit: Option<&Path>,
    overrides: impl FnOnce(&mut Config),
) -> Result<Config, ExitCode> {
    let fail = |e: ConfigError| {
        eprintln!("{e}");
        ExitCode::FAILURE
    };
    let mut config = load_config(explicit).map_err(fail)?;
    overrides(&mut config);
    config.validate().map_err(fail)?;
    Ok(config)
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match configure(args.config.as_deref(), |c| {
        if let Some(sip) = args.sip {
            c.sip.listen = sip;
        }
        if let Some(http) = args.http {
            c.http.listen = http;
        }
        if let Some(url) = args.database {
            c.database.url = url;
        }
        if let Some(ports) = args.rtp_ports {
            c.media.rtp_ports = ports;
        }
        if let Some(dir) = args.ivr_dir {
            c.paths.ivr_dir = dir;
        }
        if let Some(dir) = args.prompts_dir {
            c.paths.prompts_dir = dir;
        }
    }) {
        Ok(config) => config,
        Err(code) => return code,
    };
    run_async(async move {
        let shutdown = shutdown_signal()?;
        hotline::server::run(config, shutdown).await
    })
}

fn migrate(args: MigrateArgs) -> ExitCode {
    let config = match configure(args.config.as_deref(), |c| {
        if let Some(url) = args.database {
            c.database.url = url;
        }
    }) {
        Ok(config) => config,
        Err(code) => return code,
    };
    run_async(async move {
        hotline::store::Store::connect(&config.database.url)
            .await?
            .migrate()
            .await?;
        tracing::info!("migrations applied");
        Ok(())
    })
}

fn report(args: ReportArgs) -> ExitCode {
    let range = match DateRange::parse(Some(&args.from), Some(&args.to), args.tz.as_deref()) {
        Ok(range) => range,
        Err(problems) => {
            for p in problems {
                eprintln!("error: --{}: {}", p.field, p.message);
            }
            return ExitCode::from(2);
        }
    };
    let config = match configure(args.config.as_deref(), |c| {
        if let Some(url) = args.database {
            c.database.url = url;
        }
    }) {
        Ok(config) => config,
        Err(code) => return code,
    };
    run_async(async move {
        let url = &config.database.url;
        if let Some(file) = sqlite_file(url)
            && !file.exists()
        {
            // Opening would create an empty database; say what is wrong instead.
            anyhow::bail!("database file {} not found", file.display());
        }
        let store = hotline::store::Store::connect(url).await?;
        let now = unix_now_ms();
        let text = match args.kind {
            ReportKind::Summary => {
                let service_level_s = config.reports.service_level_s;
                let r = report::summary_report(&store, &range, args.group, service_level_s, now)
                    .await?;
                match args.format {
                    Format::Json => serde_json::to_string_pretty(&r)? + "\n",
                    Format::Csv => report::csv::summary_csv(&r),
                }
            }
            ReportKind::Agents => {
                let r = report::agents_report(&store, &range, now).await?;
                match args.format {
                    Format::Json => serde_json::to_string_pretty(&r)? + "\n",
                    Format::Csv => report::csv::agents_csv(&r),
                }
            }
        };
        store.close().await;
        print!("{text}");
        Ok(())
    })
}

/// The file of a `sqlite:` URL, `None` for in-memory and other databases.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs `job` on a multi-threaded runtime; an error is printed with its
/// causes on one line and exits 1.
fn run_async(job: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(job));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed here, before
/// the server starts, so a signal that arrives during start-up is not lost
/// (or fatal, as SIGTERM's default action would be).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!("{name} received, shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("Ctrl-C received, shutting down");
            }
        })
    }
}
