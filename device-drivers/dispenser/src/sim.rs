//! A simulated CRT-591 on a pseudo-terminal: a stacker of cards, a channel, a gate where the
//! citizen may take the card, and a reject bin; faults that can be injected while it runs.
//!
//! It acknowledges each command (NAK for a bad BCC), then answers either at once or, as a strict
//! device, only after the host's ENQ; it sends its reply again when the host answers NAK.

use crate::codes::{Channel, Command, Position, Sensors, Stacker};
use crate::frame::{ACK, CommandFrame, Decoded, Decoder, ENQ, EOT, NAK, ReplyFrame};
use serial_link::sim::{Responder, SimHandle, Transmit};
use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How the simulated dispenser is built.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Line speed.
    pub baud: u32,
    /// Cards in the stacker.
    pub cards: u32,
    /// At or below this many cards the stacker reports "low".
    pub low_at: u32,
    /// Cards the reject bin holds.
    pub reject_capacity: u32,
    /// Wait for the host's ENQ before carrying a command out.
    pub require_enq: bool,
    /// Marker of negative replies: `b'E'` or `b'N'`.
    pub negative_marker: u8,
    /// How long a card move takes.
    pub move_time: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            baud: 9600,
            cards: 100,
            low_at: 5,
            reject_capacity: 20,
            require_enq: false,
            negative_marker: b'E',
            move_time: Duration::ZERO,
        }
    }
}

/// The dispenser's state, changed by the host's commands and by the world.
pub struct SimDispenser {
    config: SimConfig,
    decoder: Decoder<CommandFrame>,
    stacker: u32,
    reject: u32,
    channel: Channel,
    /// When the card reached the gate.
    at_gate_since: Option<Instant>,
    /// The citizen takes a card this long after it reaches the gate (never: `None`).
    take_after: Option<Duration>,
    jammed: bool,
    silent: bool,
    corrupt_replies: u32,
    /// Sent before the next answer to a card move, as a reply to an earlier command arriving
    /// late.
    late_reply: Option<ReplyFrame>,
    /// Commands acknowledged and waiting for ENQ (strict mode) or for their turn.
    waiting: VecDeque<CommandFrame>,
    ready: VecDeque<CommandFrame>,
    last_reply: Option<Vec<u8>>,
    commands: Vec<(u8, u8)>,
}

impl SimDispenser {
    fn new(config: SimConfig) -> Self {
        Self {
            stacker: config.cards,
            config,
            decoder: Decoder::default(),
            reject: 0,
            channel: Channel::Empty,
            at_gate_since: None,
            take_after: None,
            jammed: false,
            silent: false,
            corrupt_replies: 0,
            late_reply: None,
            waiting: VecDeque::new(),
            ready: VecDeque::new(),
            last_reply: None,
            commands: Vec::new(),
        }
    }

    fn sensors(&mut self) -> Sensors {
        if let (Some(since), Some(after)) = (self.at_gate_since, self.take_after)
            && since.elapsed() >= after
        {
            self.take();
        }
        Sensors {
            channel: self.channel,
            stacker: match self.stacker {
                0 => Stacker::Empty,
                n if n <= self.config.low_at => Stacker::Low,
                _ => Stacker::Ok,
            },
            reject_bin_full: self.reject >= self.config.reject_capacity,
        }
    }

    fn take(&mut self) {
        if self.channel == Channel::AtGate {
            self.channel = Channel::Empty;
            self.at_gate_since = None;
        }
    }

    /// Carries a command out; `Err` is the negative reply's code.
    fn execute(&mut self, cm: u8, pm: u8) -> Result<(), [u8; 2]> {
        let Some(command) = Command::from_code(cm, pm) else {
            return Err(*b"00");
        };
        let is_move = matches!(command, Command::Move(_));
        if is_move && self.jammed {
            return Err(*b"10");
        }
        match command {
            Command::Status | Command::InitialiseNoMove => Ok(()),
            Command::InitialiseCapture => {
                if self.channel != Channel::Empty {
                    self.capture()?;
                }
                Ok(())
            }
            Command::Move(Position::Rf | Position::Hold) => {
                self.feed()?;
                self.channel = Channel::InReader;
                self.at_gate_since = None;
                Ok(())
            }
            Command::Move(Position::Gate) => {
                self.feed()?;
                self.channel = Channel::AtGate;
                self.at_gate_since = Some(Instant::now());
                Ok(())
            }
            Command::Move(Position::RejectBin) => self.capture(),
        }
    }

    /// A card from the stacker into an empty channel.
    fn feed(&mut self) -> Result<(), [u8; 2]> {
        if self.channel == Channel::Empty {
            if self.stacker == 0 {
                return Err(*b"A0");
            }
            self.stacker -= 1;
            self.channel = Channel::InReader;
        }
        Ok(())
    }

    fn capture(&mut self) -> Result<(), [u8; 2]> {
        if self.channel == Channel::Empty {
            return Err(*b"43");
        }
        if self.reject >= self.config.reject_capacity {
            return Err(*b"A1");
        }
        self.reject += 1;
        self.channel = Channel::Empty;
        self.at_gate_since = None;
        Ok(())
    }

    fn answer(&mut self, out: &mut Vec<Transmit>) {
        let Some(command) = self.ready.pop_front() else {
            return;
        };
        self.commands.push((command.cm, command.pm));
        let result = self.execute(command.cm, command.pm);
        let reply = match result {
            Ok(()) => ReplyFrame::Positive {
                addr: command.addr,
                cm: command.cm,
                pm: command.pm,
                status: self.sensors().encode(),
                data: Vec::new(),
            },
            Err(error) => ReplyFrame::Negative {
                addr: command.addr,
                cm: command.cm,
                pm: command.pm,
                error,
                marker: self.config.negative_marker,
                data: Vec::new(),
            },
        };
        let moves = matches!(
            Command::from_code(command.cm, command.pm),
            Some(Command::Move(_))
        );
        if let Some(late) = self.late_reply.take_if(|_| moves) {
            out.push(Transmit::Bytes(late.encode()));
        }
        self.last_reply = Some(reply.encode());
        self.send_last_reply(out);
    }

    /// Sends the last reply (again, after a NAK), corrupted while corruption is injected.
    fn send_last_reply(&mut self, out: &mut Vec<Transmit>) {
        let Some(mut bytes) = self.last_reply.clone() else {
            return;
        };
        if self.corrupt_replies > 0 {
            self.corrupt_replies -= 1;
            if let Some(last) = bytes.last_mut() {
                *last ^= 0x5A;
            }
        }
        out.push(Transmit::Bytes(bytes));
    }

    fn schedule(&mut self, command: CommandFrame, out: &mut Vec<Transmit>) {
        let moves = matches!(
            Command::from_code(command.cm, command.pm),
            Some(Command::Move(_) | Command::InitialiseCapture)
        );
        self.ready.push_back(command);
        if moves {
            out.push(Transmit::Wait(self.config.move_time));
        }
        out.push(Transmit::Resume);
    }
}

impl Responder for SimDispenser {
    fn receive(&mut self, bytes: &[u8], out: &mut Vec<Transmit>) {
        self.decoder.push(bytes);
        while let Some(decoded) = self.decoder.decode() {
            if self.silent {
                continue;
            }
            match decoded {
                Decoded::Frame(command) => {
                    out.push(Transmit::Bytes(vec![ACK]));
                    if self.config.require_enq {
                        self.waiting.push_back(command);
                    } else {
                        self.schedule(command, out);
                    }
                }
                Decoded::Corrupt => out.push(Transmit::Bytes(vec![NAK])),
                Decoded::Control(ENQ) => {
                    if let Some(command) = self.waiting.pop_front() {
                        self.schedule(command, out);
                    }
                }
                Decoded::Control(NAK) => self.send_last_reply(out),
                Decoded::Control(EOT) => self.waiting.clear(),
                Decoded::Control(_) | Decoded::Skipped(_) => {}
            }
        }
    }

    fn resume(&mut self, out: &mut Vec<Transmit>) {
        self.answer(out);
    }
}

/// What the simulated dispenser holds, for tests and the technician.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contents {
    /// Cards in the stacker.
    pub stacker: u32,
    /// Cards in the reject bin.
    pub reject_bin: u32,
    /// The card in the channel.
    pub channel: Channel,
}

/// A simulated dispenser running on a PTY.
pub struct DispenserSimulator {
    sim: SimHandle<SimDispenser>,
}

impl DispenserSimulator {
    /// Plugs a dispenser in at `link` (a symlink to its PTY).
    pub fn start(link: &Path, config: SimConfig) -> io::Result<Self> {
        let baud = config.baud;
        Ok(Self {
            sim: SimHandle::start(link, baud, SimDispenser::new(config))?,
        })
    }

    /// What it holds now.
    pub fn contents(&self) -> Contents {
        let mut dev = self.sim.device();
        let channel = dev.sensors().channel;
        Contents {
            stacker: dev.stacker,
            reject_bin: dev.reject,
            channel,
        }
    }

    /// The citizen takes the card waiting at the gate (if there is one).
    pub fn take_card(&self) {
        self.sim.device().take();
    }

    /// Feeds a card to the gate without being asked, as an interrupted dispense leaves one.
    pub fn leave_card_at_gate(&self) {
        let mut dev = self.sim.device();
        if dev.feed().is_ok() {
            // Nobody is there to take it.
            dev.channel = Channel::AtGate;
            dev.at_gate_since = None;
        }
    }

    /// From now on the citizen takes each card this long after it reaches the gate.
    pub fn set_take_after(&self, after: Option<Duration>) {
        self.sim.device().take_after = after;
    }

    /// Jams (or frees) the card path: every move fails with "card jam".
    pub fn set_jammed(&self, jammed: bool) {
        self.sim.device().jammed = jammed;
    }

    /// Sends `reply` just before the answer to the next card move, as the reply to an earlier
    /// command arriving late.
    pub fn send_late_reply(&self, reply: ReplyFrame) {
        self.sim.device().late_reply = Some(reply);
    }

    /// Sends the next `n` replies with a bad BCC.
    pub fn corrupt_replies(&self, n: u32) {
        self.sim.device().corrupt_replies = n;
    }

    /// Stops (or resumes) answering anything.
    pub fn set_silent(&self, silent: bool) {
        self.sim.device().silent = silent;
    }

    /// Refills the stacker to `cards`, as staff would.
    pub fn refill(&self, cards: u32) {
        self.sim.device().stacker = cards;
    }

    /// Empties the reject bin, as staff would.
    pub fn empty_reject_bin(&self) {
        self.sim.device().reject = 0;
    }

    /// Pulls the dispenser's cable; returns once its port is gone.
    pub fn unplug(&self) {
        self.sim.unplug();
    }

    /// Plugs it back in.
    pub fn replug(&self) {
        self.sim.replug();
    }

    /// The `(CM, PM)` of each command carried out, in order.
    pub fn commands(&self) -> Vec<(u8, u8)> {
        self.sim.device().commands.clone()
    }
}
