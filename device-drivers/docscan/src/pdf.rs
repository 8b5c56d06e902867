//! One PDF per material: each captured page a JPEG shown at its real size, embedded as it is
//! (DCTDecode), so the PDF costs no re-encoding and no quality.

use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref};

/// A page ready for the PDF.
#[derive(Clone, Debug)]
pub struct PdfPage<'a> {
    /// The page's JPEG.
    pub jpeg: &'a [u8],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Whether the JPEG is greyscale.
    pub grey: bool,
    /// Resolution, for the page's size in points.
    pub dpi: u32,
}

/// The pages, in order, as one PDF document.
pub fn document(pages: &[PdfPage<'_>]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let mut next = 3;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let ids: Vec<(Ref, Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc(), alloc())).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(page, _, _)| *page))
        .count(pages.len() as i32);
    for (i, (p, (page_id, image_id, content_id))) in pages.iter().zip(&ids).enumerate() {
        let name = format!("Im{i}");
        let points = |px: usize| px as f32 * 72.0 / p.dpi.max(1) as f32;
        let (w, h) = (points(p.width), points(p.height));
        let mut page = pdf.page(*page_id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, w, h))
            .contents(*content_id);
        page.resources()
            .x_objects()
            .pair(Name(name.as_bytes()), *image_id);
        page.finish();
        let mut image = pdf.image_xobject(*image_id, p.jpeg);
        image.filter(Filter::DctDecode);
        image.width(p.width as i32);
        image.height(p.height as i32);
        if p.grey {
            image.color_space().device_gray();
        } else {
            image.color_space().device_rgb();
        }
        image.bits_per_component(8);
        image.finish();
        let mut content = pdf_writer::Content::new();
        content.save_state();
        content.transform([w, 0.0, 0.0, h, 0.0, 0.0]);
        content.x_object(Name(name.as_bytes()));
        content.restore_state();
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jpeg::encode;
    use crate::warp::Page;

    #[test]
    fn every_page_is_in_the_pdf_at_its_size() {
        let page = Page {
            width: 248,
            height: 351,
            channels: 1,
            data: vec![200; 248 * 351],
        };
        let jpeg = encode(&page, 80).unwrap();
        let pages: Vec<PdfPage> = (0..3)
            .map(|_| PdfPage {
                jpeg: &jpeg,
                width: 248,
                height: 351,
                grey: true,
                dpi: 30,
            })
            .collect();
        let bytes = document(&pages);
        let doc = lopdf::Document::load_mem(&bytes).unwrap();
        let got = doc.get_pages();
        assert_eq!(got.len(), 3);
        for id in got.values() {
            let page = doc.get_object(*id).unwrap().as_dict().unwrap();
            let media = page.get(b"MediaBox").unwrap().as_array().unwrap();
            let w = media[2].as_float().unwrap();
            assert!((w - 248.0 * 72.0 / 30.0).abs() < 0.01);
        }
        // The JPEG is embedded byte for byte.
        assert!(bytes.windows(jpeg.len()).any(|w| w == jpeg.as_slice()));
    }
}
