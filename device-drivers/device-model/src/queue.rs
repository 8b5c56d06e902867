//! One thread per port, taking commands one at a time, and completions that fire exactly once.
//!
//! Serial I/O is blocking, and a device must never see two commands interleaved on its wire, so
//! each driver runs a [`Worker`] on a thread of its own that owns the port. The async API sends
//! it jobs; each job carries a [`Completion`] that is answered exactly once: by the worker, or, if
//! the worker drops the job (shutdown, panic), by the completion itself with
//! [`CommandError::abandoned`].

use crate::DeviceFault;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The errors every device command can end with, besides the class's own.
pub trait CommandError: DeviceFault + Send + 'static {
    /// The caller canceled the command before or while it ran.
    fn canceled() -> Self;
    /// The worker went away without answering (driver shut down, or a bug).
    fn abandoned() -> Self;
}

/// The worker's side of a command: answer it with [`Completion::complete`].
#[must_use = "a command must be completed"]
#[derive(Debug)]
pub struct Completion<T, E: CommandError> {
    tx: Option<oneshot::Sender<Result<T, E>>>,
}

/// The caller's side of a command: a future of its one result.
#[derive(Debug)]
pub struct Pending<T, E> {
    rx: oneshot::Receiver<Result<T, E>>,
}

/// A new command's two ends.
pub fn completion<T, E: CommandError>() -> (Completion<T, E>, Pending<T, E>) {
    let (tx, rx) = oneshot::channel();
    (Completion { tx: Some(tx) }, Pending { rx })
}

impl<T, E: CommandError> Completion<T, E> {
    /// Delivers the result. A caller that stopped waiting is not an error.
    pub fn complete(mut self, result: Result<T, E>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(result);
        }
    }
}

impl<T, E: CommandError> Drop for Completion<T, E> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(E::abandoned()));
        }
    }
}

impl<T, E: CommandError> Future for Pending<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(E::abandoned())))
    }
}

/// The code that owns one port and runs its commands in order.
pub trait Worker: Send + 'static {
    /// One command, with its completion inside.
    type Job: Send + 'static;

    /// Runs one command to its completion.
    fn run(&mut self, job: Self::Job);

    /// Called between commands when its time has come (presence polling, reconnecting);
    /// returns how long until the next call.
    fn tick(&mut self) -> Duration;
}

/// The sending side of a worker's queue. Dropping it stops the worker after its current command
/// and waits for it, so the port is closed when the driver is gone.
#[derive(Debug)]
pub struct CommandQueue<J> {
    tx: Option<mpsc::Sender<J>>,
    thread: Option<JoinHandle<()>>,
}

impl<J: Send + 'static> CommandQueue<J> {
    /// Starts `worker` on a thread called `name`; its first tick runs at once.
    pub fn spawn<W: Worker<Job = J>>(name: &str, mut worker: W) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<J>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut next_tick = Instant::now();
                loop {
                    let now = Instant::now();
                    if now >= next_tick {
                        next_tick = Instant::now() + worker.tick();
                        continue;
                    }
                    match rx.recv_timeout(next_tick - now) {
                        Ok(job) => worker.run(job),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a job. If the worker is gone the job is dropped, which completes it as abandoned.
    pub fn submit(&self, job: J) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
    }
}

impl<J> Drop for CommandQueue<J> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActionHint, ErrorCode};
    use std::sync::{Arc, Mutex};

    #[derive(Debug, thiserror::Error, PartialEq)]
    enum TestError {
        #[error("canceled")]
        Canceled,
        #[error("abandoned")]
        Abandoned,
    }

    impl DeviceFault for TestError {
        fn code(&self) -> ErrorCode {
            match self {
                TestError::Canceled => ErrorCode::Canceled,
                TestError::Abandoned => ErrorCode::InternalError,
            }
        }
        fn action(&self) -> ActionHint {
            ActionHint::Retry
        }
    }

    impl CommandError for TestError {
        fn canceled() -> Self {
            TestError::Canceled
        }
        fn abandoned() -> Self {
            TestError::Abandoned
        }
    }

    /// Records the order jobs ran in; a job `(n, None)` is dropped without an answer.
    struct Recorder(Arc<Mutex<Vec<u32>>>);

    type Job = (u32, Option<Completion<u32, TestError>>);

    impl Worker for Recorder {
        type Job = Job;
        fn run(&mut self, (n, done): Job) {
            std::thread::sleep(Duration::from_millis(2));
            self.0.lock().unwrap().push(n);
            if let Some(done) = done {
                done.complete(Ok(n));
            }
        }
        fn tick(&mut self) -> Duration {
            Duration::from_secs(3600)
        }
    }

    #[tokio::test]
    async fn commands_run_one_at_a_time_in_order_and_each_completes_once() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let queue = CommandQueue::spawn("test", Recorder(order.clone())).unwrap();
        let mut pending = Vec::new();
        for n in 0..20 {
            let (done, p) = completion();
            queue.submit((n, Some(done)));
            pending.push(p);
        }
        for (n, p) in pending.into_iter().enumerate() {
            assert_eq!(p.await, Ok(n as u32));
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_dropped_or_unrun_command_completes_as_abandoned() {
        let queue = CommandQueue::spawn("test", Recorder(Default::default())).unwrap();
        let (done, p) = completion::<u32, TestError>();
        drop(done);
        assert_eq!(p.await, Err(TestError::Abandoned));

        // A job submitted after the worker is gone still completes.
        let (done, p) = completion::<u32, TestError>();
        drop(queue);
        let stopped = CommandQueue::<Job> {
            tx: None,
            thread: None,
        };
        stopped.submit((1, Some(done)));
        assert_eq!(p.await, Err(TestError::Abandoned));
    }
}
