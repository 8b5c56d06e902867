//! A device simulator's run loop: the device side of a protocol ([`Responder`]) on a
//! [`PtyDevice`], replying at the wire speed of its baud rate, and a [`SimHandle`] to act as the
//! world (plug, unplug, change the device's state) while it runs.

use crate::pty::PtyDevice;
use crate::wire_time;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the loop looks at its controls when nothing arrives.
const POLL: Duration = Duration::from_millis(5);
/// Writes are batched to at least this much wire time, to keep the pacing cheap.
const MIN_PACE_STEP: Duration = Duration::from_micros(500);

/// What a simulated device does in answer to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send these bytes, each taking its wire time.
    Bytes(Vec<u8>),
    /// Stay quiet this long (processing time).
    Wait(Duration),
    /// From now on, talk at this baud rate.
    SetBaud(u32),
    /// The device is pulled out (the PTY and its link vanish).
    Unplug,
    /// Call [`Responder::resume`] now (after a `Wait`), so that what it answers reflects what
    /// the world did meanwhile.
    Resume,
}

/// The device side of a protocol: bytes from the host in, what to transmit out.
pub trait Responder: Send + 'static {
    /// Called with each chunk the host sent, in order. Push the reaction to `out`.
    fn receive(&mut self, bytes: &[u8], out: &mut Vec<Transmit>);

    /// Called for each [`Transmit::Resume`]; push what to transmit next.
    fn resume(&mut self, _out: &mut Vec<Transmit>) {}
}

struct Shared<R> {
    responder: Mutex<R>,
    link: PathBuf,
    /// The speed the device powers up at; a replug resets it to this.
    power_on_baud: u32,
    baud: AtomicU32,
    want_plugged: AtomicBool,
    plugged: AtomicBool,
    stop: AtomicBool,
}

/// A running simulator. Dropping it unplugs the device and stops the loop.
pub struct SimHandle<R: Responder> {
    shared: Arc<Shared<R>>,
    thread: Option<JoinHandle<()>>,
}

impl<R: Responder> SimHandle<R> {
    /// Plugs the device in at `link` talking at `baud`, and starts answering.
    pub fn start(link: &Path, baud: u32, responder: R) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            responder: Mutex::new(responder),
            link: link.to_owned(),
            power_on_baud: baud,
            baud: AtomicU32::new(baud),
            want_plugged: AtomicBool::new(true),
            plugged: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let device = PtyDevice::create(link, baud)?;
        shared.plugged.store(true, Ordering::SeqCst);
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("device-sim".into())
                .spawn(move || run(&shared, Some(device)))?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// The path the host opens.
    pub fn link(&self) -> &Path {
        &self.shared.link
    }

    /// The simulated device's state, to change it as the world would.
    pub fn device(&self) -> MutexGuard<'_, R> {
        lock(&self.shared)
    }

    /// The baud rate the device talks at now.
    pub fn baud(&self) -> u32 {
        self.shared.baud.load(Ordering::SeqCst)
    }

    /// Pulls the device out; returns once its link is gone.
    pub fn unplug(&self) {
        self.set_plugged(false);
    }

    /// Plugs it back in (a new PTY behind the same link, the device powered up again at its
    /// power-on baud rate); returns once the link is there.
    pub fn replug(&self) {
        self.set_plugged(true);
    }

    fn set_plugged(&self, on: bool) {
        self.shared.want_plugged.store(on, Ordering::SeqCst);
        let give_up = Instant::now() + Duration::from_secs(10);
        while self.shared.plugged.load(Ordering::SeqCst) != on
            && self.thread.as_ref().is_some_and(|t| !t.is_finished())
            && Instant::now() < give_up
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl<R: Responder> Drop for SimHandle<R> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run<R: Responder>(shared: &Shared<R>, mut device: Option<PtyDevice>) {
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let want = shared.want_plugged.load(Ordering::SeqCst);
        if want != device.is_some() {
            device = if want {
                match PtyDevice::create(&shared.link, shared.power_on_baud) {
                    Ok(d) => {
                        // Plugged in again: powered up again.
                        shared.baud.store(shared.power_on_baud, Ordering::SeqCst);
                        Some(d)
                    }
                    Err(error) => {
                        tracing::error!(%error, link = %shared.link.display(), "simulator cannot replug");
                        std::thread::sleep(POLL);
                        continue;
                    }
                }
            } else {
                None
            };
            shared.plugged.store(want, Ordering::SeqCst);
        }
        let Some(dev) = device.as_ref() else {
            std::thread::sleep(POLL);
            continue;
        };
        let n = match dev.read(&mut buf, POLL) {
            Ok(n) => n,
            Err(error) => {
                tracing::error!(%error, "simulator read failed");
                std::thread::sleep(POLL);
                continue;
            }
        };
        if n == 0 {
            continue;
        }
        let baud = shared.baud.load(Ordering::SeqCst);
        // A UART set to another speed receives only framing errors: the device hears nothing.
        if dev.host_baud().is_some_and(|host| host != baud) {
            tracing::debug!(host = ?dev.host_baud(), baud, "host at another baud rate: ignored");
            continue;
        }
        // The bytes would have taken their wire time to arrive.
        std::thread::sleep(wire_time(n, baud));
        lock(shared).receive(&buf[..n], &mut out);
        if !transmit(dev, &mut out, shared) {
            // Pulled out by the device itself: gone at once, until the world plugs it back.
            shared.want_plugged.store(false, Ordering::SeqCst);
            device = None;
            shared.plugged.store(false, Ordering::SeqCst);
        }
    }
    shared.plugged.store(false, Ordering::SeqCst);
}

/// Carries out what the responder asked for, in order. Returns false if the device unplugged
/// itself.
fn transmit<R: Responder>(dev: &PtyDevice, out: &mut Vec<Transmit>, shared: &Shared<R>) -> bool {
    let mut queue: std::collections::VecDeque<Transmit> = out.drain(..).collect();
    while let Some(t) = queue.pop_front() {
        match t {
            Transmit::Bytes(bytes) => {
                let baud = shared.baud.load(Ordering::SeqCst);
                if !send_paced(dev, &bytes, baud, shared) {
                    return true;
                }
            }
            Transmit::Wait(d) => sleep_unless_unplugged(d, shared),
            Transmit::SetBaud(b) => shared.baud.store(b, Ordering::SeqCst),
            Transmit::Unplug => return false,
            Transmit::Resume => {
                let mut more = Vec::new();
                lock(shared).resume(&mut more);
                for (i, t) in more.into_iter().enumerate() {
                    queue.insert(i, t);
                }
            }
        }
    }
    true
}

fn lock<R>(shared: &Shared<R>) -> MutexGuard<'_, R> {
    shared
        .responder
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes `bytes` so that byte `i` is handed over when its last bit would have arrived.
/// Returns false if the device was unplugged meanwhile (the rest is lost, as on a real cable).
fn send_paced<R>(dev: &PtyDevice, bytes: &[u8], baud: u32, shared: &Shared<R>) -> bool {
    let start = Instant::now();
    let per_byte = wire_time(1, baud).as_nanos().max(1);
    let mut sent = 0;
    while sent < bytes.len() {
        if !shared.want_plugged.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        let due = ((start.elapsed().as_nanos() / per_byte) as usize).min(bytes.len());
        if due > sent {
            match dev.write(&bytes[sent..due]) {
                // No room: nobody is reading. Those bytes are lost on the line.
                Ok(0) => sent = due,
                Ok(n) => sent += n,
                Err(error) => {
                    tracing::warn!(%error, "simulator write failed");
                    return false;
                }
            }
        } else {
            let next = start + wire_time(sent + 1, baud);
            let wait = next.saturating_duration_since(Instant::now());
            std::thread::sleep(wait.max(MIN_PACE_STEP));
        }
    }
    true
}

fn sleep_unless_unplugged<R>(d: Duration, shared: &Shared<R>) {
    let end = Instant::now() + d;
    while Instant::now() < end
        && shared.want_plugged.load(Ordering::SeqCst)
        && !shared.stop.load(Ordering::SeqCst)
    {
        std::thread::sleep(POLL.min(end.saturating_duration_since(Instant::now())));
    }
}
