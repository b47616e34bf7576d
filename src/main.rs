//! The `hotline` command line: parse arguments, build the [`Config`], hand
//! it to the server or the store. No logic beyond that lives here.
//!
//! Exit codes: 0 success, 1 a configuration or runtime error (printed as one
//! line per problem, never a panic or a backtrace), 2 a usage error (clap's).

use clap::{Args, Parser, Subcommand};
use hotline::config::{Config, ConfigError, PortRange};
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
    /// Validate configuration files; prints `file:line:col: message` per
    /// problem and exits 1 if there is any. Without FILES checks
    /// ./hotline.toml (if present) and the built-in defaults.
    Check { files: Vec<PathBuf> },
    /// Apply the database migrations and exit.
    Migrate(MigrateArgs),
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

fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2 (0 for --help/--version).
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Check { files } => check(&files),
        Command::Serve(args) => serve(args),
        Command::Migrate(args) => migrate(args),
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

fn check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    let mut report = |label: &str, result: Result<Config, ConfigError>| match result {
        Ok(_) => println!("ok: {label}"),
        Err(e) => {
            eprintln!("{e}");
            failed = true;
        }
    };
    if files.is_empty() {
        let default_file = Path::new(DEFAULT_CONFIG_FILE);
        if default_file.exists() {
            report(DEFAULT_CONFIG_FILE, Config::load(default_file));
        }
        let defaults = Config::default();
        report("defaults", defaults.validate().map(|()| defaults.clone()));
    }
    for file in files {
        report(&file.display().to_string(), Config::load(file));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
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
