//! Shared helpers of the integration tests: a whole server on port 0 with a
//! temporary SQLite database and its users, waits with a deadline, the test
//! phones, the web console over HTTP (`console`) and in a browser
//! (`webdriver`).
#![allow(dead_code)]

pub mod agent_phone;
pub mod call_phone;
pub mod console;
pub mod ivr_editor;
pub mod sip_phone;
pub mod webdriver;

use hotline::acd::AgentState;
use hotline::config::{AgentConfig, Config};
use hotline::role::Role;
use hotline::server::{self, Running};
use hotline::sip::digest::Algorithm;
use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How long a test waits for something the server does asynchronously
/// (a registration counted, a call written) before it fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// A server on 127.0.0.1 with ephemeral ports and its own database.
pub struct TestServer {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

pub fn agent(login: &str, password: &str, algorithms: &[Algorithm]) -> AgentConfig {
    AgentConfig {
        login: login.to_string(),
        name: format!("Agent {login}"),
        role: Role::ContactManager,
        password: password.to_string(),
        queues: vec![hotline::store::QueueSkill::new("general")],
        digest_algorithms: algorithms.to_vec(),
        nat: false,
    }
}

/// A configured user of `role`; its password is `<login>-password` (what
/// [`password_of`] gives), its queue `general`.
pub fn user(login: &str, role: Role) -> AgentConfig {
    let mut a = agent(login, &password_of(login), &[]);
    a.role = role;
    a
}

/// The password [`user`] gives `login`.
pub fn password_of(login: &str) -> String {
    format!("{login}-password")
}

/// Starts the whole server with `agents` after `tweak` adjusts the config
/// (see [`test_config`] for what a test config already has).
pub async fn start_with(agents: Vec<AgentConfig>, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir, agents);
    tweak(&mut config);
    TestServer::start_in(dir, config).await
}

/// Ephemeral ports, a database and recordings in `dir`, and a calendar open
/// around the clock.
pub fn test_config(dir: &tempfile::TempDir, agents: Vec<AgentConfig>) -> Config {
    let mut config = Config::default();
    config.sip.listen = "127.0.0.1:0".parse().unwrap();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = format!("sqlite://{}", dir.path().join("hotline.db").display());
    config.agents = agents;
    config.media.rtp_ports = hotline::config::PortRange {
        lo: 40000,
        hi: 59998,
    };
    config.calendar = always(true);
    // Only used when a test turns recording on; never the repository's.
    config.paths.recordings_dir = dir.path().join("recordings");
    config
}

/// A calendar open (or closed) around the clock, so tests do not depend on
/// the hour they run at.
pub fn always(open: bool) -> hotline::ivr::Calendar {
    let hours = if open {
        vec![(0u16, 24 * 60u16)]
    } else {
        Vec::new()
    };
    hotline::ivr::Calendar {
        utc_offset_minutes: 0,
        weekly: std::array::from_fn(|_| hours.clone()),
        holidays: Default::default(),
    }
}

impl TestServer {
    pub async fn start(agents: Vec<AgentConfig>) -> TestServer {
        start_with(agents, |_| {}).await
    }

    /// Starts on `config`, keeping `dir` (its database and files) as long
    /// as the server lives; for configs that need files in `dir` first.
    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> TestServer {
        let running = server::start(config.clone()).await.expect("server starts");
        TestServer {
            running,
            dir,
            config,
        }
    }

    /// Stops and starts again on the same database (new ports).
    pub async fn restart(self) -> TestServer {
        let TestServer {
            running,
            dir,
            config,
        } = self;
        running.stop().await.unwrap();
        let running = server::start(config.clone())
            .await
            .expect("server restarts");
        TestServer {
            running,
            dir,
            config,
        }
    }

    pub fn sip(&self) -> std::net::SocketAddr {
        self.running.sip_addr
    }

    /// `http://127.0.0.1:PORT`, what the console's and the API's paths
    /// are appended to.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.running.http_addr)
    }

    /// Waits until routing counts `login` in `state` (a phone's
    /// registration or a state change takes effect asynchronously).
    pub async fn wait_state(&self, login: &str, state: AgentState) {
        let what = format!("{login} in state {state:?}");
        wait_until(&what, async || {
            let snapshot = self.running.routing.snapshot().await;
            let now = snapshot
                .agents
                .iter()
                .find(|a| a.login == login)
                .map(|a| a.state);
            if now == Some(state) { Ok(()) } else { Err(now) }
        })
        .await
    }
}

/// Polls `check` every 20 ms until it gives `Ok`, for at most [`WAIT`];
/// then fails, naming what was awaited and the last `Err` (what was seen
/// instead). The way to wait on the server: a condition with a deadline,
/// never a fixed sleep.
pub async fn wait_until<T, E: Debug>(
    what: &str,
    mut check: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match check().await {
            Ok(done) => return done,
            Err(last) => assert!(
                Instant::now() < deadline,
                "never {what} within {WAIT:?}; last seen: {last:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
