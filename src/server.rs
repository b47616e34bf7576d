//! `hotline serve`: opens the store, brings agents and bindings into the SIP
//! endpoint, binds SIP (UDP + TCP) and HTTP, and stops gracefully.
//!
//! [`start`] returns the bound addresses, so tests run whole servers on
//! port 0 side by side; [`run`] is the CLI's blocking form.

use crate::api::{self, AgentEvent, AppState};
use crate::call::{self, CallContext, Dialogs};
use crate::config::Config;
use crate::ivr::registry::{ScriptRegistry, spawn_watcher};
use crate::media::ports::RtpPortPool;
use crate::media::session::SharedPacing;
use crate::metrics::Metrics;
use crate::routing::{self, LiveCalls, Routing};
use crate::sip::endpoint::{Endpoint, EndpointConfig};
use crate::sip::message::Limits;
use crate::sip::registrar::{BindingChange, RegistrarConfig};
use crate::sip::transaction::Timers;
use crate::sip::transport::{self, SipShell, TcpLimits, unix_ms};
use crate::store::InquiryWriter;
use crate::store::{LoginLockout, NewAgent, Store};
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// How long a graceful stop waits for calls to hang up.
const STOP_CALLS_DEADLINE: Duration = Duration::from_secs(40);

/// A running server: its addresses and the handle to stop it.
pub struct Running {
    pub sip_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub store: Store,
    /// The routing actor and the live calls registry, for the call layer.
    pub routing: Routing,
    pub live_calls: LiveCalls,
    shell: Arc<SipShell>,
    /// First phase of a stop: no new calls, hang up the others.
    stop_calls: watch::Sender<bool>,
    /// Second phase: SIP, HTTP and the rest.
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The call layer; ends once every call has ended after stop.
    calls: JoinHandle<()>,
    writer: JoinHandle<()>,
    pub inquiries: InquiryWriter,
    inquiry_writer: JoinHandle<()>,
    /// Prometheus metrics (`/metrics`). SIP and RTP figures are sampled at
    /// scrape time; the call, queue and agent gauges are set by their owners.
    pub metrics: Arc<Metrics>,
    /// The live IVR flows (what a new call to a number gets).
    pub ivr: Arc<ScriptRegistry>,
}

impl Running {
    /// Live bindings of a login, as the SIP side sees them now.
    pub fn registered_contacts(&self, login: &str) -> Vec<String> {
        self.shell
            .endpoint()
            .registrar()
            .lookup(login, unix_ms())
            .into_iter()
            .map(|b| b.contact.clone())
            .collect()
    }

    /// Counters of the SIP endpoint.
    pub fn sip_stats(&self) -> crate::sip::endpoint::Stats {
        self.shell.endpoint().stats()
    }

    /// Graceful stop: no new messages are taken, then every pending store
    /// write is flushed before returning.
    pub async fn stop(self) -> anyhow::Result<()> {
        // Calls are hung up (BYE) and their inquiries finalised while SIP
        // still runs (the BYE needs its response and its timers); a caller
        // that never answers our BYE is waited for at most 64*T1.
        let _ = self.stop_calls.send(true);
        if tokio::time::timeout(STOP_CALLS_DEADLINE, self.calls)
            .await
            .is_err()
        {
            tracing::warn!("calls still open at the stop deadline");
        }
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.inquiries.flush().await;
        drop(self.inquiries);
        // The shell owns the last sender of the persist channel: dropping it
        // lets the writer drain the queue and end.
        drop(self.shell);
        let _ = self.writer.await;
        let _ = self.inquiry_writer.await;
        self.store.close().await;
        Ok(())
    }
}

/// Runs until `shutdown` resolves, then stops gracefully.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let running = start(config).await?;
    tracing::info!(sip = %running.sip_addr, http = %running.http_addr, "hotline is serving");
    shutdown.await;
    tracing::info!("shutting down");
    running.stop().await
}

/// Starts every part of the server and returns once all sockets are bound.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let store = Store::connect(&config.database.url)
        .await
        .with_context(|| format!("cannot open database {}", config.database.url))?
        .with_crm_outbox(config.crm.enabled());
    store.migrate().await.context("cannot apply migrations")?;

    let realm = config.sip.realm.clone();
    let admin_password = std::env::var("HOTLINE_ADMIN_PASSWORD").ok();
    if let Some(generated) = store
        .ensure_admin(admin_password.as_deref(), &realm)
        .await
        .context("cannot create the admin user")?
    {
        // Printed once, on the first start, to the operator's terminal only.
        eprintln!("hotline: created user `admin` with password: {generated}");
    }
    for agent in &config.agents {
        store
            .upsert_agent(&NewAgent::from(agent), &realm)
            .await
            .with_context(|| format!("cannot save agent {}", agent.login))?;
    }
    release_hashing_memory();

    let mut endpoint = Endpoint::new(endpoint_config(&config), rand::random());
    for agent in store.list_agents().await? {
        if let Some(credentials) = store.sip_credentials(&agent.login).await? {
            endpoint.upsert_agent(credentials);
        }
    }
    endpoint.restore_bindings(store.load_bindings(unix_ms()).await?, unix_ms());

    let (ivr_dir, prompts_dir) = (
        config.paths.ivr_dir.clone(),
        config.paths.prompts_dir.clone(),
    );
    let registry = Arc::new(
        tokio::task::spawn_blocking(move || ScriptRegistry::open(&ivr_dir, &prompts_dir))
            .await
            .context("loading IVR scripts")??,
    );

    let (udp, tcp) = transport::bind(config.sip.listen)
        .await
        .with_context(|| format!("cannot bind SIP on {}", config.sip.listen))?;
    let sip_addr = udp.local_addr()?;
    let http_listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot bind HTTP on {}", config.http.listen))?;
    let http_addr = http_listener.local_addr()?;

    let (persist_tx, persist_rx) = mpsc::unbounded_channel();
    let limits = Limits {
        max_message_bytes: config.sip.max_message_bytes,
        ..Limits::default()
    };
    let tcp_limits = TcpLimits {
        header_timeout: Duration::from_millis(config.sip.tcp_header_timeout_ms),
        idle_timeout: Duration::from_secs(config.sip.tcp_idle_timeout_s),
        max_connections: config.sip.max_tcp_connections,
    };
    let (calls_tx, calls_rx) = mpsc::unbounded_channel();
    let shell = SipShell::new(endpoint, udp, limits, tcp_limits, persist_tx, calls_tx);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (stop_calls_tx, stop_calls_rx) = watch::channel(false);
    // Routing runs until the second stop phase: calls ending in the first
    // still report to it.
    let (routing, routing_task) =
        routing::start(&config.queues, store.clone(), unix_ms(), stop_rx.clone()).await?;
    let live_calls = LiveCalls::new();
    let (inquiries, inquiry_writer) =
        InquiryWriter::spawn_with_crm_outbox(store.clone(), config.crm.enabled());
    let metrics = Arc::new(Metrics::default());
    // Hours saved in the console win over the file's `[calendar]` (logged).
    let calendar = crate::ivr::calendar::LiveCalendar::new(
        api::calendar::calendar_at_start(&store, &config.calendar).await,
    );
    let call_ctx = Arc::new(CallContext {
        shell: shell.clone(),
        flows: registry.clone(),
        prompts: registry.prompts().clone(),
        calendar: calendar.clone(),
        ports: Arc::new(
            RtpPortPool::new(config.media.rtp_ports.lo, config.media.rtp_ports.hi)
                .context("bad RTP port range")?,
        ),
        media_bind_ip: config.sip.listen.ip(),
        sip_listen: sip_addr,
        advertised_ip: config.sip.domain.as_deref().and_then(|d| d.parse().ok()),
        inquiries: inquiries.clone(),
        inactivity: Duration::from_secs(config.media.rtp_timeout_s),
        pacing: SharedPacing::default(),
        routing: routing.clone(),
        live: live_calls.clone(),
        store: store.clone(),
        recordings: config
            .recording
            .enabled
            .then(|| config.paths.recordings_dir.clone()),
        http_base: http_base(config.http.listen.ip(), http_addr, &config),
        realm: realm.clone(),
        queue_names: config.queues.iter().map(|q| q.name.clone()).collect(),
        departments: config.departments.clone().into(),
        dialogs: Dialogs::default(),
        metrics: metrics.clone(),
    });
    let pacing = call_ctx.pacing.clone();
    {
        // Weak: the shell must drop at stop (it owns the last sender of the
        // bindings channel), and the metrics live as long as the router.
        let (shell, pacing) = (Arc::downgrade(&shell), pacing.clone());
        metrics.add_sampler(move |m| {
            if let Some(shell) = shell.upgrade() {
                m.set_sip_totals(shell.endpoint().stats().into());
            }
            m.set_rtp_packets_sent(pacing.0.counts().0);
        });
    }

    let (agent_events, _) = broadcast::channel(256);
    // Registrations reach routing through the registrar's change stream;
    // the registrar itself (through a weak handle, so the writer does not
    // keep the shell alive) says whether the login still has a live binding.
    let registrar_of = Arc::downgrade(&shell);
    let registrations = routing.clone();
    let writer = tokio::spawn(write_bindings(store.clone(), persist_rx, move |login| {
        if let Some(shell) = registrar_of.upgrade() {
            let live = !shell
                .endpoint()
                .registrar()
                .lookup(login, unix_ms())
                .is_empty();
            registrations.registration(login, live);
        }
    }));
    let app = AppState {
        calendar: calendar.clone(),
        ivr: Some(registry.clone()),
        board_today: Default::default(),
        store: store.clone(),
        realm: realm.clone(),
        token_ttl_s: config.http.token_ttl_s,
        agent_events: agent_events.clone(),
        channels: std::sync::Arc::new(config.channels.clone()),
        recordings_dir: config.paths.recordings_dir.clone(),
        routing: Some(api::RoutingState {
            routing: routing.clone(),
            live_calls: live_calls.clone(),
            departments: config.departments.clone().into(),
            queues: config.queues.clone().into(),
        }),
        reports: config.reports.clone(),
        lockout: LoginLockout {
            max_failures: config.http.lockout_failures,
            window_ms: ms_of_s(config.http.lockout_window_s),
            lockout_ms: ms_of_s(config.http.lockout_s),
        },
        metrics: metrics.clone(),
        stopping: stop_rx.clone(),
    };
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(async move {
        let served = axum::serve(http_listener, api::router(app))
            .with_graceful_shutdown(async move {
                let _ = http_stop.changed().await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    let calls = tokio::spawn(call::run_calls(call_ctx, calls_rx, stop_calls_rx.clone()));
    let brake = tokio::spawn(call::watch_pacing(shell.clone(), pacing, stop_calls_rx));
    let watcher = spawn_watcher(
        registry.clone(),
        Duration::from_millis(config.ivr.reload_interval_ms),
        stop_rx.clone(),
    );
    let mut tasks = vec![
        tokio::spawn(transport::run_udp(shell.clone(), stop_rx.clone())),
        tokio::spawn(transport::run_tcp(shell.clone(), tcp, stop_rx.clone())),
        tokio::spawn(transport::run_timers(shell.clone(), stop_rx.clone())),
        tokio::spawn(follow_agent_changes(
            shell.clone(),
            store.clone(),
            agent_events.subscribe(),
            stop_rx.clone(),
        )),
        routing::follow_agent_events(
            routing.clone(),
            store.clone(),
            agent_events.subscribe(),
            stop_rx.clone(),
        ),
        routing_task,
        tokio::spawn(sample_routing(
            routing.clone(),
            metrics.clone(),
            stop_rx.clone(),
        )),
        http,
        watcher,
        brake,
    ];
    tasks.extend(crate::crm::spawn(
        store.clone(),
        &config.crm,
        stop_rx.clone(),
    )?);
    Ok(Running {
        sip_addr,
        http_addr,
        store,
        routing,
        live_calls,
        shell,
        stop_calls: stop_calls_tx,
        stop: stop_tx,
        tasks,
        calls,
        writer,
        inquiries,
        inquiry_writer,
        metrics,
        ivr: registry,
    })
}

/// The API's address as an agent's phone or browser reaches it, for the
/// `Call-Info` screen-pop URL: the listen address when specific, else the
/// advertised SIP domain, else loopback (a single-box install).
fn http_base(listen_ip: std::net::IpAddr, bound: SocketAddr, config: &Config) -> String {
    let host = if listen_ip.is_unspecified() {
        config
            .sip
            .domain
            .clone()
            .unwrap_or_else(|| "127.0.0.1".to_string())
    } else {
        bound.ip().to_string()
    };
    format!("http://{host}:{}", bound.port())
}

/// Copies routing's view (callers waiting, agents by state) into the
/// metrics once a second: the snapshot is a message to the routing actor,
/// too slow to take inside a scrape.
async fn sample_routing(routing: Routing, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let snapshot = routing.snapshot().await;
        metrics.set_callers_waiting(snapshot.queues.iter().map(|q| q.waiting as u64).sum());
        let mut by_state: std::collections::BTreeMap<&'static str, u64> = Default::default();
        for agent in &snapshot.agents {
            *by_state.entry(agent.state.as_str()).or_insert(0) += 1;
        }
        metrics.set_agents_by_state(by_state);
    }
}

/// Gives the memory argon2 used for the configured agents' passwords
/// (19 MiB per hash, kept by glibc's allocator once freed) back to the
/// system, so the server's resident size reflects its calls, not its
/// start-up.
fn release_hashing_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no
    // preconditions and touches no memory the program still uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn ms_of_s(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn endpoint_config(config: &Config) -> EndpointConfig {
    let sip = &config.sip;
    EndpointConfig {
        realm: sip.realm.clone(),
        user_agent: sip.user_agent.clone(),
        limits: Limits {
            max_message_bytes: sip.max_message_bytes,
            ..Limits::default()
        },
        registrar: RegistrarConfig {
            min_expires: sip.min_expires,
            max_expires: sip.max_expires,
            default_expires: sip.default_expires,
            max_bindings_per_login: sip.max_bindings_per_login,
        },
        // A fresh secret per start: a nonce from before a restart is
        // "invalid", and the phone simply answers the new challenge.
        nonce_secret: rand::random(),
        nonce_lifetime_s: sip.nonce_lifetime_s,
        auth_fail_limit: sip.auth_fail_limit,
        auth_fail_window: Duration::from_secs(sip.auth_fail_window_s),
        auth_block: Duration::from_secs(sip.auth_block_s),
        timers: Timers::default(),
        max_calls: sip.max_calls,
    }
}

/// Writes registrar changes in order. A failed write is retried a few times
/// and then logged: the binding stays live in memory either way.
/// `changed_login` hears of each change first (routing's registrations).
async fn write_bindings(
    store: Store,
    mut changes: mpsc::UnboundedReceiver<BindingChange>,
    changed_login: impl Fn(&str) + Send + 'static,
) {
    while let Some(change) = changes.recv().await {
        changed_login(match &change {
            BindingChange::Upsert(b) => &b.login,
            BindingChange::Remove { login, .. } => login,
        });
        for attempt in 1..=3 {
            let result = match &change {
                BindingChange::Upsert(b) => store.save_binding(b).await,
                BindingChange::Remove { login, contact } => {
                    store.remove_binding(login, contact).await
                }
            };
            match result {
                Ok(()) => break,
                Err(e) if attempt < 3 => {
                    tracing::warn!(error = %e, attempt, "saving a registration failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => tracing::error!(error = %e, "saving a registration failed"),
            }
        }
    }
}

/// Keeps the SIP side in step with agent changes made through the API: a
/// new password takes effect at the next REGISTER, a deleted agent's phones
/// are unregistered at once.
async fn follow_agent_changes(
    shell: Arc<SipShell>,
    store: Store,
    mut events: broadcast::Receiver<AgentEvent>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = stop.changed() => return,
        };
        match event {
            Ok(AgentEvent::Changed(login)) => match store.sip_credentials(&login).await {
                Ok(Some(credentials)) => shell.with_endpoint(|e| {
                    e.upsert_agent(credentials);
                    Vec::new()
                }),
                Ok(None) => shell.with_endpoint(|e| e.remove_agent(&login)),
                Err(e) => tracing::error!(error = %e, "cannot reload agent credentials"),
            },
            Ok(AgentEvent::Deleted(login)) => shell.with_endpoint(|e| e.remove_agent(&login)),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Missed events: reload everyone rather than guess.
                if let Ok(agents) = store.list_agents().await {
                    for agent in agents {
                        if let Ok(Some(c)) = store.sip_credentials(&agent.login).await {
                            shell.with_endpoint(|e| {
                                e.upsert_agent(c);
                                Vec::new()
                            });
                        }
                    }
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
