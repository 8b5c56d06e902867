//! An A4 document as the kiosk composes it (a form, a certificate, a result notice), before any
//! page layout.

/// One block of a document, laid out top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// The document's title, large and centred.
    Title(String),
    /// A section heading.
    Heading(String),
    /// A paragraph, wrapped to the page width.
    Paragraph(String),
    /// A form field: its label in a column on the left, its value wrapped beside it.
    Field {
        /// The label ("姓名 Name").
        label: String,
        /// The value.
        value: String,
    },
    /// A thin line across the page.
    Rule,
    /// Blank space, in millimetres.
    Space(u32),
}

/// A document: a title for the print queue and the PDF's metadata, and its blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    /// The job and PDF title.
    pub title: String,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
}

impl Document {
    /// An empty document called `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Adds a block.
    pub fn push(mut self, block: Block) -> Self {
        self.blocks.push(block);
        self
    }
}
