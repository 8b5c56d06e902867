//! The application receipt (受理回执) the citizen takes home: in Chinese with English below,
//! the application number large enough to read without glasses, the promised time limit, what
//! is still missing and by when, and a QR code that opens the application's progress page.
//!
//! A receipt may be lost in the lobby, so it never shows a whole name or ID number.

use crate::doc::{Align, Barcode, Block, Receipt, Style};

/// A material accepted as missing (容缺), to be handed in later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingMaterial {
    /// Its name in Chinese.
    pub name_zh: String,
    /// Its name in English.
    pub name_en: String,
    /// The last day to hand it in (`YYYY-MM-DD`).
    pub deadline: String,
}

/// What an application receipt says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationReceipt {
    /// Who issues it (the service centre), in Chinese.
    pub office: String,
    /// The application number as a person reads it out.
    pub number: String,
    /// The service item or bundle, in Chinese.
    pub item_zh: String,
    /// The service item or bundle, in English.
    pub item_en: String,
    /// The applicant's name (printed masked).
    pub applicant: String,
    /// The applicant's ID number (printed masked).
    pub id_number: String,
    /// When it was submitted (`YYYY-MM-DD HH:MM`).
    pub submitted: String,
    /// The promised time limit, in working days.
    pub time_limit_days: u32,
    /// How the result is delivered, in Chinese.
    pub delivery_zh: String,
    /// How the result is delivered, in English.
    pub delivery_en: String,
    /// Materials still to be handed in.
    pub missing: Vec<MissingMaterial>,
    /// The progress page the QR code opens.
    pub progress_url: String,
    /// The service hotline.
    pub hotline: String,
    /// The kiosk that took the application.
    pub kiosk: String,
}

/// The largest character size, up to triple, at which `text` still fits on one line of
/// `chars_per_line` half-width characters.
fn size_to_fit(text: &str, chars_per_line: usize) -> u8 {
    let columns: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    (1..=3u8)
        .rev()
        .find(|&n| columns * usize::from(n) <= chars_per_line)
        .unwrap_or(1)
}

/// The applicant's name and ID number are wiped from memory with the receipt: the printed
/// copy is masked, and nothing of the citizen outlives the print.
impl Drop for ApplicationReceipt {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.applicant.zeroize();
        self.id_number.zeroize();
    }
}

impl ApplicationReceipt {
    /// A specimen with made-up data (and a rare character in the name), for test prints and
    /// for people to look at.
    pub fn specimen() -> Self {
        Self {
            office: "政务服务中心 自助服务 · 样张 SPECIMEN".into(),
            number: "2611 2100 4271".into(),
            item_zh: "港澳通行证再次签注".into(),
            item_en: "Re-endorsement for travel to Hong Kong and Macao".into(),
            applicant: "𠮷秀英".into(),
            id_number: "11010519491231002X".into(),
            submitted: "2026-11-21 23:45".into(),
            time_limit_days: 5,
            delivery_zh: "邮寄到家".into(),
            delivery_en: "by post".into(),
            missing: vec![MissingMaterial {
                name_zh: "户口簿首页及本人页".into(),
                name_en: "Household register, first and own page".into(),
                deadline: "2026-12-05".into(),
            }],
            progress_url: "https://zwfw.example.gov.cn/p/261121004271".into(),
            hotline: "12345".into(),
            kiosk: "ZZ-0042".into(),
        }
    }

    /// The receipt, laid out for a printer of `chars_per_line` half-width characters.
    pub fn layout(&self, chars_per_line: usize) -> Receipt {
        let plain = Style::default();
        let centred = Style {
            align: Align::Center,
            ..plain
        };
        let label = Style {
            bold: true,
            ..plain
        };
        let n = size_to_fit(&self.number, chars_per_line);
        let number = Style {
            width: n,
            height: n,
            bold: true,
            align: Align::Center,
        };
        let mut r = Receipt::new()
            .text(
                &self.office,
                Style {
                    bold: true,
                    ..centred
                },
            )
            .text("受理回执", Style::large())
            .text("Application Receipt", centred)
            .push(Block::Rule)
            .text("申请编号 Application No.", centred)
            .text(&self.number, number)
            .push(Block::Rule)
            .text("办理事项 Service", label)
            .text(&self.item_zh, plain)
            .text(&self.item_en, plain)
            // Apart: a rare character in a name turns its whole line into an image.
            .text(
                format!("申请人 Applicant: {}", idcard::mask::name(&self.applicant)),
                plain,
            )
            .text(
                format!(
                    "证件号码 ID No.: {}",
                    idcard::mask::id_number(&self.id_number)
                ),
                plain,
            )
            .text(format!("提交时间 Submitted: {}", self.submitted), plain)
            .text(
                format!(
                    "承诺时限 Time limit: {} 个工作日 / {} working days",
                    self.time_limit_days, self.time_limit_days
                ),
                plain,
            )
            .text(
                format!(
                    "结果领取 Result: {} / {}",
                    self.delivery_zh, self.delivery_en
                ),
                plain,
            );
        if !self.missing.is_empty() {
            r = r
                .push(Block::Rule)
                .text("尚缺材料（容缺受理）Materials still due", label);
            for (i, m) in self.missing.iter().enumerate() {
                r = r.text(
                    format!(
                        "{}. {}\n   {}\n   请于 {} 前补交 Hand in by {}",
                        i + 1,
                        m.name_zh,
                        m.name_en,
                        m.deadline,
                        m.deadline
                    ),
                    plain,
                );
            }
        }
        r.push(Block::Rule)
            .push(Block::Qr {
                data: self.progress_url.clone(),
                module: 6,
            })
            .text("微信或浏览器扫码查询办理进度", centred)
            .text("Scan to follow your application", centred)
            .push(Block::Barcode(
                Barcode::Code128,
                self.number.chars().filter(|c| !c.is_whitespace()).collect(),
            ))
            .text(
                format!(
                    "咨询电话 Hotline {}  终端 Kiosk {}",
                    self.hotline, self.kiosk
                ),
                centred,
            )
            .text("请妥善保管本回执 Please keep this receipt", centred)
            .push(Block::Feed(2))
            .push(Block::Cut { partial: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_shows_neither_the_whole_name_nor_the_whole_id_number() {
        let receipt = ApplicationReceipt::specimen();
        let text: String = receipt
            .layout(48)
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Text(t, _) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert!(!text.contains(&receipt.applicant), "{text}");
        assert!(!text.contains(&receipt.id_number), "{text}");
        assert!(text.contains("𠮷*英"), "{text}");
        assert!(text.contains("1101**********002X"), "{text}");
    }

    #[test]
    fn the_number_is_as_large_as_the_paper_allows() {
        assert_eq!(size_to_fit("2611 2100 4271", 48), 3);
        assert_eq!(size_to_fit("2611-2100-4271-0001", 48), 2);
        assert_eq!(
            size_to_fit("受理编号受理编号受理编号受理编号受理编号受理编号受理", 48),
            1
        );
    }
}
