//! The printer's side of ESC/POS, with no I/O: bytes in, printed receipts and status replies out.
//! The simulator runs it on a PTY; tests run it directly on what the encoder produced.
//!
//! It draws onto a 576-dot canvas (80 mm at 203 dpi) with the same CJK font a real printer's ROM
//! would have, keeps a plain-text transcript, and answers `DLE EOT n` from its condition. With no
//! paper or the cover open it prints nothing, as a real printer stops; a cutter error leaves the
//! receipt uncut.

use crate::doc::{Align, Style};
use crate::raster::{Bitmap, Rasterizer, qr_bitmap};
use crate::status::{Paper, PresenterStatus, PrinterCondition};
use std::sync::Arc;

/// Width of the canvas, in dots.
pub const CANVAS_DOTS: u32 = 576;
/// The tallest raster image taken in one command.
const MAX_IMAGE_ROWS: usize = 4096;

/// A receipt the printer cut.
#[derive(Clone, Debug)]
pub struct Printed {
    /// What was printed on it.
    pub image: Bitmap,
    /// Its text, one line per printed line; images, QR codes and barcodes as `[…]`.
    pub transcript: String,
}

/// What the printer sends or produces.
#[derive(Clone, Debug)]
pub enum Output {
    /// Bytes back to the host (status replies).
    Reply(Vec<u8>),
    /// A receipt was cut.
    Cut(Printed),
    /// The presenter pushed the cut receipt out to the citizen.
    Presented,
    /// The presenter pulled a receipt back in.
    Retracted,
}

/// The printer's state as the world sets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mechanics {
    /// Paper supply.
    pub paper: Paper,
    /// Cover open.
    pub cover_open: bool,
    /// The cutter is broken.
    pub cutter_error: bool,
    /// Paper left on the roll, in dots, when it is about to run out mid-receipt (none: plenty).
    pub paper_left: Option<u32>,
}

/// The interpreter.
pub struct Interpreter {
    rasterizer: Arc<dyn Rasterizer>,
    /// What the world did to the printer.
    pub mechanics: Mechanics,
    buf: Vec<u8>,
    line: Vec<u8>,
    style: Style,
    canvas: Vec<Bitmap>,
    transcript: String,
    qr_data: Vec<u8>,
    qr_module: u8,
    /// A cut receipt waits in the presenter (or at the cutter of a printer without one).
    pub receipt_waiting: bool,
}

impl Interpreter {
    /// A printer that draws text with `rasterizer`.
    pub fn new(rasterizer: Arc<dyn Rasterizer>) -> Self {
        Self {
            rasterizer,
            mechanics: Mechanics::default(),
            buf: Vec::new(),
            line: Vec::new(),
            style: Style::default(),
            canvas: Vec::new(),
            transcript: String::new(),
            qr_data: Vec::new(),
            qr_module: 3,
            receipt_waiting: false,
        }
    }

    /// The condition the printer reports.
    pub fn condition(&self) -> PrinterCondition {
        let m = self.mechanics;
        PrinterCondition {
            offline: m.cover_open || m.paper == Paper::Out || m.cutter_error,
            cover_open: m.cover_open,
            stopped_by_paper_end: m.paper == Paper::Out,
            error: m.cutter_error,
            cutter_error: m.cutter_error,
            paper: m.paper,
            ..PrinterCondition::default()
        }
    }

    /// The reply byte to `DLE EOT n`.
    pub fn realtime_status(&self, n: u8) -> u8 {
        let c = self.condition();
        let bit = |on: bool, b: u8| if on { 1u8 << b } else { 0 };
        0x12 | match n {
            1 => bit(c.offline, 3),
            2 => bit(c.cover_open, 2) | bit(c.stopped_by_paper_end, 5) | bit(c.error, 6),
            3 => bit(c.cutter_error, 3),
            _ => match c.paper {
                Paper::Ok => 0,
                Paper::Low => 0x0C,
                Paper::Out => 0x6C,
            },
        }
    }

    /// A Custom kiosk printer's full status.
    pub fn full_status(&self) -> PresenterStatus {
        PresenterStatus {
            ticket_in_output: self.receipt_waiting,
            no_paper: self.mechanics.paper == Paper::Out,
            near_end: self.mechanics.paper == Paper::Low,
            cover_open: self.mechanics.cover_open,
        }
    }

    /// Uses `dots` of paper; false (and paper out) if the roll ends first.
    fn use_paper(&mut self, dots: u32) -> bool {
        match self.mechanics.paper_left {
            Some(left) if left < dots => {
                self.mechanics.paper = Paper::Out;
                self.mechanics.paper_left = Some(0);
                false
            }
            Some(left) => {
                self.mechanics.paper_left = Some(left - dots);
                true
            }
            None => true,
        }
    }

    fn printing(&self) -> bool {
        self.mechanics.paper != Paper::Out && !self.mechanics.cover_open
    }

    /// Feeds bytes; pushes what comes of them to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Output>) {
        self.buf.extend_from_slice(bytes);
        while let Some(used) = self.step(out) {
            self.buf.drain(..used);
        }
    }

    /// Carries out the command at the start of the buffer; how many bytes it took, or `None` until
    /// more arrive.
    fn step(&mut self, out: &mut Vec<Output>) -> Option<usize> {
        let b = &self.buf;
        let at = |i: usize| b.get(i).copied();
        // A command of `n` bytes, once all have arrived.
        let whole = |n: usize| (b.len() >= n).then_some(n);
        let first = at(0)?;
        Some(match first {
            0x10 => match at(1)? {
                0x04 => {
                    let n = at(2)?;
                    let reply = if n == 0x14 {
                        self.full_status().encode().to_vec()
                    } else {
                        vec![self.realtime_status(n)]
                    };
                    out.push(Output::Reply(reply));
                    3
                }
                // DLE ENQ n: recover from an error; nothing to do in a simulator.
                0x05 => whole(3)?,
                _ => 1,
            },
            0x0A => {
                self.print_line();
                1
            }
            0x1B => match at(1)? {
                b'@' => {
                    self.style = Style::default();
                    2
                }
                b'a' => {
                    self.style.align = match at(2)? % 48 {
                        1 => Align::Center,
                        2 => Align::Right,
                        _ => Align::Left,
                    };
                    3
                }
                b'E' => {
                    self.style.bold = at(2)? & 1 == 1;
                    3
                }
                b'd' => {
                    let n = at(2)?;
                    self.feed(u32::from(n) * 30);
                    3
                }
                b'!' | b't' => whole(3)?,
                b'i' => {
                    self.cut(out);
                    2
                }
                _ => 2,
            },
            0x1C => match at(1)? {
                b'&' | b'.' => 2,
                _ => whole(3)?,
            },
            0x1D => match at(1)? {
                b'!' => {
                    let n = at(2)?;
                    self.style.width = (n >> 4) + 1;
                    self.style.height = (n & 0x0F) + 1;
                    3
                }
                b'V' => {
                    let len = whole(if at(2)? >= 65 { 4 } else { 3 })?;
                    self.cut(out);
                    len
                }
                b'v' => {
                    let header = b.get(..8)?;
                    let x = usize::from(u16::from_le_bytes([header[4], header[5]]));
                    let y = usize::from(u16::from_le_bytes([header[6], header[7]]));
                    if x > (CANVAS_DOTS / 8) as usize || y > MAX_IMAGE_ROWS {
                        // No printer takes that: noise, not something to wait for.
                        return Some(2);
                    }
                    let data = b.get(8..8 + x * y)?.to_vec();
                    if let Some(img) = Bitmap::from_data((x * 8) as u32, y as u32, data) {
                        self.transcript
                            .push_str(&format!("[image {}x{}]\n", x * 8, y));
                        self.blit(&img);
                    }
                    8 + x * y
                }
                b'(' => {
                    let header = b.get(..5)?;
                    let len = usize::from(u16::from_le_bytes([header[3], header[4]]));
                    let body = b.get(5..5 + len)?.to_vec();
                    self.qr(&body);
                    5 + len
                }
                b'k' => {
                    let m = at(2)?;
                    if m >= 65 {
                        let n = usize::from(at(3)?);
                        let data = b.get(4..4 + n)?.to_vec();
                        self.barcode(&data);
                        4 + n
                    } else {
                        let end = b[3..].iter().position(|&c| c == 0)?;
                        let data = b[3..3 + end].to_vec();
                        self.barcode(&data);
                        4 + end
                    }
                }
                b'e' => match at(2)? {
                    3 => {
                        at(3)?;
                        self.present(out);
                        4
                    }
                    2 => {
                        self.retract(out);
                        3
                    }
                    _ => whole(3)?,
                },
                b'R' => match at(2)? {
                    b'0' => {
                        self.retract(out);
                        3
                    }
                    b'1' => {
                        at(3)?;
                        self.present(out);
                        4
                    }
                    _ => whole(3)?,
                },
                // GS h/w/H/f/a n and the like: three bytes.
                _ => whole(3)?,
            },
            _ => {
                self.line.push(first);
                1
            }
        })
    }

    fn print_line(&mut self) {
        let (text, _, _) = encoding_rs::GB18030.decode(&self.line);
        let text = text.into_owned();
        self.line.clear();
        if !self.printing() {
            return;
        }
        self.transcript.push_str(&text);
        self.transcript.push('\n');
        let px = 24 * u32::from(self.style.height);
        if text.is_empty() {
            self.feed(px);
            return;
        }
        let drawn = self
            .rasterizer
            .render(&text, px, self.style.bold, CANVAS_DOTS);
        let stretched = stretch(&drawn, self.style.width, self.style.height);
        self.blit(&trim_right(&stretched));
    }

    fn feed(&mut self, dots: u32) {
        if self.printing() && self.use_paper(dots) {
            self.canvas.push(Bitmap::new(CANVAS_DOTS, dots));
        }
    }

    /// Places an image on the next rows, aligned.
    fn blit(&mut self, img: &Bitmap) {
        if !self.printing() || !self.use_paper(img.height()) {
            return;
        }
        let w = img.width().min(CANVAS_DOTS);
        let left = match self.style.align {
            Align::Center => (CANVAS_DOTS - w) / 2,
            Align::Right => CANVAS_DOTS - w,
            Align::Left => 0,
        };
        let mut row = Bitmap::new(CANVAS_DOTS, img.height());
        for y in 0..img.height() {
            for x in 0..w {
                if img.get(x, y) {
                    row.set(left + x, y);
                }
            }
        }
        self.canvas.push(row);
    }

    fn qr(&mut self, body: &[u8]) {
        match body {
            [49, 67, n] => self.qr_module = *n,
            [49, 80, 48, data @ ..] => self.qr_data = data.to_vec(),
            [49, 81, 48] => {
                let data = String::from_utf8_lossy(&self.qr_data).into_owned();
                if let Some(img) = qr_bitmap(&data, u32::from(self.qr_module)) {
                    if self.printing() {
                        self.transcript.push_str(&format!("[QR {data}]\n"));
                    }
                    self.blit(&img);
                }
            }
            _ => {}
        }
    }

    fn barcode(&mut self, data: &[u8]) {
        let text = String::from_utf8_lossy(data.strip_prefix(b"{B").unwrap_or(data)).into_owned();
        if self.printing() {
            self.transcript.push_str(&format!("[barcode {text}]\n"));
        }
        // Drawn as a band of bars; what matters in a test is the text below it.
        let mut bars = Bitmap::new(CANVAS_DOTS / 2, 80);
        for x in (0..bars.width()).step_by(4) {
            for y in 0..80 {
                bars.set(x, y);
            }
        }
        self.blit(&bars);
    }

    fn cut(&mut self, out: &mut Vec<Output>) {
        if !self.line.is_empty() {
            self.print_line();
        }
        if !self.printing() {
            // Stopped mid-receipt (paper out, cover opened): the half receipt hangs uncut at the
            // head and is torn off by whoever refills the printer.
            self.canvas.clear();
            self.transcript.clear();
            return;
        }
        if self.mechanics.cutter_error || self.canvas.is_empty() {
            return;
        }
        let height = self.canvas.iter().map(Bitmap::height).sum();
        let mut image = Bitmap::new(CANVAS_DOTS, height);
        let mut top = 0;
        for part in self.canvas.drain(..) {
            for y in 0..part.height() {
                for x in 0..CANVAS_DOTS {
                    if part.get(x, y) {
                        image.set(x, top + y);
                    }
                }
            }
            top += part.height();
        }
        self.receipt_waiting = true;
        out.push(Output::Cut(Printed {
            image,
            transcript: std::mem::take(&mut self.transcript),
        }));
    }

    fn present(&mut self, out: &mut Vec<Output>) {
        if self.receipt_waiting {
            out.push(Output::Presented);
        }
    }

    fn retract(&mut self, out: &mut Vec<Output>) {
        if self.receipt_waiting {
            self.receipt_waiting = false;
            out.push(Output::Retracted);
        }
    }
}

/// Widens (or narrows) a line drawn `height` cells high to `width` cells.
fn stretch(img: &Bitmap, width: u8, height: u8) -> Bitmap {
    if width == height {
        return img.clone();
    }
    let (num, den) = (u32::from(width), u32::from(height));
    let w = (img.width() * num / den).min(CANVAS_DOTS);
    let mut out = Bitmap::new(w, img.height());
    for y in 0..img.height() {
        for x in 0..w {
            if img.get(x * den / num, y) {
                out.set(x, y);
            }
        }
    }
    out
}

/// Cuts the blank right margin off a drawn line, so that alignment uses the text's own width.
fn trim_right(img: &Bitmap) -> Bitmap {
    let used = (0..img.width())
        .rev()
        .find(|&x| (0..img.height()).any(|y| img.get(x, y)))
        .map_or(0, |x| x + 1);
    let mut out = Bitmap::new(used, img.height());
    for y in 0..img.height() {
        for x in 0..used {
            if img.get(x, y) {
                out.set(x, y);
            }
        }
    }
    out
}

/// A receipt image as a 1-bit PNG (black dots on white).
pub fn png(image: &Bitmap) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, image.width(), image.height().max(1));
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        // PNG grayscale 1 is white; the printer's 1 is a black dot.
        let mut data: Vec<u8> = image.data().iter().map(|b| !b).collect();
        if image.height() == 0 {
            data = vec![0xFF; image.row_bytes()];
        }
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&data)?;
    }
    Ok(bytes)
}
