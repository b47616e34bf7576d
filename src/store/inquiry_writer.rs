//! The call layer's path into the store: an ordered, batching writer.
//!
//! A call changes state several times (ringing, IVR keys, queue, answer,
//! hang-up), and at 500 calls/s one SQLite transaction per change would be
//! thousands of fsyncs a second. The call layer instead `send`s each write
//! to an unbounded channel (it never waits on the database) and one task
//! applies whatever has accumulated in ONE transaction, in the order sent.
//! A failed batch is retried whole, with backoff, until it commits: a write
//! is never dropped because the database was briefly unavailable.

use super::inquiries::{InquiryUpdate, NewInquiry, create_with_client_in, update_in};
use super::{Store, StoreError};
use crate::mask::mask_phone;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// One write of the call layer.
// Both variants are common and short-lived in the channel; boxing the
// update would cost every call-state change an allocation to save bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum InquiryWrite {
    /// A new inquiry; when `phone_for_client` has digits the client is
    /// found or created by it in the same batch and becomes `client_id`.
    Create {
        id: String,
        inquiry: NewInquiry,
        phone_for_client: Option<String>,
    },
    Update {
        id: String,
        update: InquiryUpdate,
        at_ms: i64,
    },
}

// Nearly every message is a write; boxing them would cost an allocation
// each to shrink the rare flush marker.
#[allow(clippy::large_enum_variant)]
enum Message {
    Write(InquiryWrite),
    /// Answered once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
}

/// Most writes per transaction: bounds how long one commit holds the
/// SQLite write lock (the registrar and the API write too).
const MAX_BATCH: usize = 2_000;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Handle for sending writes; cheap to clone, one per call task if wanted.
/// The writing task ends when every handle is dropped and the channel is
/// drained.
#[derive(Debug, Clone)]
pub struct InquiryWriter {
    tx: mpsc::UnboundedSender<Message>,
}

impl InquiryWriter {
    /// Starts the writing task on the current tokio runtime.
    pub fn spawn(store: Store) -> (InquiryWriter, JoinHandle<()>) {
        Self::spawn_with_crm_outbox(store, false)
    }

    /// Like [`spawn`](Self::spawn); with `crm_outbox`, each applied write
    /// also queues its CRM push in the same transaction (`crate::crm`).
    pub fn spawn_with_crm_outbox(
        store: Store,
        crm_outbox: bool,
    ) -> (InquiryWriter, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store, rx, crm_outbox));
        (InquiryWriter { tx }, task)
    }

    /// Queues a write; returns at once. Writes are applied in the order
    /// they are sent.
    pub fn send(&self, w: InquiryWrite) {
        if let Err(mpsc::error::SendError(Message::Write(w))) = self.tx.send(Message::Write(w)) {
            // Only after the task has stopped (database closed for good).
            tracing::error!(write = ?redacted(&w), "inquiry writer has stopped; write lost");
        }
    }

    /// Waits until every write sent before this call is committed (for
    /// graceful shutdown and tests). Returns at once if the task stopped.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// A write for a log line: the caller's number masked.
fn redacted(w: &InquiryWrite) -> String {
    match w {
        InquiryWrite::Create { id, inquiry, .. } => format!(
            "create {id} {} from {}",
            inquiry.channel,
            mask_phone(&inquiry.from)
        ),
        InquiryWrite::Update { id, update, .. } => {
            format!("update {id} status {:?}", update.status)
        }
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Message>, crm_outbox: bool) {
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Write(w) => batch.push(w),
                Message::Flush(done) => flushes.push(done),
            }
            next = if batch.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() && !commit_with_retry(&store, &batch, crm_outbox).await {
            return;
        }
        batch.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Commits `batch`, retrying with exponential backoff. `false` only when
/// the pool has been closed (shutdown), where retrying cannot help.
async fn commit_with_retry(store: &Store, batch: &[InquiryWrite], crm_outbox: bool) -> bool {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match apply(store, batch, crm_outbox).await {
            Ok(()) => return true,
            Err(StoreError::Db(sqlx::Error::PoolClosed)) => {
                tracing::error!(
                    writes = batch.len(),
                    "inquiry writer: database closed with writes pending; they are lost"
                );
                return false;
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    writes = batch.len(),
                    retry_in_ms = backoff.as_millis(),
                    "inquiry writer: batch failed, retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One transaction for the whole batch. A write that can never succeed (a
/// duplicate id, an update of an inquiry that was never created) is
/// skipped with an error log rather than failing the batch forever; the
/// statements avoid raising errors for those cases, so a PostgreSQL
/// transaction is never left aborted.
async fn apply(store: &Store, batch: &[InquiryWrite], crm_outbox: bool) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    let mut appended = Vec::with_capacity(batch.len());
    for w in batch {
        let event = match w {
            InquiryWrite::Create {
                id,
                inquiry,
                phone_for_client,
            } => create_with_client_in(&mut tx, id, inquiry, phone_for_client.as_deref()).await?,
            InquiryWrite::Update { id, update, at_ms } => {
                update_in(&mut tx, id, update, *at_ms).await?
            }
        };
        if event.is_some() && crm_outbox {
            super::crm_outbox::enqueue_for_write_in(&mut tx, w).await?;
        }
        match event {
            Some(event) => appended.push(event),
            None => {
                tracing::error!(write = %redacted(w), "inquiry writer: write skipped (duplicate id or unknown inquiry)")
            }
        }
    }
    tx.commit().await?;
    // Only now: a batch that failed and is retried must not show its
    // events to live subscribers twice, or before they are in the table.
    store.publish_events(appended);
    Ok(())
}
