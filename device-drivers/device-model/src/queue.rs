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
use tokio_util::sync::CancellationToken;

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
    /// returns how long after it ends until the next call. Queued commands run first.
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
                    // Commands first: a tick that takes longer than its interval (probing a
                    // silent device) must not starve them.
                    let wait = next_tick.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(job) => worker.run(job),
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            let interval = worker.tick();
                            next_tick = Instant::now() + interval;
                        }
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

/// A command as a closure run on the worker's thread, with the worker's state at hand.
pub type Job<W> = Box<dyn FnOnce(&mut W) + Send>;

impl<W: 'static> CommandQueue<Job<W>> {
    /// Queues `f` as one command. It completes exactly once: with what `f` returns, as canceled if
    /// `cancel` fired before it started, or as abandoned if the worker is gone.
    pub fn call<T, E>(
        &self,
        cancel: CancellationToken,
        f: impl FnOnce(&mut W, &CancellationToken) -> Result<T, E> + Send + 'static,
    ) -> Pending<T, E>
    where
        T: Send + 'static,
        E: CommandError,
    {
        let (done, pending) = completion();
        self.submit(Box::new(move |w: &mut W| {
            if cancel.is_cancelled() {
                done.complete(Err(E::canceled()));
            } else {
                done.complete(f(w, &cancel));
            }
        }));
        pending
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

    /// Records the order jobs ran in; job 99 makes the worker panic, as a bug would.
    struct Recorder(Arc<Mutex<Vec<u32>>>);

    type Job = (u32, Completion<u32, TestError>);

    impl Worker for Recorder {
        type Job = Job;
        fn run(&mut self, (n, done): Job) {
            assert_ne!(n, 99, "worker bug");
            std::thread::sleep(Duration::from_millis(2));
            self.0.lock().unwrap().push(n);
            done.complete(Ok(n));
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
            queue.submit((n, done));
            pending.push(p);
        }
        for (n, p) in pending.into_iter().enumerate() {
            assert_eq!(p.await, Ok(n as u32));
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }

    /// A worker whose ticks take longer than the interval they ask for.
    struct SlowTicker;

    impl Worker for SlowTicker {
        type Job = Completion<u32, TestError>;
        fn run(&mut self, done: Self::Job) {
            done.complete(Ok(7));
        }
        fn tick(&mut self) -> Duration {
            std::thread::sleep(Duration::from_millis(30));
            Duration::from_millis(1)
        }
    }

    #[tokio::test]
    async fn slow_ticks_do_not_starve_commands() {
        let queue = CommandQueue::spawn("test", SlowTicker).unwrap();
        for _ in 0..5 {
            let (done, pending) = completion();
            queue.submit(done);
            let answer = tokio::time::timeout(Duration::from_secs(5), pending).await;
            assert_eq!(answer.expect("command ran between ticks"), Ok(7));
        }
    }

    #[tokio::test]
    async fn commands_of_a_worker_that_died_complete_as_abandoned() {
        let queue = CommandQueue::spawn("test", Recorder(Default::default())).unwrap();
        // The command running when the worker panics, and one queued behind it.
        let (running, running_pending) = completion();
        let (queued, queued_pending) = completion();
        queue.submit((99, running));
        queue.submit((1, queued));
        assert_eq!(running_pending.await, Err(TestError::Abandoned));
        assert_eq!(queued_pending.await, Err(TestError::Abandoned));
        // And one submitted after it died.
        let (late, late_pending) = completion();
        queue.submit((2, late));
        assert_eq!(late_pending.await, Err(TestError::Abandoned));
    }
}
