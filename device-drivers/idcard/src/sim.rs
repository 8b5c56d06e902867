//! A simulated reader: the reader's side of the SAM_V protocol on a pseudo-terminal, serving cards
//! described in the JSON that `kioskctl idcard read` prints, with its replies paced at the baud
//! rate and faults that can be injected while it runs.

use crate::card::{CardDataError, IdCard, encode_text, encode_ucs2};
use crate::command::{ADDRESS_LEN, CardBlocks, Command, PHOTO_LEN};
use crate::frame::{Decoded, Decoder, Frame, PREAMBLE, Reply, Request};
use crate::sw3::Sw3;
use rand::Rng;
use serial_link::sim::{Responder, SimHandle, Transmit};
use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::time::Duration;

/// A fault the simulated reader can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimFault {
    /// The reply goes out with a wrong checksum.
    BadChecksum,
    /// Line noise (including a torn preamble) goes out before the reply.
    Garbage,
    /// No reply at all.
    Silence,
    /// The reader is pulled out halfway through its reply.
    Unplug,
    /// The card is taken away while it is being read: the read fails (SW3 41).
    RemoveCard,
}

/// When an injected fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// At the next command of any kind.
    NextCommand,
    /// At the next read of a card (`30 01` or `30 10`).
    NextRead,
    /// At every command from now on, until [`IdCardSimulator::clear_faults`].
    Always,
}

/// How long the simulated module takes to act, besides the wire time of the bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessingTime {
    /// For control commands (status, find, select …).
    pub command: Duration,
    /// For reading a card (a real SAM needs several hundred milliseconds).
    pub read: Duration,
}

struct SimCard {
    card: IdCard,
    blocks: CardBlocks,
    serial: [u8; 8],
}

/// The reader's state, changed by the host's commands and by the world.
pub struct SimReader {
    decoder: Decoder<Request>,
    /// Requests received and being processed (answered at [`Responder::resume`]).
    pending: VecDeque<Option<Command>>,
    card: Option<SimCard>,
    selected: bool,
    sam_failed: bool,
    faults: VecDeque<(When, SimFault)>,
    processing: ProcessingTime,
    commands: Vec<Command>,
}

impl SimReader {
    fn new() -> Self {
        Self {
            decoder: Decoder::new(),
            pending: VecDeque::new(),
            card: None,
            selected: false,
            sam_failed: false,
            faults: VecDeque::new(),
            processing: ProcessingTime::default(),
            commands: Vec::new(),
        }
    }

    fn take_fault(&mut self, is_read: bool) -> Option<SimFault> {
        let i = self.faults.iter().position(|(when, _)| match when {
            When::NextCommand | When::Always => true,
            When::NextRead => is_read,
        })?;
        match self.faults[i] {
            (When::Always, fault) => Some(fault),
            _ => self.faults.remove(i).map(|(_, f)| f),
        }
    }

    /// A request arrived: the module works on it, then answers (in `answer`).
    fn handle(&mut self, request: &Request, out: &mut Vec<Transmit>) {
        let command = Command::from_code(request.cmd, request.para);
        if let Some(c) = command {
            self.commands.push(c);
        }
        out.push(Transmit::Wait(if is_read(command) {
            self.processing.read
        } else {
            self.processing.command
        }));
        self.pending.push_back(command);
        out.push(Transmit::Resume);
    }

    /// Answers the oldest request, as things stand after its processing time.
    fn answer(&mut self, out: &mut Vec<Transmit>) {
        let Some(command) = self.pending.pop_front() else {
            return;
        };
        let fault = self.take_fault(is_read(command));
        if fault == Some(SimFault::Silence) {
            return;
        }
        if fault == Some(SimFault::RemoveCard) {
            self.card = None;
            self.selected = false;
        }
        let reply = self.respond(command);
        let switch_baud = match command {
            Some(Command::SetBaud(baud)) if reply.sw3 == Sw3::Success.code() => Some(baud),
            _ => None,
        };
        let mut bytes = reply.encode();
        match fault {
            Some(SimFault::BadChecksum) => {
                if let Some(last) = bytes.last_mut() {
                    *last ^= 0x5A;
                }
            }
            Some(SimFault::Garbage) => {
                let mut rng = rand::rng();
                let mut noise: Vec<u8> =
                    (0..rng.random_range(8..64)).map(|_| rng.random()).collect();
                // A torn frame start, the nastiest noise for a decoder.
                noise.extend_from_slice(&PREAMBLE[..4]);
                noise.extend_from_slice(&bytes);
                bytes = noise;
            }
            Some(SimFault::Unplug) => {
                bytes.truncate(bytes.len() / 2);
                out.push(Transmit::Bytes(bytes));
                out.push(Transmit::Unplug);
                return;
            }
            _ => {}
        }
        out.push(Transmit::Bytes(bytes));
        if let Some(baud) = switch_baud {
            out.push(Transmit::SetBaud(baud.bps()));
        }
    }

    fn respond(&mut self, command: Option<Command>) -> Reply {
        let reply = Reply::new;
        let Some(command) = command else {
            return reply(Sw3::BadCommand, vec![]);
        };
        if self.sam_failed {
            return reply(Sw3::SelfTestFailed, vec![]);
        }
        match command {
            Command::ResetSam | Command::SamStatus | Command::SetBaud(_) => {
                reply(Sw3::Success, vec![])
            }
            Command::SamId => reply(Sw3::Success, SIM_SAM_ID.to_vec()),
            Command::FindCard => {
                // Every read starts again from find: a selection does not outlive it.
                self.selected = false;
                match &self.card {
                    Some(_) => reply(Sw3::CardFound, vec![0; 4]),
                    None => reply(Sw3::NoCard, vec![]),
                }
            }
            Command::SelectCard => match &self.card {
                Some(c) => {
                    self.selected = true;
                    reply(Sw3::Success, c.serial.to_vec())
                }
                None => reply(Sw3::SelectFailed, vec![]),
            },
            Command::ReadTextPhoto | Command::ReadTextPhotoFingerprint => match &self.card {
                Some(c) if self.selected => {
                    let mut blocks = c.blocks.clone();
                    blocks.fingerprint = (command == Command::ReadTextPhotoFingerprint)
                        .then(|| c.card.fingerprint.clone().unwrap_or_default());
                    reply(Sw3::Success, blocks.encode())
                }
                _ => reply(Sw3::ReadFailed, vec![]),
            },
            Command::ReadNewestAddress => match &self.card {
                Some(c) if self.selected => match &c.card.newest_address {
                    Some(address) => {
                        let mut data = vec![0u8; ADDRESS_LEN];
                        // Checked when the card was inserted.
                        let _ = encode_ucs2(&mut data, "newest_address", address);
                        reply(Sw3::Success, data)
                    }
                    None => reply(Sw3::NoContent, vec![]),
                },
                _ => reply(Sw3::ReadFailed, vec![]),
            },
        }
    }
}

/// The identity the simulated SAM reports (formats as `05.01-20240309-0000000001-0000000042`).
const SIM_SAM_ID: [u8; 16] = [
    0x05, 0x00, 0x01, 0x00, 0xB5, 0xD7, 0x34, 0x01, 0x01, 0, 0, 0, 0x2A, 0, 0, 0,
];

impl Responder for SimReader {
    fn receive(&mut self, bytes: &[u8], out: &mut Vec<Transmit>) {
        self.decoder.push(bytes);
        while let Some(decoded) = self.decoder.decode() {
            let nak = |sw3: Sw3| Transmit::Bytes(Reply::new(sw3, vec![]).encode());
            match decoded {
                Decoded::Frame(request) => self.handle(&request, out),
                // What a real SAM answers to a corrupt host frame (devices.md §1.3).
                Decoded::BadChecksum { .. } => out.push(nak(Sw3::HostChecksumError)),
                Decoded::ImpossibleLength(_) => out.push(nak(Sw3::HostLengthError)),
                Decoded::Skipped(_) => {}
            }
        }
    }

    fn resume(&mut self, out: &mut Vec<Transmit>) {
        self.answer(out);
    }
}

fn is_read(command: Option<Command>) -> bool {
    matches!(
        command,
        Some(Command::ReadTextPhoto | Command::ReadTextPhotoFingerprint)
    )
}

/// A simulated reader running on a PTY.
pub struct IdCardSimulator {
    sim: SimHandle<SimReader>,
}

impl IdCardSimulator {
    /// Plugs a reader in at `link` (a symlink to its PTY) talking at `baud`, with no card.
    pub fn start(link: &Path, baud: u32) -> io::Result<Self> {
        Ok(Self {
            sim: SimHandle::start(link, baud, SimReader::new())?,
        })
    }

    /// The path the host opens.
    pub fn link(&self) -> &Path {
        self.sim.link()
    }

    /// The baud rate the reader talks at now.
    pub fn baud(&self) -> u32 {
        self.sim.baud()
    }

    /// Lays `card` on the reader (replacing any card there).
    pub fn insert(&self, card: &IdCard) -> Result<(), CardDataError> {
        let text = encode_text(card)?;
        if card.photo_wlt.len() != PHOTO_LEN {
            return Err(CardDataError::WrongSize {
                field: "photo_wlt_base64",
                expected: "1024 bytes",
            });
        }
        if let Some(fp) = &card.fingerprint
            && !matches!(fp.len(), 0 | 512 | 1024)
        {
            return Err(CardDataError::WrongSize {
                field: "fingerprint_base64",
                expected: "0, 512 or 1024 bytes",
            });
        }
        if let Some(address) = &card.newest_address {
            encode_ucs2(&mut [0u8; ADDRESS_LEN], "newest_address", address)?;
        }
        let mut serial = [0u8; 8];
        for (i, b) in card.id_number.bytes().enumerate() {
            serial[i % 8] = serial[i % 8].rotate_left(3) ^ b;
        }
        let mut dev = self.sim.device();
        dev.selected = false;
        dev.card = Some(SimCard {
            card: card.clone(),
            blocks: CardBlocks {
                text,
                photo: card.photo_wlt.clone(),
                fingerprint: None,
            },
            serial,
        });
        Ok(())
    }

    /// Takes the card away.
    pub fn remove(&self) {
        let mut dev = self.sim.device();
        dev.card = None;
        dev.selected = false;
    }

    /// Whether a card is on the reader.
    pub fn has_card(&self) -> bool {
        self.sim.device().card.is_some()
    }

    /// Arms a one-shot fault.
    pub fn inject(&self, fault: SimFault, when: When) {
        self.sim.device().faults.push_back((when, fault));
    }

    /// Disarms every injected fault.
    pub fn clear_faults(&self) {
        self.sim.device().faults.clear();
    }

    /// Makes the SAM fail its self-test (every command answers SW3 60) or recover.
    pub fn set_sam_failed(&self, failed: bool) {
        self.sim.device().sam_failed = failed;
    }

    /// Sets how long the module takes to act.
    pub fn set_processing_time(&self, processing: ProcessingTime) {
        self.sim.device().processing = processing;
    }

    /// Pulls the reader's cable; returns once its port is gone.
    pub fn unplug(&self) {
        self.sim.unplug();
    }

    /// Plugs it back in; returns once its port is there.
    pub fn replug(&self) {
        self.sim.replug();
    }

    /// The commands received so far, in order.
    pub fn commands(&self) -> Vec<Command> {
        self.sim.device().commands.clone()
    }
}
