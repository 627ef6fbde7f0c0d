//! The driver's side of push: a task that POSTs each [`Notice`] to the
//! gateway, so the switch core's task never waits for the network. Bounded
//! everywhere: a queue of [`QUEUE`] notices (full: that call is not held, it
//! goes home / 480 at once), at most [`IN_FLIGHT`] POSTs at a time, each given
//! [`TIMEOUT`] from connect to status line.

use super::http::{self, PostError};
use super::settings::Gateway;
use super::{Notice, PushId};
use metrics::counter;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tracing::{info, warn};

/// Notices waiting for a POST.
pub const QUEUE: usize = 256;
/// POSTs at once.
pub const IN_FLIGHT: usize = 32;
/// One POST, connect to status line.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What became of one notice.
#[derive(Debug)]
pub enum Outcome {
    /// The gateway answered 2xx: it took the notification.
    Accepted,
    /// It answered something else.
    Rejected(u16),
    /// No answer: refused, TLS failed, timed out.
    Failed(PostError),
    TimedOut,
    /// Too many notices waiting already.
    QueueFull,
}

impl Outcome {
    /// The `result` label of `switch_push_notifications_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected(_) => "rejected",
            Outcome::Failed(_) => "error",
            Outcome::TimedOut => "timeout",
            Outcome::QueueFull => "queue_full",
        }
    }

    pub fn accepted(&self) -> bool {
        matches!(self, Outcome::Accepted)
    }
}

/// Where each outcome goes (the server's feedback channel).
pub type Report = Arc<dyn Fn(PushId, Outcome) + Send + Sync>;

/// The handle the driver queues notices on.
#[derive(Clone)]
pub struct Sender {
    tx: mpsc::Sender<(PushId, Notice)>,
    report: Report,
}

impl Sender {
    /// Queues a notice; a full queue is reported at once.
    pub fn send(&self, id: PushId, notice: Notice) {
        if let Err(mpsc::error::TrySendError::Full((id, notice)) | mpsc::error::TrySendError::Closed((id, notice))) =
            self.tx.try_send((id, notice))
        {
            finish(&self.report, id, &notice, Outcome::QueueFull);
        }
    }
}

/// Starts the gateway task on the current runtime.
pub fn spawn(gateway: Gateway, report: Report) -> Sender {
    let (tx, mut rx) = mpsc::channel::<(PushId, Notice)>(QUEUE);
    let gateway = Arc::new(gateway);
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let back = report.clone();
    tokio::spawn(async move {
        while let Some((id, notice)) = rx.recv().await {
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let (gateway, report) = (gateway.clone(), back.clone());
            tokio::spawn(async move {
                let outcome = match tokio::time::timeout(TIMEOUT, http::post(&gateway, &notice.to_json())).await {
                    Ok(Ok(code)) if (200..300).contains(&code) => Outcome::Accepted,
                    Ok(Ok(code)) => Outcome::Rejected(code),
                    Ok(Err(e)) => Outcome::Failed(e),
                    Err(_) => Outcome::TimedOut,
                };
                drop(permit);
                finish(&report, id, &notice, outcome);
            });
        }
    });
    Sender { tx, report }
}

/// Counts, logs (one line) and reports an outcome.
fn finish(report: &Report, id: PushId, notice: &Notice, outcome: Outcome) {
    counter!("switch_push_notifications_total", "result" => outcome.label()).increment(1);
    match &outcome {
        Outcome::Accepted => {
            info!(number = %notice.number, call_id = %notice.call_id, provider = %notice.provider, "push notification accepted")
        }
        Outcome::Rejected(code) => {
            warn!(number = %notice.number, call_id = %notice.call_id, status = code, "push gateway refused the notification")
        }
        Outcome::Failed(e) => {
            warn!(number = %notice.number, call_id = %notice.call_id, error = %e, kind = e.kind(), "push gateway unreachable")
        }
        Outcome::TimedOut => warn!(number = %notice.number, call_id = %notice.call_id, "push gateway did not answer in time"),
        Outcome::QueueFull => warn!(number = %notice.number, call_id = %notice.call_id, "too many push notifications waiting: not sent"),
    }
    report(id, outcome);
}
