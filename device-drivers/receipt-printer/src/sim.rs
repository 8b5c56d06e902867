//! A simulated receipt printer on a pseudo-terminal: the [`Interpreter`] behind a PTY, writing
//! every cut receipt to `DIR/receipt-NNNN.png` (576 dots wide, 203 dpi) and `.txt`, and answering
//! `DLE EOT` from its state, which the world changes while it runs.

use crate::interp::{Interpreter, Mechanics, Output, png};
use crate::raster::Rasterizer;
use serial_link::sim::{Responder, SimHandle, Transmit};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The printer's side: interprets, files receipts, answers.
pub struct SimPrinter {
    interp: Interpreter,
    out_dir: PathBuf,
    printed: u32,
    cut_at: Option<Instant>,
    /// The citizen takes each receipt this long after it is cut (never: `None`).
    take_after: Option<Duration>,
}

impl Responder for SimPrinter {
    fn receive(&mut self, bytes: &[u8], out: &mut Vec<Transmit>) {
        if let (Some(at), Some(after)) = (self.cut_at, self.take_after)
            && at.elapsed() >= after
        {
            self.interp.receipt_waiting = false;
        }
        let mut outputs = Vec::new();
        self.interp.push(bytes, &mut outputs);
        for output in outputs {
            match output {
                Output::Reply(bytes) => out.push(Transmit::Bytes(bytes)),
                Output::Cut(printed) => {
                    self.printed += 1;
                    self.cut_at = Some(Instant::now());
                    let stem = self.out_dir.join(format!("receipt-{:04}", self.printed));
                    let written = png(&printed.image)
                        .map_err(io::Error::other)
                        .and_then(|png| file(&stem.with_extension("png"), &png))
                        .and_then(|()| {
                            file(&stem.with_extension("txt"), printed.transcript.as_bytes())
                        });
                    if let Err(error) = written {
                        tracing::error!(%error, "simulated printer cannot file its receipt");
                    }
                }
                // The presenter's moves show in the interpreter's `receipt_waiting`.
                Output::Presented | Output::Retracted => {}
            }
        }
    }
}

/// Writes a whole file under a temporary name first, so that a watcher never reads half of it.
fn file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// A simulated printer running on a PTY.
pub struct PrinterSimulator {
    sim: SimHandle<SimPrinter>,
}

impl PrinterSimulator {
    /// Plugs a printer in at `link`, filing receipts in `out_dir` (created if missing).
    pub fn start(
        link: &Path,
        baud: u32,
        out_dir: &Path,
        rasterizer: Arc<dyn Rasterizer>,
    ) -> io::Result<Self> {
        std::fs::create_dir_all(out_dir)?;
        let printer = SimPrinter {
            interp: Interpreter::new(rasterizer),
            out_dir: out_dir.to_owned(),
            printed: 0,
            cut_at: None,
            take_after: None,
        };
        Ok(Self {
            sim: SimHandle::start(link, baud, printer)?,
        })
    }

    /// Sets what the world did to the printer (paper, cover, cutter).
    pub fn set_mechanics(&self, mechanics: Mechanics) {
        self.sim.device().interp.mechanics = mechanics;
    }

    /// What the world did to the printer.
    pub fn mechanics(&self) -> Mechanics {
        self.sim.device().interp.mechanics
    }

    /// From now on the citizen takes each receipt this long after it is cut (never: `None`).
    pub fn set_take_after(&self, after: Option<Duration>) {
        self.sim.device().take_after = after;
    }

    /// Leaves a receipt in the output, as one left there when the kiosk lost power.
    pub fn hold_receipt(&self) {
        self.sim.device().interp.receipt_waiting = true;
    }

    /// Whether a cut receipt waits in the output.
    pub fn receipt_waiting(&self) -> bool {
        self.sim.device().interp.receipt_waiting
    }

    /// Pulls the printer's cable out.
    pub fn unplug(&self) {
        self.sim.unplug();
    }

    /// Plugs it back in.
    pub fn replug(&self) {
        self.sim.replug();
    }

    /// The port the host opens.
    pub fn link(&self) -> &Path {
        self.sim.link()
    }

    /// Receipts cut so far.
    pub fn printed(&self) -> u32 {
        self.sim.device().printed
    }

    /// The citizen takes the receipt.
    pub fn take_receipt(&self) {
        self.sim.device().interp.receipt_waiting = false;
    }
}
