//! Feature codes dialled from an operator's softphone: `*50` makes the
//! agent available, `*51` pauses them — what operators of Asterisk-style
//! PBXs already know. The caller must be a registered agent (recognised by
//! the address their phone registered from); the call is answered, a short
//! confirmation says the resulting state, and it hangs up.

use super::{CallContext, routed::state_prompt};
use crate::acd::AgentRequest;
use crate::media::session::MediaEvent;
use crate::sip::dialog::CallHandle;
use crate::sip::endpoint::{CallEvent, IncomingCall};
use crate::sip::transport::unix_ms;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Longest a confirmation may take before we hang up regardless.
const CONFIRMATION_LIMIT: Duration = Duration::from_secs(10);

/// Language of the confirmations: the department's own.
const LANGUAGE: &str = "ru";

pub(super) async fn run(
    ctx: Arc<CallContext>,
    incoming: IncomingCall,
    request: AgentRequest,
    mut events: mpsc::UnboundedReceiver<(CallHandle, CallEvent)>,
) {
    let handle = incoming.handle;
    let login = ctx
        .shell
        .endpoint()
        .login_at(incoming.peer.addr, unix_ms());
    let Some(login) = login else {
        tracing::info!(dialled = %incoming.dialled, "feature code from a phone that is not a registered agent: 403");
        ctx.shell
            .with_endpoint(|e| e.reject(handle, 403, "Forbidden", Instant::now()));
        return;
    };
    let outcome = ctx.routing.agent_request(&login, request).await;
    tracing::info!(agent = %login, request = ?request, outcome = ?outcome, "feature code");
    let Some(mut accepted) = super::accept(&ctx, &incoming).await else {
        return;
    };
    let prompt = ctx.prompts.get(LANGUAGE, state_prompt(outcome));
    let deadline = tokio::time::Instant::now() + CONFIRMATION_LIMIT;
    match prompt {
        Ok(p) => accepted.media.play_prompt(1, &p),
        Err(e) => tracing::warn!(error = %e, "feature-code confirmation prompt missing"),
    }
    let mut hung_up = false;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                None | Some((_, CallEvent::Ended)) => break,
                Some((_, CallEvent::HungUp | CallEvent::Cancelled | CallEvent::AckTimeout)) => hung_up = true,
                Some(_) => {}
            },
            media = accepted.media_events.recv() => {
                if matches!(media, Some(MediaEvent::PlaybackFinished(_)) | None) && !hung_up {
                    hung_up = true;
                    ctx.shell.with_endpoint(|e| e.hangup(handle, Instant::now()));
                }
            }
            _ = tokio::time::sleep_until(deadline), if !hung_up => {
                hung_up = true;
                ctx.shell.with_endpoint(|e| e.hangup(handle, Instant::now()));
            }
        }
    }
    accepted.media.close().await;
}
