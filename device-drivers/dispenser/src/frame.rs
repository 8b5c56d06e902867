//! CRT-591 frames and link control characters (devices.md §3.1), with no I/O.
//!
//! ```text
//! command:  F2 ADDR LENH LENL 43 CM PM DATA… 03 BCC          LEN = 3 + data
//! positive: F2 ADDR LENH LENL 50 CM PM st0 st1 st2 DATA… 03 BCC   LEN = 6 + data
//! negative: F2 ADDR LENH LENL 45|4E CM PM e1 e0 DATA… 03 BCC     LEN = 5 + data
//! ```
//! BCC is the XOR of every byte from STX through ETX. Between frames the link carries single
//! control bytes: ACK 06, NAK 15, ENQ 05, EOT 04.

/// Start of a frame.
pub const STX: u8 = 0xF2;
/// End of a frame's text.
pub const ETX: u8 = 0x03;
/// Frame received well.
pub const ACK: u8 = 0x06;
/// Frame received with a bad BCC: send it again.
pub const NAK: u8 = 0x15;
/// Host asks the device to execute and answer (used by some hosts and devices, not all).
pub const ENQ: u8 = 0x05;
/// Cancel: clears the link.
pub const EOT: u8 = 0x04;
/// The longest frame text accepted; anything longer is noise.
pub const MAX_LEN: u16 = 1024;

/// Marker of a command.
const CMT: u8 = b'C';
/// Marker of a positive reply.
const PMT: u8 = b'P';
/// Markers of a negative reply: 'E' in one working driver, 'N' in Creator's manuals.
const EMT: [u8; 2] = [b'E', b'N'];

/// A frame from the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandFrame {
    /// Device address (0–15, DIP switches).
    pub addr: u8,
    /// Command code.
    pub cm: u8,
    /// Parameter code.
    pub pm: u8,
    /// Command data.
    pub data: Vec<u8>,
}

/// A frame from the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyFrame {
    /// The command was carried out; `status` is st0 st1 st2.
    Positive {
        /// Device address.
        addr: u8,
        /// Command answered.
        cm: u8,
        /// Parameter answered.
        pm: u8,
        /// st0 (channel), st1 (stacker), st2 (reject bin), as ASCII digits.
        status: [u8; 3],
        /// Reply data.
        data: Vec<u8>,
    },
    /// The command failed; `error` is the two ASCII characters e1 e0.
    Negative {
        /// Device address.
        addr: u8,
        /// Command answered.
        cm: u8,
        /// Parameter answered.
        pm: u8,
        /// Error code, e.g. `*b"10"` (card jam).
        error: [u8; 2],
        /// The marker byte received ('E' or 'N').
        marker: u8,
        /// Reply data.
        data: Vec<u8>,
    },
}

impl ReplyFrame {
    /// The command this frame answers.
    pub fn command(&self) -> (u8, u8) {
        match self {
            ReplyFrame::Positive { cm, pm, .. } | ReplyFrame::Negative { cm, pm, .. } => (*cm, *pm),
        }
    }
}

/// XOR of all bytes.
pub fn bcc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

fn frame(addr: u8, text: &[u8]) -> Vec<u8> {
    let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
    let mut out = vec![STX, addr];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text);
    out.push(ETX);
    out.push(bcc(&out));
    out
}

impl CommandFrame {
    /// The frame on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = vec![CMT, self.cm, self.pm];
        text.extend_from_slice(&self.data);
        frame(self.addr, &text)
    }
}

impl ReplyFrame {
    /// The frame on the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ReplyFrame::Positive {
                addr,
                cm,
                pm,
                status,
                data,
            } => {
                let mut text = vec![PMT, *cm, *pm];
                text.extend_from_slice(status);
                text.extend_from_slice(data);
                frame(*addr, &text)
            }
            ReplyFrame::Negative {
                addr,
                cm,
                pm,
                error,
                marker,
                data,
            } => {
                let mut text = vec![*marker, *cm, *pm];
                text.extend_from_slice(error);
                text.extend_from_slice(data);
                frame(*addr, &text)
            }
        }
    }
}

/// One side's frames: what the text of a frame must look like.
pub trait Frame: Sized {
    /// Builds the frame from its address and text (marker onwards), if the text is one.
    fn from_text(addr: u8, text: &[u8]) -> Option<Self>;
}

impl Frame for CommandFrame {
    fn from_text(addr: u8, text: &[u8]) -> Option<Self> {
        match text {
            [CMT, cm, pm, data @ ..] => Some(CommandFrame {
                addr,
                cm: *cm,
                pm: *pm,
                data: data.to_vec(),
            }),
            _ => None,
        }
    }
}

impl Frame for ReplyFrame {
    fn from_text(addr: u8, text: &[u8]) -> Option<Self> {
        match text {
            [PMT, cm, pm, s0, s1, s2, data @ ..] => Some(ReplyFrame::Positive {
                addr,
                cm: *cm,
                pm: *pm,
                status: [*s0, *s1, *s2],
                data: data.to_vec(),
            }),
            [marker, cm, pm, e1, e0, data @ ..] if EMT.contains(marker) => {
                Some(ReplyFrame::Negative {
                    addr,
                    cm: *cm,
                    pm: *pm,
                    error: [*e1, *e0],
                    marker: *marker,
                    data: data.to_vec(),
                })
            }
            _ => None,
        }
    }
}

/// What the decoder found on the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<F> {
    /// A whole, valid frame.
    Frame(F),
    /// A control byte between frames.
    Control(u8),
    /// A frame whose BCC or ETX was wrong: the sender should be told NAK.
    Corrupt,
    /// Bytes that were neither a frame nor a control byte.
    Skipped(usize),
}

/// An incremental decoder for one side of the link: bytes in any chunking, events out.
/// Never panics; keeps at most one frame's worth of bytes.
#[derive(Debug)]
pub struct Decoder<F> {
    buf: Vec<u8>,
    _frame: std::marker::PhantomData<F>,
}

impl<F: Frame> Default for Decoder<F> {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            _frame: std::marker::PhantomData,
        }
    }
}

impl<F: Frame> Decoder<F> {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Forgets everything buffered.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next thing decoded, or `None` until more bytes are needed.
    pub fn decode(&mut self) -> Option<Decoded<F>> {
        let first = *self.buf.first()?;
        if [ACK, NAK, ENQ, EOT].contains(&first) {
            self.buf.drain(..1);
            return Some(Decoded::Control(first));
        }
        if first != STX {
            let n = self
                .buf
                .iter()
                .position(|b| [STX, ACK, NAK, ENQ, EOT].contains(b))
                .unwrap_or(self.buf.len());
            self.buf.drain(..n);
            return Some(Decoded::Skipped(n));
        }
        let header = self.buf.get(..4)?;
        let (addr, len) = (header[1], u16::from_be_bytes([header[2], header[3]]));
        if !(3..=MAX_LEN).contains(&len) {
            self.buf.drain(..1);
            return Some(Decoded::Skipped(1));
        }
        let total = 4 + usize::from(len) + 2;
        let whole = self.buf.get(..total)?;
        let text = &whole[4..total - 2];
        let ok = whole[total - 2] == ETX && bcc(&whole[..total - 1]) == whole[total - 1];
        let parsed = if ok { F::from_text(addr, text) } else { None };
        match parsed {
            Some(frame) => {
                self.buf.drain(..total);
                Some(Decoded::Frame(frame))
            }
            None => {
                // Drop only the STX: a real frame may start inside what looked like this one.
                self.buf.drain(..1);
                Some(Decoded::Corrupt)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(cm: u8, pm: u8) -> CommandFrame {
        CommandFrame {
            addr: 0,
            cm,
            pm,
            data: vec![],
        }
    }

    #[test]
    fn golden_command_frames_from_the_reference() {
        // devices.md §3.1, address 0.
        let cases: [((u8, u8), [u8; 9]); 6] = [
            ((0x31, 0x30), [0xF2, 0, 0, 3, 0x43, 0x31, 0x30, 0x03, 0xB0]),
            ((0x31, 0x31), [0xF2, 0, 0, 3, 0x43, 0x31, 0x31, 0x03, 0xB1]),
            ((0x30, 0x33), [0xF2, 0, 0, 3, 0x43, 0x30, 0x33, 0x03, 0xB2]),
            ((0x32, 0x39), [0xF2, 0, 0, 3, 0x43, 0x32, 0x39, 0x03, 0xBA]),
            ((0x32, 0x33), [0xF2, 0, 0, 3, 0x43, 0x32, 0x33, 0x03, 0xB0]),
            ((0x33, 0x31), [0xF2, 0, 0, 3, 0x43, 0x33, 0x31, 0x03, 0xB3]),
        ];
        for ((cm, pm), wire) in cases {
            assert_eq!(command(cm, pm).encode(), wire);
            let mut dec = Decoder::<CommandFrame>::default();
            dec.push(&wire);
            assert_eq!(dec.decode(), Some(Decoded::Frame(command(cm, pm))));
        }
    }

    #[test]
    fn golden_status_reply_from_the_reference() {
        // "no card, stacker full, bin ok"
        let wire = [
            0xF2, 0, 0, 6, 0x50, 0x31, 0x30, 0x30, 0x32, 0x30, 0x03, 0x94,
        ];
        let reply = ReplyFrame::Positive {
            addr: 0,
            cm: 0x31,
            pm: 0x30,
            status: *b"020",
            data: vec![],
        };
        assert_eq!(reply.encode(), wire);
        let mut dec = Decoder::<ReplyFrame>::default();
        dec.push(&wire);
        assert_eq!(dec.decode(), Some(Decoded::Frame(reply)));
    }

    #[test]
    fn negative_replies_with_either_marker_decode() {
        for marker in [b'E', b'N'] {
            let reply = ReplyFrame::Negative {
                addr: 3,
                cm: 0x32,
                pm: 0x39,
                error: *b"10",
                marker,
                data: vec![],
            };
            let mut dec = Decoder::<ReplyFrame>::default();
            dec.push(&reply.encode());
            assert_eq!(dec.decode(), Some(Decoded::Frame(reply)));
        }
    }

    #[test]
    fn control_bytes_noise_and_corruption_are_told_apart() {
        let good = command(0x31, 0x30).encode();
        let mut bad = good.clone();
        bad[8] ^= 1;
        let mut dec = Decoder::<CommandFrame>::default();
        dec.push(&[ENQ, 0x55, 0x66, ACK]);
        dec.push(&bad);
        dec.push(&good[..3]);
        dec.push(&good[3..]);
        let events: Vec<_> = std::iter::from_fn(|| dec.decode()).collect();
        assert_eq!(events[0], Decoded::Control(ENQ));
        assert_eq!(events[1], Decoded::Skipped(2));
        assert_eq!(events[2], Decoded::Control(ACK));
        assert_eq!(events[3], Decoded::Corrupt);
        assert_eq!(events.last(), Some(&Decoded::Frame(command(0x31, 0x30))));
    }
}
