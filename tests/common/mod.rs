//! Shared helpers of the integration tests: a whole server on port 0 with a
//! temporary SQLite database, and the test phone.
#![allow(dead_code)]

pub mod agent_phone;
pub mod call_phone;
pub mod sip_phone;
pub mod webdriver;

use hotline::config::{AgentConfig, Config};
use hotline::role::Role;
use hotline::server::{self, Running};
use hotline::sip::digest::Algorithm;

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
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(&dir, agents);
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
}
