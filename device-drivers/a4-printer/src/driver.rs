//! The A4 printer as a kiosk device: a CUPS queue whose state is watched in the background and
//! published in the device model, and documents printed through it and followed to the end.
//!
//! A job is submitted only when the queue can print, and followed until CUPS says it is done.
//! A job that cannot finish (the printer stopped, the job stalled past the time a citizen can
//! be asked to wait, the session ended) is canceled, so that a document never comes out hours
//! later for whoever stands at the kiosk then.

use crate::cups::{CupsError, CupsQueue, JobState, QueueState, QueueStatus};
use crate::doc::Document;
use crate::pdf::{Fonts, render};
use device_model::{
    ActionHint, Device, DeviceFault, DeviceState, ErrorCode, Fault, Status, StatusPublisher,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Where the queue is and how patient to be.
#[derive(Clone, Debug)]
pub struct A4Config {
    /// The CUPS server (`http://127.0.0.1:631`).
    pub server: String,
    /// The queue's name.
    pub queue: String,
    /// The user jobs are submitted as.
    pub user: String,
    /// How long one IPP request may take.
    pub request_timeout: Duration,
    /// Interval of job-state polls while a job prints.
    pub poll_interval: Duration,
    /// Interval of queue-state polls in the background.
    pub status_interval: Duration,
    /// The longest a citizen is asked to wait for a document.
    pub job_timeout: Duration,
}

impl A4Config {
    /// The defaults for `queue` on the local CUPS.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            server: "http://127.0.0.1:631".into(),
            queue: queue.into(),
            user: "kiosk".into(),
            request_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
            status_interval: Duration::from_secs(5),
            job_timeout: Duration::from_secs(120),
        }
    }
}

/// The A4 printer's class status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct A4Status {
    /// What the queue last reported (none before it first answered).
    pub queue: Option<QueueStatus>,
}

/// What happens to documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum A4Event {
    /// Job `id` was accepted by the queue.
    JobQueued(i32),
    /// Job `id` printed.
    JobCompleted(i32),
    /// Job `id` failed or was canceled.
    JobFailed(i32),
}

/// A document not printed. Messages are one line, for a technician.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum A4Error {
    /// Refused before submitting: the queue cannot print now.
    #[error("A4 printer not ready: {}", .0.message)]
    NotReady(Fault),
    /// The document could not be made into a PDF.
    #[error("document not rendered: {0}")]
    Pdf(String),
    /// CUPS did not take the request.
    #[error(transparent)]
    Cups(#[from] CupsError),
    /// CUPS aborted or canceled the job.
    #[error("job {job} {state:?}: {reasons}")]
    JobFailed {
        /// The job's id.
        job: i32,
        /// Its final state.
        state: JobState,
        /// `job-state-reasons`.
        reasons: String,
    },
    /// The printer stopped while the job waited or printed; the job was canceled.
    #[error("job {job} canceled, the printer stopped: {}", .fault.message)]
    Stopped {
        /// The job's id.
        job: i32,
        /// Why the printer stopped.
        fault: Fault,
    },
    /// The job did not finish in time and was canceled.
    #[error("job {job} not printed within {seconds} s; canceled")]
    TimedOut {
        /// The job's id.
        job: i32,
        /// The time allowed.
        seconds: u64,
    },
    /// The caller canceled (the job, if any, was canceled too).
    #[error("canceled")]
    Canceled,
}

impl DeviceFault for A4Error {
    fn code(&self) -> ErrorCode {
        match self {
            A4Error::NotReady(f) | A4Error::Stopped { fault: f, .. } => f.code,
            A4Error::Pdf(_) => ErrorCode::InvalidData,
            A4Error::Cups(_) => ErrorCode::DeviceNotReady,
            A4Error::JobFailed { .. } => ErrorCode::HardwareError,
            A4Error::TimedOut { .. } => ErrorCode::Timeout,
            A4Error::Canceled => ErrorCode::Canceled,
        }
    }

    fn action(&self) -> ActionHint {
        match self {
            A4Error::NotReady(f) | A4Error::Stopped { fault: f, .. } => f.action,
            A4Error::Canceled => ActionHint::Retry,
            A4Error::TimedOut { .. } => ActionHint::Staff,
            A4Error::Pdf(_) | A4Error::Cups(_) | A4Error::JobFailed { .. } => ActionHint::Engineer,
        }
    }
}

/// An A4 printer behind a CUPS queue.
pub struct A4Printer {
    config: A4Config,
    queue: Arc<CupsQueue>,
    fonts: Arc<Fonts>,
    status: Arc<StatusPublisher<A4Status>>,
    events: broadcast::Sender<A4Event>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for A4Printer {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Asks the queue for its state and publishes it.
async fn refresh(
    queue: &CupsQueue,
    status: &StatusPublisher<A4Status>,
) -> Result<QueueStatus, A4Error> {
    match queue.status().await {
        Ok(now) => {
            let (state, fault) = now.assess();
            status.update(|s| s.class.queue = Some(now.clone()));
            status.set_state(state, fault);
            Ok(now)
        }
        Err(e) => {
            let error = A4Error::Cups(e);
            status.set_state(DeviceState::NoDevice, Some(error.to_fault()));
            Err(error)
        }
    }
}

impl A4Printer {
    /// Starts watching the queue (in the current tokio runtime).
    pub fn start(config: A4Config, fonts: Arc<Fonts>) -> Result<Self, A4Error> {
        let queue = Arc::new(CupsQueue::new(
            &config.server,
            &config.queue,
            &config.user,
            config.request_timeout,
        )?);
        let status = Arc::new(StatusPublisher::new("a4-printer", A4Status::default()));
        let (events, _) = broadcast::channel(16);
        let watcher = tokio::spawn({
            let (queue, status, every) = (queue.clone(), status.clone(), config.status_interval);
            async move {
                loop {
                    let _ = refresh(&queue, &status).await;
                    tokio::time::sleep(every).await;
                }
            }
        });
        Ok(Self {
            config,
            queue,
            fonts,
            status,
            events,
            watcher,
        })
    }

    /// The queue's state now.
    pub async fn query(&self) -> Result<QueueStatus, A4Error> {
        refresh(&self.queue, &self.status).await
    }

    /// Prints `document` and follows the job to its end; returns the job's id.
    pub async fn print(
        &self,
        document: &Document,
        cancel: CancellationToken,
    ) -> Result<i32, A4Error> {
        if let (_, Some(fault)) = self.query().await?.assess() {
            return Err(A4Error::NotReady(fault));
        }
        let (doc, fonts) = (document.clone(), self.fonts.clone());
        let pdf = tokio::task::spawn_blocking(move || render(&doc, &fonts))
            .await
            .map_err(|e| A4Error::Pdf(e.to_string()))?
            .map_err(|e| A4Error::Pdf(e.to_string()))?;
        if cancel.is_cancelled() {
            return Err(A4Error::Canceled);
        }
        let job = self.queue.submit(&document.title, pdf).await?;
        tracing::info!(job, queue = %self.config.queue, "A4 job queued");
        let _ = self.events.send(A4Event::JobQueued(job));
        let result = self.follow(job, &cancel).await;
        let event = match &result {
            Ok(()) => A4Event::JobCompleted(job),
            Err(error) => {
                tracing::warn!(job, %error, "A4 job failed");
                A4Event::JobFailed(job)
            }
        };
        let _ = self.events.send(event);
        result.map(|()| job)
    }

    async fn follow(&self, job: i32, cancel: &CancellationToken) -> Result<(), A4Error> {
        let deadline = Instant::now() + self.config.job_timeout;
        loop {
            let now = self.queue.job(job).await?;
            match now.state {
                JobState::Completed => return Ok(()),
                JobState::Canceled | JobState::Aborted => {
                    return Err(A4Error::JobFailed {
                        job,
                        state: now.state,
                        reasons: now.reasons.join(", "),
                    });
                }
                JobState::Pending | JobState::Held | JobState::Processing | JobState::Stopped => {}
            }
            let queue = self.query().await?;
            let stopped = now.state == JobState::Stopped || queue.state == QueueState::Stopped;
            if let (true, (_, fault)) = (stopped, queue.assess()) {
                let fault = fault.unwrap_or_else(|| Fault {
                    code: ErrorCode::HardwareError,
                    action: ActionHint::Engineer,
                    message: format!("job stopped: {}", now.reasons.join(", ")),
                });
                self.give_up(job).await;
                return Err(A4Error::Stopped { job, fault });
            }
            if Instant::now() >= deadline {
                self.give_up(job).await;
                return Err(A4Error::TimedOut {
                    job,
                    seconds: self.config.job_timeout.as_secs(),
                });
            }
            tokio::select! {
                () = cancel.cancelled() => {
                    self.give_up(job).await;
                    return Err(A4Error::Canceled);
                }
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Cancels a job that will not be waited for.
    async fn give_up(&self, job: i32) {
        if let Err(error) = self.queue.cancel(job).await {
            tracing::error!(job, %error, "A4 job could not be canceled");
        }
    }
}

impl Device for A4Printer {
    type Class = A4Status;
    type Event = A4Event;

    fn status(&self) -> watch::Receiver<Status<A4Status>> {
        self.status.subscribe()
    }

    fn events(&self) -> broadcast::Receiver<A4Event> {
        self.events.subscribe()
    }
}
