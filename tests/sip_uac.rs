//! The agent leg over real sockets: the server's SIP endpoint and transport
//! shell (as `server::start` runs them) place calls to the operator's test
//! phone, which registers with digest and answers, declines, is cancelled,
//! hangs up, holds and transfers. The call layer is the test itself: it
//! reads the endpoint's call events from the shell's channel.

mod common;

use common::agent_phone::AgentPhone;
use common::call_phone::RtpMedia;
use common::sip_phone::DEADLINE;
use hotline::media::g711::CodecKind;
use hotline::sip::dialog::CallHandle;
use hotline::sip::digest::{Algorithm, ha1};
use hotline::sip::endpoint::{CallEvent, Endpoint, EndpointConfig, OutgoingCall};
use hotline::sip::message::Limits;
use hotline::sip::registrar::{BindingChange, RegistrarConfig};
use hotline::sip::transaction::Timers;
use hotline::sip::transport::{self, CallSignal, SipShell, TcpLimits, unix_ms};
use hotline::store::SipCredentials;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

const REALM: &str = "hotline";
const DISPLAY: &str = "Абитуриент · приём";
const CALL_INFO: &str = "<http://127.0.0.1:8080/api/v1/inquiries/inq-1>;purpose=info";

/// The endpoint in its tokio shell on 127.0.0.1:0, with the call layer's
/// channel in the test's hands.
struct Sip {
    shell: Arc<SipShell>,
    addr: SocketAddr,
    signals: mpsc::UnboundedReceiver<CallSignal>,
    _persist: mpsc::UnboundedReceiver<BindingChange>,
    _stop: watch::Sender<bool>,
}

impl Sip {
    async fn start(agents: &[(&str, &str)]) -> Sip {
        let config = EndpointConfig {
            realm: REALM.into(),
            user_agent: "hotline-uac-test".into(),
            limits: Limits::default(),
            registrar: RegistrarConfig {
                min_expires: 60,
                max_expires: 3600,
                default_expires: 3600,
                max_bindings_per_login: 10,
            },
            nonce_secret: [3; 32],
            nonce_lifetime_s: 300,
            auth_fail_limit: 10,
            auth_fail_window: Duration::from_secs(60),
            auth_block: Duration::from_secs(300),
            timers: Timers::default(),
            max_calls: 100,
        };
        let mut endpoint = Endpoint::new(config, 0x5eed);
        for (login, password) in agents {
            endpoint.upsert_agent(SipCredentials {
                login: login.to_string(),
                digest_algorithms: vec![Algorithm::Md5],
                ha1_md5: ha1(Algorithm::Md5, login, REALM, password),
                ha1_sha256: ha1(Algorithm::Sha256, login, REALM, password),
                nat: false,
            });
        }
        let (udp, tcp) = transport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = udp.local_addr().unwrap();
        let (persist_tx, persist) = mpsc::unbounded_channel();
        let (calls_tx, signals) = mpsc::unbounded_channel();
        let tcp_limits = TcpLimits {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_connections: 16,
        };
        let shell = SipShell::new(
            endpoint,
            udp,
            Limits::default(),
            tcp_limits,
            persist_tx,
            calls_tx,
        );
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(transport::run_udp(shell.clone(), stop_rx.clone()));
        tokio::spawn(transport::run_tcp(shell.clone(), tcp, stop_rx.clone()));
        tokio::spawn(transport::run_timers(shell.clone(), stop_rx));
        Sip {
            shell,
            addr,
            signals,
            _persist: persist,
            _stop: stop,
        }
    }

    /// Places a call to the first registered phone of `login`, offering
    /// `media`'s address, as routing will.
    fn call(&self, login: &str, media: &RtpMedia) -> CallHandle {
        let mut handle = None;
        let offer = media.sdp(true);
        let local = self.addr;
        self.shell.with_endpoint(|e| {
            let targets = e.agent_targets(login, unix_ms());
            let (contact, peer) = targets.first().cloned().expect("the agent is registered");
            let (h, actions) = e.place_call(
                OutgoingCall {
                    request_uri: contact,
                    to: format!("sip:{login}@{REALM}"),
                    from_user: "79161234567".into(),
                    from_display: Some(DISPLAY.into()),
                    extra_headers: vec![("Call-Info".into(), CALL_INFO.into())],
                    offer: offer.into(),
                    local,
                },
                peer,
                Instant::now(),
            );
            handle = Some(h);
            actions
        });
        handle.unwrap()
    }

    /// The next event of `call` (other calls' events are skipped).
    async fn event(&mut self, call: CallHandle) -> CallEvent {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("a call event within the deadline");
            match tokio::time::timeout(left, self.signals.recv()).await {
                Ok(Some(CallSignal::Event(handle, event))) if handle == call => return event,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => panic!("no event for call {call}"),
            }
        }
    }

    fn cancel(&self, call: CallHandle) {
        self.shell.with_endpoint(|e| e.cancel(call, Instant::now()));
    }
}

#[tokio::test]
async fn the_phone_shows_the_caller_rings_answers_and_audio_flows_both_ways() {
    let mut sip = Sip::start(&[("anna", "secret")]).await;
    let mut anna = AgentPhone::register(sip.addr, "anna", "secret").await;
    let mut our_media = RtpMedia::bind(CodecKind::Pcmu).await;
    let call = sip.call("anna", &our_media);

    let invite = anna
        .wait_invite(DEADLINE)
        .await
        .expect("anna's phone rings");
    assert_eq!(invite.display_name.as_deref(), Some(DISPLAY));
    assert_eq!(invite.caller, "79161234567");
    assert_eq!(invite.call_info.as_deref(), Some(CALL_INFO));
    assert_eq!(invite.request_uri, format!("sip:anna@{}", anna.local_sip));
    assert!(
        invite
            .offer
            .contains(&format!("m=audio {} ", our_media.local_addr().port()))
    );

    anna.ring().await;
    assert_eq!(sip.event(call).await, CallEvent::Progress { status: 180 });
    assert!(anna.answer().await, "the endpoint ACKs the 200");
    let CallEvent::Answered { answer } = sip.event(call).await else {
        panic!("not answered")
    };
    let answer = String::from_utf8(answer.to_vec()).unwrap();
    assert!(answer.contains(&format!("m=audio {} ", anna.media.local_addr().port())));
    our_media.use_peer_sdp(&answer);

    // Audio: the phone's tone reaches our socket, ours reaches the phone.
    anna.send_tone(440.0, 200).await;
    assert!(our_media.wait_packets(10, DEADLINE).await.len() >= 10);
    our_media.send_silence(10).await;
    assert!(anna.wait_packets(10, DEADLINE).await.len() >= 10);

    assert_eq!(anna.hang_up().await, Some(200));
    assert_eq!(sip.event(call).await, CallEvent::HungUp);
    assert_eq!(sip.event(call).await, CallEvent::Ended);
}

#[tokio::test]
async fn a_busy_operator_declines() {
    let mut sip = Sip::start(&[("boris", "pw")]).await;
    let mut boris = AgentPhone::register(sip.addr, "boris", "pw").await;
    let media = RtpMedia::bind(CodecKind::Pcmu).await;
    let call = sip.call("boris", &media);
    boris.wait_invite(DEADLINE).await.expect("rings");
    assert!(boris.decline(486).await, "the endpoint ACKs the 486");
    assert_eq!(sip.event(call).await, CallEvent::Rejected { status: 486 });
    assert_eq!(sip.event(call).await, CallEvent::Ended);
}

#[tokio::test]
async fn a_withdrawn_call_stops_the_ringing_phone() {
    let mut sip = Sip::start(&[("vera", "pw")]).await;
    let mut vera = AgentPhone::register(sip.addr, "vera", "pw").await;
    let media = RtpMedia::bind(CodecKind::Pcmu).await;
    let call = sip.call("vera", &media);
    vera.wait_invite(DEADLINE).await.expect("rings");
    vera.ring().await;
    assert_eq!(sip.event(call).await, CallEvent::Progress { status: 180 });
    sip.cancel(call);
    assert!(
        vera.wait_cancel(DEADLINE).await,
        "CANCEL, then the 487 is ACKed"
    );
    assert_eq!(sip.event(call).await, CallEvent::Rejected { status: 487 });
    assert_eq!(sip.event(call).await, CallEvent::Ended);
}

#[tokio::test]
async fn an_operator_who_does_not_pick_up_is_cancelled_after_100_trying() {
    let mut sip = Sip::start(&[("lev", "pw")]).await;
    let mut lev = AgentPhone::register(sip.addr, "lev", "pw").await;
    let media = RtpMedia::bind(CodecKind::Pcmu).await;
    let call = sip.call("lev", &media);
    lev.wait_invite(DEADLINE).await.expect("rings");
    // Only 100 Trying came back; withdrawing must not wait for Timer B.
    // The CANCEL may race the 100: the endpoint then sends it on the 100.
    sip.cancel(call);
    assert!(lev.wait_cancel(DEADLINE).await);
    assert_eq!(sip.event(call).await, CallEvent::Rejected { status: 487 });
    assert_eq!(sip.event(call).await, CallEvent::Ended);
}

#[tokio::test]
async fn our_hangup_reaches_the_operator() {
    let mut sip = Sip::start(&[("gleb", "pw")]).await;
    let mut gleb = AgentPhone::register(sip.addr, "gleb", "pw").await;
    let media = RtpMedia::bind(CodecKind::Pcmu).await;
    let call = sip.call("gleb", &media);
    gleb.wait_invite(DEADLINE).await.expect("rings");
    assert!(gleb.answer().await);
    assert!(matches!(sip.event(call).await, CallEvent::Answered { .. }));
    sip.shell.with_endpoint(|e| e.hangup(call, Instant::now()));
    assert!(gleb.wait_bye(DEADLINE).await);
    assert_eq!(sip.event(call).await, CallEvent::Ended);
}

#[tokio::test]
async fn the_operator_holds_and_transfers_by_refer() {
    let mut sip = Sip::start(&[("dina", "pw")]).await;
    let mut dina = AgentPhone::register(sip.addr, "dina", "pw").await;
    let media = RtpMedia::bind(CodecKind::Pcmu).await;
    let call = sip.call("dina", &media);
    dina.wait_invite(DEADLINE).await.expect("rings");
    assert!(dina.answer().await);
    assert!(matches!(sip.event(call).await, CallEvent::Answered { .. }));

    // Hold: the re-INVITE reaches the call layer as a new offer, which it
    // answers like any other.
    let local = sip.addr;
    let shell = sip.shell.clone();
    let our_sdp = media.sdp(true).replace("a=sendrecv", "a=recvonly");
    let call_layer = async {
        let CallEvent::Reoffer { offer: Some(offer) } = sip.event(call).await else {
            panic!("no reoffer")
        };
        assert!(String::from_utf8_lossy(&offer).contains("a=sendonly"));
        shell.with_endpoint(|e| e.answer(call, &our_sdp, local, Instant::now()));
    };
    let ((status, answer), ()) = tokio::join!(dina.hold(), call_layer);
    assert_eq!(status, Some(200));
    assert!(answer.contains("a=recvonly"));

    // Blind transfer to the admission queue.
    assert_eq!(dina.refer("sip:admission@hotline").await, Some(202));
    let CallEvent::Refer {
        target,
        referred_by,
    } = sip.event(call).await
    else {
        panic!("no refer")
    };
    assert_eq!(target, "sip:admission@hotline");
    assert_eq!(
        referred_by,
        Some(format!("sip:dina@{}", dina.local_sip)),
        "who transferred"
    );
    sip.shell
        .with_endpoint(|e| e.refer_outcome(call, 200, Instant::now()));
    assert_eq!(
        dina.wait_notify(DEADLINE).await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    assert_eq!(dina.hang_up().await, Some(200));
    assert_eq!(sip.event(call).await, CallEvent::HungUp);
    assert_eq!(sip.event(call).await, CallEvent::Ended);
}

#[tokio::test]
async fn the_agent_phone_registers_with_the_real_server() {
    let server = common::TestServer::start(vec![common::agent(
        "olga",
        "olga-password",
        &[Algorithm::Md5],
    )])
    .await;
    let olga = AgentPhone::register(server.sip(), "olga", "olga-password").await;
    assert_eq!(
        server.running.registered_contacts("olga"),
        [format!("sip:olga@{}", olga.local_sip)]
    );
    server.running.stop().await.unwrap();
}
