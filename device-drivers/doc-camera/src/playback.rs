//! Recorded MJPEG streams: a file of JPEG frames one after another (what `ffmpeg -f mjpeg` and
//! `kioskctl sim camera --mjpeg` write), played back as a frame source. Recordings of real
//! cameras replay their quirks (padding after EOI, missing Huffman tables, a damaged frame)
//! in tests.

use crate::source::{CameraError, Frame, FrameSize, FrameSource, Mode, PixelFormat};
use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

/// Splits a stream of concatenated JPEGs into frames by walking their markers, so an `FF D9`
/// inside an embedded thumbnail or table does not end a frame early. Bytes before a frame's
/// start-of-image and damaged frames are skipped; never panics on any input.
pub fn split_mjpeg(data: &[u8]) -> Vec<Range<usize>> {
    let mut frames = Vec::new();
    let mut i = 0;
    while let Some(start) = find_soi(data, i) {
        match frame_end(data, start) {
            Some(end) => {
                frames.push(start..end);
                i = end;
            }
            None => i = start + 2,
        }
    }
    frames
}

fn find_soi(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(3)
        .position(|w| w == [0xFF, 0xD8, 0xFF])
        .map(|p| from + p)
}

/// The end (one past EOI) of the JPEG starting at `start`, if it is whole.
fn frame_end(data: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 2;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        while data.get(i) == Some(&0xFF) && data.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if data.get(i) != Some(&0xFF) {
            return None;
        }
        let marker = *data.get(i + 1)?;
        match marker {
            0xD9 => return Some(i + 2),
            0xD8 => return None, // a new image before this one ended: damaged
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
                if len < 2 {
                    return None;
                }
                i += 2 + len;
                if marker == 0xDA {
                    // Entropy-coded data: runs until a marker that is neither stuffing nor a
                    // restart.
                    loop {
                        let p = i + data.get(i..)?.iter().position(|&b| b == 0xFF)?;
                        match *data.get(p + 1)? {
                            0x00 | 0xD0..=0xD7 | 0xFF => i = p + 1,
                            _ => {
                                i = p;
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Writes frames as one MJPEG recording.
pub fn record<'a>(path: &Path, frames: impl IntoIterator<Item = &'a [u8]>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for f in frames {
        out.write_all(f)?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// A recording played back as a camera: the same frames in every mode, at a fixed rate.
#[derive(Debug)]
pub struct Playback {
    data: Vec<u8>,
    frames: Vec<Range<usize>>,
    size: FrameSize,
    next: usize,
    streaming: bool,
    looping: bool,
}

impl Playback {
    /// Loads a recording; `looping` starts again at the end instead of reporting it.
    pub fn open(path: &Path, looping: bool) -> Result<Playback, CameraError> {
        let data = std::fs::read(path)
            .map_err(|e| CameraError::Unplugged(format!("{}: {e}", path.display())))?;
        Self::from_bytes(data, looping)
    }

    /// A recording already in memory.
    pub fn from_bytes(data: Vec<u8>, looping: bool) -> Result<Playback, CameraError> {
        let frames = split_mjpeg(&data);
        let first = frames
            .first()
            .ok_or_else(|| CameraError::BadFrame("no whole JPEG in the recording".into()))?;
        let header = turbojpeg::read_header(&data[first.clone()])
            .map_err(|e| CameraError::BadFrame(e.to_string()))?;
        let size = FrameSize {
            format: PixelFormat::Mjpeg,
            width: u32::try_from(header.width).unwrap_or(0),
            height: u32::try_from(header.height).unwrap_or(0),
            fps: vec![15.0],
        };
        Ok(Playback {
            data,
            frames,
            size,
            next: 0,
            streaming: false,
            looping,
        })
    }

    /// How many whole frames the recording holds.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether it holds none (never true for an opened recording).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl FrameSource for Playback {
    fn sizes(&mut self) -> Result<Vec<FrameSize>, CameraError> {
        Ok(vec![self.size.clone()])
    }

    fn start(&mut self, _mode: Mode) -> Result<FrameSize, CameraError> {
        self.streaming = true;
        Ok(self.size.clone())
    }

    fn next_frame(&mut self, _timeout: Duration) -> Result<Frame, CameraError> {
        if !self.streaming {
            return Err(CameraError::NotStreaming);
        }
        if self.next >= self.frames.len() {
            if !self.looping {
                return Err(CameraError::EndOfStream);
            }
            self.next = 0;
        }
        let range = self.frames[self.next].clone();
        let sequence = self.next as u64;
        self.next += 1;
        Ok(Frame {
            jpeg: self.data[range].to_vec(),
            width: self.size.width,
            height: self.size.height,
            sequence,
            at: Duration::from_secs_f32(sequence as f32 / 15.0),
        })
    }

    fn stop(&mut self) {
        self.streaming = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(fill: u8) -> Vec<u8> {
        let pixels = vec![fill; 32 * 24 * 3];
        let image = turbojpeg::Image {
            pixels: pixels.as_slice(),
            width: 32,
            pitch: 96,
            height: 24,
            format: turbojpeg::PixelFormat::RGB,
        };
        turbojpeg::compress(image, 80, turbojpeg::Subsamp::Sub2x1)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn frames_split_whatever_lies_between_them() {
        let (a, b) = (jpeg(10), jpeg(200));
        let mut stream = b"garbage".to_vec();
        stream.extend_from_slice(&a);
        stream.extend_from_slice(&[0, 0, 0]); // UVC padding
        stream.extend_from_slice(&a[..a.len() / 2]); // a damaged frame
        stream.extend_from_slice(&b);
        let frames = split_mjpeg(&stream);
        let got: Vec<&[u8]> = frames.iter().map(|r| &stream[r.clone()]).collect();
        assert_eq!(got, vec![a.as_slice(), b.as_slice()]);
    }

    #[test]
    fn any_bytes_split_without_panic() {
        let mut x = 12345u64;
        for len in 0..400 {
            let data: Vec<u8> = (0..len)
                .map(|i| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if i % 7 == 0 { 0xFF } else { (x >> 56) as u8 }
                })
                .collect();
            for r in split_mjpeg(&data) {
                assert!(r.end <= data.len());
            }
        }
    }
}
