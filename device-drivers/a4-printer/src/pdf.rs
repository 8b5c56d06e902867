//! A [`Document`] laid out on A4 pages and written as PDF, with the CJK fonts embedded and
//! subsetted (only the glyphs used), so that any printer or viewer shows the same characters.
//!
//! Text wraps at any ideograph and between Latin words; closing punctuation never starts a
//! line (避头点). Noto Sans CJK SC covers rare name characters outside the BMP (𠮷), so one
//! face per weight is enough. Every page carries its number and the page count.

use crate::doc::{Block, Document};
use ab_glyph::{Font as _, FontRef};
use krilla::Document as PdfDocument;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A4 in points.
const PAGE: (f32, f32) = (595.28, 841.89);
/// One millimetre in points.
const MM: f32 = 72.0 / 25.4;
const MARGIN: f32 = 20.0 * MM;
/// Width of the label column of form fields.
const LABEL_COLUMN: f32 = 52.0 * MM;
const BODY: f32 = 11.0;
/// Line pitch as a multiple of the font size: generous, for older readers.
const LEADING: f32 = 1.6;

/// Characters that must not begin a line.
const CLOSING: &str = "，。、；：？！）」』】》〉…,.;:!?)]}%";

/// A PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// A font file is missing or not a font.
    #[error("font: {0}")]
    Font(#[from] io::Error),
    /// The PDF writer refused the document.
    #[error("PDF not written: {0}")]
    Write(String),
}

struct Face {
    data: Arc<Vec<u8>>,
    index: u32,
    pdf: Font,
}

/// The faces text is drawn with: regular and bold.
pub struct Fonts {
    faces: Vec<Face>,
}

const REGULAR: usize = 0;
const BOLD: usize = 1;

impl Fonts {
    /// Loads the regular and the bold face (font file, index in its collection).
    pub fn load(faces: [(&Path, u32); 2]) -> Result<Self, PdfError> {
        let faces = faces
            .iter()
            .map(|(path, index)| {
                let data = Arc::new(std::fs::read(path)?);
                let invalid = || {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} #{index} is not a usable font", path.display()),
                    )
                };
                FontRef::try_from_slice_and_index(&data, *index).map_err(|_| invalid())?;
                let pdf = Font::new(data.clone().into(), *index).ok_or_else(invalid)?;
                Ok(Face {
                    data,
                    index: *index,
                    pdf,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self { faces })
    }

    /// Debian's Noto Sans CJK SC (package `fonts-noto-cjk`), regular and bold.
    pub fn noto_cjk() -> Result<Self, PdfError> {
        let dir = Path::new("/usr/share/fonts/opentype/noto");
        Self::load([
            (&dir.join("NotoSansCJK-Regular.ttc"), 2),
            (&dir.join("NotoSansCJK-Bold.ttc"), 2),
        ])
    }
}

#[derive(Debug)]
struct Line {
    face: usize,
    x: f32,
    baseline: f32,
    size: f32,
    text: String,
}

#[derive(Debug, Default)]
struct Page {
    lines: Vec<Line>,
    rules: Vec<f32>,
}

/// Measures and places text.
struct Typesetter<'a> {
    metrics: Vec<FontRef<'a>>,
    pages: Vec<Page>,
    y: f32,
}

impl<'a> Typesetter<'a> {
    fn new(fonts: &'a Fonts) -> Self {
        let metrics = fonts
            .faces
            .iter()
            // Checked when the fonts were loaded.
            .filter_map(|f| FontRef::try_from_slice_and_index(&f.data, f.index).ok())
            .collect();
        Self {
            metrics,
            pages: vec![Page::default()],
            y: MARGIN,
        }
    }

    fn advance(&self, c: char, face: usize, size: f32) -> f32 {
        let Some(m) = self.metrics.get(face) else {
            return size;
        };
        let em = m.units_per_em().unwrap_or(1000.0);
        m.h_advance_unscaled(m.glyph_id(c)) / em * size
    }

    fn width(&self, text: &str, face: usize, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c, face, size)).sum()
    }

    /// Breaks `text` into lines no wider than `width`.
    fn wrap(&self, text: &str, face: usize, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            let mut used = 0.0;
            for token in tokens(paragraph) {
                let w = self.width(&token, face, size);
                if used + w > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line).trim_end().to_owned());
                    used = 0.0;
                }
                if line.is_empty() && token.trim().is_empty() {
                    continue;
                }
                if w > width {
                    // A word longer than the line (a long number or address): break anywhere.
                    for c in token.chars() {
                        let cw = self.advance(c, face, size);
                        if used + cw > width && !line.is_empty() {
                            lines.push(std::mem::take(&mut line));
                            used = 0.0;
                        }
                        line.push(c);
                        used += cw;
                    }
                } else {
                    line.push_str(&token);
                    used += w;
                }
            }
            lines.push(line.trim_end().to_owned());
        }
        lines
    }

    /// Makes room for a line of `size`; starts a new page if it would not fit. Returns its
    /// baseline.
    fn next_line(&mut self, size: f32) -> f32 {
        let pitch = size * LEADING;
        if self.y + pitch > PAGE.1 - MARGIN - 2.0 * BODY {
            self.pages.push(Page::default());
            self.y = MARGIN;
        }
        self.y += pitch;
        self.y - (pitch - size) / 2.0 - 0.12 * size
    }

    fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.pages.push(Page::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Places one line on the current page.
    fn place(&mut self, text: &str, face: usize, size: f32, x: f32, baseline: f32) {
        self.page().lines.push(Line {
            face,
            x,
            baseline,
            size,
            text: text.to_owned(),
        });
    }

    fn paragraph(&mut self, text: &str, face: usize, size: f32, centred: bool) {
        let width = PAGE.0 - 2.0 * MARGIN;
        for line in self.wrap(text, face, size, width) {
            let baseline = self.next_line(size);
            let x = if centred {
                MARGIN + (width - self.width(&line, face, size)).max(0.0) / 2.0
            } else {
                MARGIN
            };
            self.place(&line, face, size, x, baseline);
        }
    }

    fn field(&mut self, label: &str, value: &str) {
        let labels = self.wrap(label, BOLD, BODY, LABEL_COLUMN - 2.0 * MM);
        let values = self.wrap(value, REGULAR, BODY, PAGE.0 - 2.0 * MARGIN - LABEL_COLUMN);
        for i in 0..labels.len().max(values.len()) {
            let baseline = self.next_line(BODY);
            if let Some(l) = labels.get(i) {
                self.place(l, BOLD, BODY, MARGIN, baseline);
            }
            if let Some(v) = values.get(i) {
                self.place(v, REGULAR, BODY, MARGIN + LABEL_COLUMN, baseline);
            }
        }
    }

    fn block(&mut self, block: &Block) {
        match block {
            Block::Title(text) => {
                self.paragraph(text, BOLD, 20.0, true);
                self.y += 4.0 * MM;
            }
            Block::Heading(text) => {
                self.y += 3.0 * MM;
                self.paragraph(text, BOLD, 14.0, false);
            }
            Block::Paragraph(text) => self.paragraph(text, REGULAR, BODY, false),
            Block::Field { label, value } => self.field(label, value),
            Block::Rule => {
                self.y += 2.0 * MM;
                let y = self.y;
                self.page().rules.push(y);
                self.y += 2.0 * MM;
            }
            Block::Space(mm) => self.y += *mm as f32 * MM,
        }
    }
}

/// Splits text into units that stay on one line: an ideograph, a Latin word, or a space, with
/// any closing punctuation kept on the unit before it.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = false;
    for c in text.chars() {
        let latin = c.is_ascii_alphanumeric() || "-_/@'\"&+#=*".contains(c);
        match out.last_mut() {
            Some(last) if CLOSING.contains(c) => last.push(c),
            Some(last) if latin && word => last.push(c),
            _ => out.push(c.to_string()),
        }
        word = latin;
    }
    out
}

/// Lays out `document` and writes it as a PDF.
pub fn render(document: &Document, fonts: &Fonts) -> Result<Vec<u8>, PdfError> {
    let mut ts = Typesetter::new(fonts);
    for block in &document.blocks {
        ts.block(block);
    }
    let total = ts.pages.len();
    for i in 0..total {
        let footer = format!(
            "第 {} 页 / 共 {total} 页   Page {} of {total}",
            i + 1,
            i + 1
        );
        let x = (PAGE.0 - ts.width(&footer, REGULAR, 9.0)) / 2.0;
        ts.pages[i].lines.push(Line {
            face: REGULAR,
            x,
            baseline: PAGE.1 - MARGIN,
            size: 9.0,
            text: footer,
        });
    }

    let mut pdf = PdfDocument::new();
    pdf.set_metadata(
        Metadata::new()
            .title(document.title.clone())
            .language("zh-CN".to_owned())
            .creator("kiosk".to_owned()),
    );
    for page in &ts.pages {
        let settings =
            PageSettings::from_wh(PAGE.0, PAGE.1).ok_or(PdfError::Write("page size".into()))?;
        let mut p = pdf.start_page_with(settings);
        let mut surface = p.surface();
        for line in &page.lines {
            if let Some(face) = fonts.faces.get(line.face) {
                surface.draw_text(
                    Point::from_xy(line.x, line.baseline),
                    face.pdf.clone(),
                    line.size,
                    &line.text,
                    false,
                    TextDirection::Auto,
                );
            }
        }
        for &y in &page.rules {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(MARGIN, y, PAGE.0 - 2.0 * MARGIN, 0.6) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                surface.draw_path(&path);
            }
        }
        surface.finish();
        p.finish();
    }
    pdf.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_punctuation_stays_with_what_it_closes() {
        assert_eq!(
            tokens("你好，world! 再见。"),
            ["你", "好，", "world!", " ", "再", "见。"]
        );
    }
}
