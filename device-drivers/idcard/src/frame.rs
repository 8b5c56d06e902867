//! SAM_V frames (devices.md §1.2), with no I/O: encode to bytes, decode from bytes in any chunking.
//!
//! ```text
//! host -> reader:  AA AA AA 96 69 | Len1 Len2 | CMD PARA | DATA… | CHK
//! reader -> host:  AA AA AA 96 69 | Len1 Len2 | SW1 SW2 SW3 | DATA… | CHK
//! ```
//! `Len` is big-endian and counts every byte after itself, CHK included; CHK is the XOR of every
//! byte after the preamble except itself.

use zeroize::Zeroize;

/// Frame sync (`AA AA AA`) and start of frame (`96 69`).
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// Bytes before the body: preamble and length.
pub const HEADER_LEN: usize = 7;
/// The longest reply the protocol has: text, photo and two fingerprint templates (`30 10`).
pub const MAX_REPLY_LEN: u16 = 0x090A;
/// The longest request any command needs, with room to spare; anything longer is noise.
pub const MAX_REQUEST_LEN: u16 = 0x0040;

/// A frame from the host to the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Command byte.
    pub cmd: u8,
    /// Parameter byte.
    pub para: u8,
    /// Command data (none of the listed commands has any).
    pub data: Vec<u8>,
}

/// A frame from the reader to the host. Its data can hold a citizen's card, so it is wiped on
/// drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// APDU status forwarded from the card (usually 0).
    pub sw1: u8,
    /// APDU status forwarded from the card (usually 0).
    pub sw2: u8,
    /// The reader/SAM result code (see [`crate::Sw3`]).
    pub sw3: u8,
    /// Reply data.
    pub data: Vec<u8>,
}

impl Reply {
    /// A reply with this result code and data, and no card APDU status (SW1 = SW2 = 0).
    pub fn new(sw3: crate::Sw3, data: Vec<u8>) -> Self {
        Reply {
            sw1: 0,
            sw2: 0,
            sw3: sw3.code(),
            data,
        }
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data may be a citizen's card: show its size only.
        f.debug_struct("Reply")
            .field("sw1", &self.sw1)
            .field("sw2", &self.sw2)
            .field("sw3", &format_args!("{:#04x}", self.sw3))
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

/// A kind of frame: how its body (the bytes between length and checksum) is laid out.
pub trait Frame: Sized {
    /// Smallest valid `Len` (header fields plus CHK).
    const MIN_LEN: u16;
    /// Largest valid `Len`.
    const MAX_LEN: u16;
    /// Builds the frame from a body of a valid length.
    fn from_body(body: &[u8]) -> Self;
    /// Appends the body.
    fn write_body(&self, out: &mut Vec<u8>);

    /// The whole frame on the wire.
    fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        self.write_body(&mut body);
        let len = u16::try_from(body.len() + 1).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(HEADER_LEN + body.len() + 1);
        out.extend_from_slice(&PREAMBLE);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
        out.push(checksum(&out[PREAMBLE.len()..]));
        body.zeroize();
        out
    }
}

impl Frame for Request {
    const MIN_LEN: u16 = 3;
    const MAX_LEN: u16 = MAX_REQUEST_LEN;

    fn from_body(body: &[u8]) -> Self {
        Request {
            cmd: body[0],
            para: body[1],
            data: body[2..].to_vec(),
        }
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.cmd, self.para]);
        out.extend_from_slice(&self.data);
    }
}

impl Frame for Reply {
    const MIN_LEN: u16 = 4;
    const MAX_LEN: u16 = MAX_REPLY_LEN;

    fn from_body(body: &[u8]) -> Self {
        Reply {
            sw1: body[0],
            sw2: body[1],
            sw3: body[2],
            data: body[3..].to_vec(),
        }
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.sw1, self.sw2, self.sw3]);
        out.extend_from_slice(&self.data);
    }
}

/// XOR of all bytes.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// What the decoder found in the byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<F> {
    /// A whole, valid frame.
    Frame(F),
    /// Bytes that were not part of any frame were dropped (line noise, a torn frame).
    Skipped(usize),
    /// A frame whose checksum did not match; its preamble was dropped and scanning went on.
    BadChecksum {
        /// The checksum computed over the bytes received.
        computed: u8,
        /// The checksum byte received.
        received: u8,
    },
    /// A preamble followed by a length no frame of this kind can have; it was dropped as noise.
    ImpossibleLength(u16),
}

/// An incremental decoder: push bytes as they arrive, take what was decoded.
///
/// Never panics, never holds more than one maximal frame plus what was pushed since the last
/// call to [`Decoder::decode`], and wipes its buffer when dropped (it holds citizen data).
pub struct Decoder<F> {
    buf: Vec<u8>,
    _frame: std::marker::PhantomData<F>,
}

impl<F: Frame> Default for Decoder<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Frame> Decoder<F> {
    /// An empty decoder.
    pub fn new() -> Self {
        Self {
            // Room for the longest frame, so the buffer (and the data in it) is not copied around
            // the heap by reallocation.
            buf: Vec::with_capacity(2 * (HEADER_LEN + usize::from(F::MAX_LEN))),
            _frame: std::marker::PhantomData,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Forgets everything buffered (before a new command, after a timeout).
    pub fn clear(&mut self) {
        self.buf.zeroize();
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next thing decoded from what was pushed, or `None` until more bytes are needed.
    pub fn decode(&mut self) -> Option<Decoded<F>> {
        match find(&self.buf, &PREAMBLE) {
            Some(0) => {}
            Some(start) => return Some(self.skip(start)),
            None => {
                // Keep a tail that may be the start of a preamble split across pushes.
                let keep = (1..PREAMBLE.len())
                    .rev()
                    .find(|&k| self.buf.ends_with(&PREAMBLE[..k]))
                    .unwrap_or(0);
                let drop = self.buf.len() - keep;
                return (drop > 0).then(|| self.skip(drop));
            }
        }
        let header = self.buf.get(..HEADER_LEN)?;
        let len = u16::from_be_bytes([header[5], header[6]]);
        if !(F::MIN_LEN..=F::MAX_LEN).contains(&len) {
            // A preamble cannot overlap itself, so no frame starts inside these five bytes.
            self.discard(PREAMBLE.len());
            return Some(Decoded::ImpossibleLength(len));
        }
        let total = HEADER_LEN + usize::from(len);
        let frame = self.buf.get(..total)?;
        let computed = checksum(&frame[PREAMBLE.len()..total - 1]);
        let received = frame[total - 1];
        if computed != received {
            self.discard(PREAMBLE.len());
            return Some(Decoded::BadChecksum { computed, received });
        }
        let decoded = F::from_body(&frame[HEADER_LEN..total - 1]);
        self.discard(total);
        Some(Decoded::Frame(decoded))
    }

    fn skip(&mut self, n: usize) -> Decoded<F> {
        self.discard(n);
        Decoded::Skipped(n)
    }

    fn discard(&mut self, n: usize) {
        self.buf.drain(..n);
    }
}

impl<F> Drop for Decoder<F> {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(sw3: u8, data: &[u8]) -> Reply {
        Reply {
            sw1: 0,
            sw2: 0,
            sw3,
            data: data.to_vec(),
        }
    }

    fn decode_all<F: Frame>(dec: &mut Decoder<F>) -> Vec<Decoded<F>> {
        std::iter::from_fn(|| dec.decode()).collect()
    }

    #[test]
    fn golden_replies_from_the_reference() {
        // devices.md §1.3: SAM status OK, self-test failed, find OK, no card, select failed.
        let cases: [(&[u8], u8, &[u8]); 5] = [
            (&[0x00, 0x04, 0x00, 0x00, 0x90, 0x94], 0x90, &[]),
            (&[0x00, 0x04, 0x00, 0x00, 0x60, 0x64], 0x60, &[]),
            (
                &[0x00, 0x08, 0x00, 0x00, 0x9F, 0, 0, 0, 0, 0x97],
                0x9F,
                &[0, 0, 0, 0],
            ),
            (&[0x00, 0x04, 0x00, 0x00, 0x80, 0x84], 0x80, &[]),
            (&[0x00, 0x04, 0x00, 0x00, 0x81, 0x85], 0x81, &[]),
        ];
        for (tail, sw3, data) in cases {
            let wire = [&PREAMBLE[..], tail].concat();
            assert_eq!(reply(sw3, data).encode(), wire);
            let mut dec = Decoder::<Reply>::new();
            dec.push(&wire);
            assert_eq!(decode_all(&mut dec), vec![Decoded::Frame(reply(sw3, data))]);
        }
    }

    #[test]
    fn garbage_before_a_frame_is_skipped_and_reported() {
        let mut dec = Decoder::<Reply>::new();
        dec.push(&[0x01, 0xAA, 0xAA, 0x13]);
        dec.push(&reply(0x90, &[]).encode());
        assert_eq!(
            decode_all(&mut dec),
            vec![Decoded::Skipped(4), Decoded::Frame(reply(0x90, &[]))]
        );
    }

    #[test]
    fn a_preamble_split_across_pushes_is_kept() {
        let wire = reply(0x90, &[1, 2, 3]).encode();
        let mut dec = Decoder::<Reply>::new();
        dec.push(&[0x55, 0xAA, 0xAA]);
        assert_eq!(decode_all(&mut dec), vec![Decoded::Skipped(1)]);
        dec.push(&wire[2..]);
        assert_eq!(
            decode_all(&mut dec),
            vec![Decoded::Frame(reply(0x90, &[1, 2, 3]))]
        );
    }

    #[test]
    fn impossible_lengths_are_rejected_without_waiting_for_them() {
        for len in [0u16, 1, 2, 3, MAX_REPLY_LEN + 1, 0xFFFF] {
            let mut dec = Decoder::<Reply>::new();
            dec.push(&PREAMBLE);
            dec.push(&len.to_be_bytes());
            assert_eq!(dec.decode(), Some(Decoded::ImpossibleLength(len)), "{len}");
        }
    }

    #[test]
    fn a_bad_checksum_is_reported_and_the_next_frame_still_decodes() {
        let mut bad = reply(0x90, &[7; 20]).encode();
        *bad.last_mut().unwrap() ^= 0xFF;
        let good = reply(0x9F, &[0; 4]).encode();
        let mut dec = Decoder::<Reply>::new();
        dec.push(&bad);
        dec.push(&good);
        let events = decode_all(&mut dec);
        assert!(
            matches!(events[0], Decoded::BadChecksum { .. }),
            "{events:?}"
        );
        assert_eq!(events.last(), Some(&Decoded::Frame(reply(0x9F, &[0; 4]))));
    }
}
