//! Which way up the page was laid: the quarter turn that makes its text read left to right,
//! top to bottom.
//!
//! A citizen lays a page sideways or upside down as often as not. The layout of printed
//! documents tells which way is up without reading a character, in Chinese as in Latin script:
//!
//! - **Text lines run along the page.** Cut into bands of rows with ink, a page read along its
//!   lines gives long, thin bands; read across them, the same ink falls into many short pieces
//!   (the columns of a character grid). Whichever axis gives the longer lines is the text's.
//! - **Lines share their left edge, not their right.** Paragraphs end with a short last line
//!   that starts at the margin; a form's cells, an ID card's fields and lists are written from
//!   the left. Two neighbouring lines starting together but ending apart vote "upright"; ending
//!   together but starting apart, "upside down". A first line's two-character indent
//!   (首行缩进) is too small to vote, and justified lines share both edges and do not vote.
//! - **A title stands at the top**, centred and larger than the text below it.
//!
//! The analysis runs on a small copy of the page at [`PX_PER_MM`] before the full warp, so the
//! page is warped once, already the right way up. When the layout says nothing clear (a
//! photograph, a blank page, a page of lines that all end together) the page is left as laid
//! and reported unsure.

use crate::picture::Plane;
use serde::{Deserialize, Serialize};

/// Resolution of the page copy the analysis reads.
pub const PX_PER_MM: f64 = 2.0;

/// Side of the blocks the paper's brightness is measured over (3 mm).
const BLOCK: usize = 6;

/// Ink this close to the page's edge is the edge itself, or the desk's shadow beside it.
const EDGE_MM: f64 = 4.0;
/// A gap this wide through a whole band of rows separates two columns, not two words.
const COLUMN_GAP_MM: f64 = 8.0;
/// Heights a line of text can have, from small print to a heading.
const LINE_MM: (f64, f64) = (1.4, 12.0);
/// Lines are set apart by leading of at least this share of their height.
const LEADING: f64 = 0.25;
/// A line is at least this many times as long as it is high.
const LINE_ASPECT: f64 = 2.5;
/// One axis must show this many times the other's (squared) line length to be the text's.
const AXIS_MARGIN: f64 = 2.0;
/// Votes needed to turn a page upside down or back.
const SURE_VOTES: i32 = 2;

/// The page's orientation as found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orientation {
    /// Quarter turns clockwise that bring the page as laid upright (0 to 3).
    pub turns: u8,
    /// Whether the layout was clear; when not, `turns` is 0 and the page stays as laid.
    pub sure: bool,
}

impl Orientation {
    /// The page as laid, for lack of evidence.
    pub const UNSURE: Orientation = Orientation {
        turns: 0,
        sure: false,
    };
}

/// A line of text found: its extent in pixels of the analysed copy.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TextLine {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl TextLine {
    fn height(&self) -> f64 {
        self.bottom - self.top
    }
    fn middle(&self) -> f64 {
        (self.top + self.bottom) / 2.0
    }
}

/// The orientation of `page`, a grey copy of the page as laid at [`PX_PER_MM`].
pub fn detect(page: &Plane) -> Orientation {
    if page.width < 16 || page.height < 16 {
        return Orientation::UNSURE;
    }
    let ink = ink_mask(page);
    let across = Mask {
        width: page.width,
        height: page.height,
        data: ink,
    };
    let down = across.turned_clockwise();
    let (lines_across, lines_down) = (text_lines(&across), text_lines(&down));
    // Along the text, lines are long; across it, the same ink falls into many short pieces
    // (the columns of a character grid): long pieces count for more.
    let length = |lines: &[TextLine]| {
        lines
            .iter()
            .map(|l| (l.right - l.left).powi(2))
            .sum::<f64>()
    };
    let (a, d) = (length(&lines_across), length(&lines_down));
    // Lines run across the page as laid (upright or upside down), or down it (sideways: the
    // page turned a quarter clockwise reads across).
    let (lines, base) = if a > AXIS_MARGIN * d {
        (lines_across, 0)
    } else if d > AXIS_MARGIN * a {
        (lines_down, 1)
    } else {
        return Orientation::UNSURE;
    };
    let votes = votes(&lines);
    tracing::debug!(across = a, down = d, votes, "page orientation");
    if votes >= SURE_VOTES {
        Orientation {
            turns: base,
            sure: true,
        }
    } else if votes <= -SURE_VOTES {
        Orientation {
            turns: base + 2,
            sure: true,
        }
    } else {
        Orientation::UNSURE
    }
}

/// A binary image, rows packed.
struct Mask {
    width: usize,
    height: usize,
    data: Vec<bool>,
}

impl Mask {
    /// The image turned a quarter clockwise: what was the left column is the top row.
    fn turned_clockwise(&self) -> Mask {
        let (w, h) = (self.height, self.width);
        let mut data = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                data[y * w + x] = self.data[(self.height - 1 - x) * self.width + y];
            }
        }
        Mask {
            width: w,
            height: h,
            data,
        }
    }
}

/// Ink: clearly darker than the paper around it (the brightest nearby, since ink only ever
/// darkens paper). Uneven light and shadow do not count; pale fills (a card's tint) do not.
/// The paper's brightness is the maximum over blocks of [`BLOCK`] pixels, then over each
/// block's neighbours: about a centimetre.
fn ink_mask(page: &Plane) -> Vec<bool> {
    let (w, h) = (page.width, page.height);
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut blocks = vec![0u8; bw * bh];
    for (y, row) in page.data.chunks(w).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            let b = &mut blocks[(y / BLOCK) * bw + x / BLOCK];
            *b = (*b).max(v);
        }
    }
    let mut paper = vec![0u8; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let mut m = 0;
            for ny in by.saturating_sub(1)..(by + 2).min(bh) {
                for nx in bx.saturating_sub(1)..(bx + 2).min(bw) {
                    m = m.max(blocks[ny * bw + nx]);
                }
            }
            paper[by * bw + bx] = m;
        }
    }
    page.data
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let p = paper[(i / w / BLOCK) * bw + (i % w) / BLOCK];
            u32::from(v) * 100 < u32::from(p) * 62
        })
        .collect()
}

/// The text lines running across `mask`: bands of rows with ink, separated by rows without
/// (the leading between lines), each cut where a wide gap runs through the whole band (between
/// columns, or between a field and a photo). A band of a line's height, set apart from its
/// neighbours by real leading, whose pieces are long and thin, is text. A photo, a table or a
/// seal makes a band too tall for a line; the columns of a character grid, read across the
/// text, make bands only a hairline apart.
fn text_lines(mask: &Mask) -> Vec<TextLine> {
    let (w, h) = (mask.width, mask.height);
    // The page's own edge (and the desk's shadow beside it) is not content.
    let edge = (EDGE_MM * PX_PER_MM) as usize;
    if w <= 2 * edge || h <= 2 * edge {
        return Vec::new();
    }
    let inked = |y: usize| {
        mask.data[y * w + edge..(y + 1) * w - edge]
            .iter()
            .any(|&v| v)
    };
    let mut bands = Vec::new();
    let mut y = edge;
    while y < h - edge {
        if inked(y) {
            let top = y;
            while y < h - edge && inked(y) {
                y += 1;
            }
            bands.push((top, y));
        } else {
            y += 1;
        }
    }
    let (min_h, max_h) = (LINE_MM.0 * PX_PER_MM, LINE_MM.1 * PX_PER_MM);
    let gap = (COLUMN_GAP_MM * PX_PER_MM) as usize;
    let mut lines = Vec::new();
    for (i, &(top, bottom)) in bands.iter().enumerate() {
        let height = (bottom - top) as f64;
        let above = i.checked_sub(1).map_or(top, |j| top - bands[j].1);
        let below = bands.get(i + 1).map_or(h - bottom, |b| b.0 - bottom);
        if height < min_h || height > max_h || (above.max(below) as f64) < LEADING * height {
            continue;
        }
        // Columns with ink anywhere in the band, cut at wide gaps.
        let mut start: Option<usize> = None;
        let mut last = 0;
        for x in edge..w - edge {
            if (top..bottom).any(|r| mask.data[r * w + x]) {
                if start.is_some() && x - last > gap {
                    push_line(&mut lines, start, last, top, bottom);
                    start = None;
                }
                start = start.or(Some(x));
                last = x;
            }
        }
        push_line(&mut lines, start, last, top, bottom);
    }
    lines
}

/// Keeps the piece of a band from `start` to `last` (columns) if it is long enough for a line.
fn push_line(
    lines: &mut Vec<TextLine>,
    start: Option<usize>,
    last: usize,
    top: usize,
    bottom: usize,
) {
    if let Some(left) = start {
        let line = TextLine {
            left: left as f64,
            right: (last + 1) as f64,
            top: top as f64,
            bottom: bottom as f64,
        };
        if line.right - line.left >= LINE_ASPECT * line.height() {
            lines.push(line);
        }
    }
}

/// Upright votes minus upside-down votes for lines running across.
fn votes(lines: &[TextLine]) -> i32 {
    let mut votes = 0;
    for (i, a) in lines.iter().enumerate() {
        for b in &lines[i + 1..] {
            // Neighbouring lines of one paragraph, list or column: the same type size, one or
            // two line pitches apart, side by side, one of them a full line.
            let (ha, hb) = (a.height(), b.height());
            let h = ha.max(hb);
            let pitch = (a.middle() - b.middle()).abs();
            let overlap = a.right.min(b.right) - a.left.max(b.left);
            let longest = (a.right - a.left).max(b.right - b.left);
            if ha.min(hb) < 0.7 * h
                || pitch < 0.8 * h
                || pitch > 3.0 * h
                || overlap <= 0.0
                || longest < 6.0 * h
            {
                continue;
            }
            let (dl, dr) = ((a.left - b.left).abs(), (a.right - b.right).abs());
            // A two-character indent is about two line heights: less than "apart".
            let (together, apart) = (0.6 * h, 2.6 * h);
            if dl < together && dr > apart {
                votes += 1;
            } else if dr < together && dl > apart {
                votes -= 1;
            }
        }
    }
    votes + title_votes(lines)
}

/// Two votes for a centred heading, clearly taller than the text, as the first line; two
/// against it as the last.
fn title_votes(lines: &[TextLine]) -> i32 {
    if lines.len() < 3 {
        return 0;
    }
    let mut heights: Vec<f64> = lines.iter().map(TextLine::height).collect();
    heights.sort_by(f64::total_cmp);
    let typical = heights[heights.len() / 2];
    let left = lines.iter().map(|l| l.left).fold(f64::MAX, f64::min);
    let right = lines.iter().map(|l| l.right).fold(f64::MIN, f64::max);
    let centre = (left + right) / 2.0;
    let heading = |l: &TextLine| {
        l.height() > 1.4 * typical
            && ((l.left + l.right) / 2.0 - centre).abs() < 0.05 * (right - left)
    };
    let first = lines.iter().min_by(|a, b| a.top.total_cmp(&b.top));
    let last = lines.iter().max_by(|a, b| a.bottom.total_cmp(&b.bottom));
    2 * (i32::from(first.is_some_and(heading)) - i32::from(last.is_some_and(heading)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of paragraphs drawn as blocks of ink: a centred heading, then lines that start
    /// at the margin (the first indented) and a short last line per paragraph.
    fn paragraphs() -> Plane {
        let (w, h) = (420, 594);
        let mut p = Plane::filled(w, h, 235);
        let mut bar = |x0: usize, x1: usize, y0: usize, y1: usize| {
            for y in y0..y1 {
                for x in x0..x1 {
                    // Characters: ink with a thin gap every 8 px.
                    if x % 8 != 7 {
                        p.data[y * w + x] = 40;
                    }
                }
            }
        };
        bar(130, 290, 40, 54);
        let mut y = 80;
        for para in 0..5 {
            for line in 0..4 {
                let x0 = if line == 0 { 56 } else { 40 };
                let x1 = if line == 3 { 120 + para * 30 } else { 380 };
                bar(x0, x1, y, y + 8);
                y += 14;
            }
            y += 8;
        }
        p
    }

    fn turned(p: &Plane, quarter_turns: usize) -> Plane {
        let mut out = p.clone();
        for _ in 0..quarter_turns {
            let (w, h) = (out.height, out.width);
            let mut data = vec![0; w * h];
            for y in 0..h {
                for x in 0..w {
                    data[y * w + x] = out.data[(out.height - 1 - x) * out.width + y];
                }
            }
            out = Plane {
                width: w,
                height: h,
                data,
            };
        }
        out
    }

    #[test]
    fn each_quarter_turn_is_found() {
        let page = paragraphs();
        for laid in 0..4 {
            // Laid turned `laid` quarters clockwise: turning it back takes the rest.
            let found = detect(&turned(&page, laid));
            assert_eq!(
                found,
                Orientation {
                    turns: ((4 - laid) % 4) as u8,
                    sure: true
                },
                "laid {laid} quarter turns"
            );
        }
    }

    #[test]
    fn a_page_without_text_stays_as_laid() {
        let mut blank = Plane::filled(300, 400, 230);
        assert_eq!(detect(&blank), Orientation::UNSURE);
        // A photograph: one large dark block.
        for y in 50..300 {
            for x in 40..260 {
                blank.data[y * 300 + x] = 60;
            }
        }
        assert_eq!(detect(&blank), Orientation::UNSURE);
    }
}
