//! `GET /api/v1/events`: the event log as Server-Sent Events, for consoles
//! and live boards.
//!
//! Each event is sent as `id:` (the event id), `event:` (its kind, e.g.
//! `inquiry.updated`) and `data:` (the event as JSON, the same shape as in
//! an inquiry's timeline). Comments keep idle connections alive.
//!
//! **Resuming.** With `Last-Event-ID` (sent by `EventSource` on reconnect)
//! or `?since=<event id>`, the events after that id are replayed from the
//! table first, then the live feed follows. The live subscription is taken
//! *before* the replay query, and every event sent is remembered (the last
//! [`SEEN_MEMORY`]), so an event committed during the replay is neither
//! lost nor sent twice. A client that falls more than the broadcast buffer
//! behind catches up from the table the same way.
//!
//! **Who sees what.** Head and admin get every event; a manager gets the
//! events that name them and those of inquiries assigned to them.
//!
//! **Auth.** A bearer token in `Authorization`, or `?access_token=<token>`
//! because a browser's `EventSource` cannot set headers. Only this endpoint
//! takes a token in the URL (URLs end up in proxy logs; prefer the header
//! where the client can set it). Opening a stream is audited, since events
//! carry client data (an inquiry's `from`).

use super::AppState;
use super::auth::{CurrentUser, bearer_token};
use super::error::ApiError;
use super::now_ms;
use super::query::{field_error, non_empty};
use crate::role::AccessLevel;
use crate::store::ids::is_valid_id;
use crate::store::{AuditEntry, Event, MAX_EVENT_PAGE, Store};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

/// Ids of the most recent events sent on one stream, kept to drop a live
/// copy of an event that the replay already sent. Far more than can be
/// in flight between a commit and its publication.
const SEEN_MEMORY: usize = 10_000;

/// Inquiries whose owner a manager's stream remembers before starting over.
const OWNER_CACHE: usize = 10_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamParams {
    /// Replay the events after this id first (as the `Last-Event-ID`
    /// header does; the header wins when both are given).
    since: Option<String>,
    /// The bearer token, for clients that cannot set headers
    /// (`EventSource`).
    access_token: Option<String>,
}

/// The live event stream (Server-Sent Events).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    params(
        StreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Replay the events after this id first"),
    ),
    responses(
        (status = 200, description = "An endless text/event-stream; each `data:` is one Event", body = Event, content_type = "text/event-stream"),
        (status = 400, description = "An unknown query parameter", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 422, description = "`since` / `Last-Event-ID` is not an event id", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "events"
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(params) = params?;
    let user = match bearer_token(&headers)? {
        Some(token) => CurrentUser::from_token(&state, token).await?,
        None => match non_empty(params.access_token.clone()) {
            Some(token) => CurrentUser::from_token(&state, &token).await?,
            None => return Err(ApiError::unauthenticated()),
        },
    };
    stream_for(state, user, &headers, params).await
}

/// The stream for a user already authenticated: by a bearer token here, by
/// the session cookie in the console (`web::live`). `Last-Event-ID` is read
/// from `headers`.
pub(crate) async fn stream_for(
    state: AppState,
    user: CurrentUser,
    headers: &HeaderMap,
    params: StreamParams,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>>, ApiError> {
    let header_since = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| vec![field_error("since", "Last-Event-ID is not an event id")])?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let since = non_empty(header_since).or(non_empty(params.since));
    if let Some(id) = &since
        && !is_valid_id(id)
    {
        return Err(vec![field_error("since", "is not an event id")].into());
    }
    state
        .store
        .audit(
            &AuditEntry {
                actor: &user.0.login,
                action: "read",
                object_kind: "events",
                object_id: None,
                detail: since.as_deref().map(|s| format!("since={s}")).as_deref(),
            },
            now_ms(),
        )
        .await?;
    // Subscribe before looking at the table: whatever commits from here on
    // is in the live feed, whatever committed before is in the table.
    let live = state.store.subscribe_events();
    let after = match since {
        Some(id) => Some(id),
        None => state.store.last_event_id().await?,
    };
    let feed = Feed {
        stopping: state.stopping.clone(),
        store: state.store.clone(),
        live,
        visible_to: (user.access() < AccessLevel::Head).then(|| user.0.login.clone()),
        replay_after: Some(after),
        pending: VecDeque::new(),
        seen: HashSet::new(),
        seen_order: VecDeque::new(),
        last_sent: None,
        owners: HashMap::new(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(to_sse(&event)), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One subscriber's position: replaying from the table, then following
/// the live feed.
struct Feed {
    stopping: watch::Receiver<bool>,
    store: Store,
    live: broadcast::Receiver<Event>,
    /// `Some(login)` for a manager.
    visible_to: Option<String>,
    /// `Some(after)` while the table still has to be read after `after`
    /// (`Some(None)`: from the start of the log).
    replay_after: Option<Option<String>>,
    pending: VecDeque<Event>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    /// Greatest id sent so far: where to catch up from after a lag.
    last_sent: Option<String>,
    /// Manager streams: inquiry id → assigned to this manager.
    owners: HashMap<String, bool>,
}

impl Feed {
    /// The next event to send; `None` ends the stream (server stopping, or
    /// the database failing during a replay).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if self.remember(&event.id) {
                    return Some(event);
                }
                continue;
            }
            if let Some(after) = self.replay_after.take() {
                match self
                    .store
                    .events_after(after.as_deref(), self.visible_to.as_deref(), MAX_EVENT_PAGE)
                    .await
                {
                    Ok(page) => {
                        let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= MAX_EVENT_PAGE;
                        if full {
                            self.replay_after = Some(page.last().map(|e| e.id.clone()));
                        }
                        self.pending.extend(page);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "event stream: replay failed; closing the stream");
                        return None;
                    }
                }
                continue;
            }
            let received = tokio::select! {
                received = self.live.recv() => received,
                () = server_stops(&mut self.stopping) => return None,
            };
            match received {
                Ok(event) => {
                    if self.seen.contains(&event.id) || !self.visible(&event).await {
                        continue;
                    }
                    self.remember(&event.id);
                    return Some(event);
                }
                Err(RecvError::Lagged(missed)) => {
                    // Too slow for the buffer: catch up from the table.
                    tracing::info!(missed, "event stream lagged; catching up from the table");
                    self.replay_after = Some(self.last_sent.clone());
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Records `id` as sent; `false` when it was sent already.
    fn remember(&mut self, id: &str) -> bool {
        if !self.seen.insert(id.to_string()) {
            return false;
        }
        self.seen_order.push_back(id.to_string());
        if self.seen_order.len() > SEEN_MEMORY
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        if self.last_sent.as_deref() < Some(id) {
            self.last_sent = Some(id.to_string());
        }
        true
    }

    /// Whether a live event is for this subscriber (the replay query
    /// applies the same rule in SQL).
    async fn visible(&mut self, event: &Event) -> bool {
        let Some(login) = self.visible_to.as_deref() else {
            return true;
        };
        let Some(inquiry) = event.inquiry_id.as_deref() else {
            return event.agent.as_deref() == Some(login);
        };
        // An event that names an agent (re)assigns the inquiry.
        if let Some(agent) = event.agent.as_deref() {
            let mine = agent == login;
            self.cache_owner(inquiry, mine);
            return mine;
        }
        if let Some(mine) = self.owners.get(inquiry) {
            return *mine;
        }
        let mine = match self.store.get_inquiry(inquiry).await {
            Ok(found) => found.and_then(|i| i.agent).as_deref() == Some(login),
            Err(e) => {
                tracing::warn!(error = %e, "event stream: cannot check an inquiry's owner");
                return false;
            }
        };
        self.cache_owner(inquiry, mine);
        mine
    }

    fn cache_owner(&mut self, inquiry: &str, mine: bool) {
        if self.owners.len() >= OWNER_CACHE {
            self.owners.clear();
        }
        self.owners.insert(inquiry.to_string(), mine);
    }
}

/// Resolves when the server begins to stop; never, when nobody can stop it
/// any more (the sender is gone).
async fn server_stops(stopping: &mut watch::Receiver<bool>) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The SSE frame of an event. Ids and kinds come from the database; the
/// SSE writer refuses line breaks in them, so those are replaced.
fn to_sse(event: &Event) -> SseEvent {
    let line = |s: &str| s.replace(['\r', '\n', '\0'], " ");
    let frame = SseEvent::default()
        .id(line(&event.id))
        .event(line(&event.kind));
    match frame.clone().json_data(event) {
        Ok(frame) => frame,
        Err(e) => {
            tracing::error!(error = %e, id = %event.id, "event stream: event not serialisable");
            frame.data("{}")
        }
    }
}
