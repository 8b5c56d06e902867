//! What the A4 tests share: a sample document and poppler's tools to read PDFs back.

#![allow(dead_code)] // each test binary uses part of it

use a4_printer::{Block, Document};
use std::process::Command;

pub fn sample() -> Document {
    let mut doc = Document::new("新生儿出生一件事 办理结果通知书")
        .push(Block::Title("办理结果通知书 Result Notice".into()))
        .push(Block::Field {
            label: "申请编号 Application No.".into(),
            value: "2611 2100 4271".into(),
        })
        .push(Block::Field {
            label: "申请人 Applicant".into(),
            value: "𠮷秀英".into(),
        })
        .push(Block::Rule)
        .push(Block::Heading("办理事项 Services".into()))
        .push(Block::Paragraph(
            "出生医学证明、预防接种证、户口登记、城乡居民医保参保登记、社会保障卡申领，已全部办结。"
                .into(),
        ));
    for i in 1..=100 {
        doc = doc.push(Block::Paragraph(format!(
            "第{i}条 本通知书由政务服务自助终端打印，可凭申请编号在政务服务网查询真伪。"
        )));
    }
    doc
}

pub fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} (Debian poppler-utils): {e}"));
    assert!(out.status.success(), "{name}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}
