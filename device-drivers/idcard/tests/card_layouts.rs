//! The four text-block layouts, built here byte by byte at the offsets of devices.md §1.5 (not
//! with the crate's encoder), parsed, and compared with the cards the simulator serves.

mod common;

use common::{CARD_FILES, card};
use idcard::card::{CardDataError, encode_text, parse_text};
use idcard::{CardType, Date, Sex, ValidTo};

/// A blank block: all spaces (`20 00`).
fn blank() -> [u8; 256] {
    let mut b = [0u8; 256];
    for pair in b.chunks_exact_mut(2) {
        pair.copy_from_slice(&[0x20, 0x00]);
    }
    b
}

/// Writes `text` as UCS-2 LE at byte `offset`.
fn put(block: &mut [u8; 256], offset: usize, text: &str) {
    for (i, unit) in text.encode_utf16().enumerate() {
        block[offset + 2 * i..offset + 2 * i + 2].copy_from_slice(&unit.to_le_bytes());
    }
}

fn date(s: &str) -> Date {
    Date::from_iso(s).expect("test dates are valid")
}

/// Damage done to a valid block.
type Damage = Box<dyn Fn(&mut [u8; 256])>;

fn resident_block() -> [u8; 256] {
    let mut b = blank();
    put(&mut b, 0, "张秀英");
    put(&mut b, 30, "2");
    put(&mut b, 32, "01");
    put(&mut b, 36, "19491231");
    put(&mut b, 52, "北京市东城区景山前街4号");
    put(&mut b, 122, "11010519491231002X");
    put(&mut b, 158, "北京市公安局东城分局");
    put(&mut b, 188, "20150301");
    put(&mut b, 204, "长期");
    b
}

#[test]
fn resident_card() {
    let c = parse_text(&resident_block()).unwrap();
    assert_eq!(c.card_type, CardType::Resident);
    assert_eq!(c.name, "张秀英");
    assert_eq!(c.sex, Sex::Female);
    assert_eq!(c.nation_code.as_deref(), Some("01"));
    assert_eq!(c.nation.as_deref(), Some("汉"));
    assert_eq!(c.birth_date, date("1949-12-31"));
    assert_eq!(c.address.as_deref(), Some("北京市东城区景山前街4号"));
    assert_eq!(c.id_number, "11010519491231002X");
    assert!(c.id_number_valid);
    assert_eq!(c.issuer.as_deref(), Some("北京市公安局东城分局"));
    assert_eq!(c.valid_from, date("2015-03-01"));
    assert_eq!(c.valid_to, ValidTo::LongTerm);
    assert_eq!((c.name_en.as_ref(), c.nationality.as_ref()), (None, None));
    assert_eq!((c.pass_number.as_ref(), c.issue_count), (None, None));
}

#[test]
fn hmt_residence_permit() {
    let mut b = blank();
    put(&mut b, 0, "陈大文");
    put(&mut b, 30, "1");
    put(&mut b, 36, "19940823");
    put(&mut b, 52, "广东省深圳市福田区福华三路100号");
    put(&mut b, 122, "81000019940823003X");
    put(&mut b, 158, "深圳市公安局");
    put(&mut b, 188, "20210610");
    put(&mut b, 204, "20260609");
    put(&mut b, 220, "H60123456");
    put(&mut b, 238, "01");
    put(&mut b, 248, "J");
    let c = parse_text(&b).unwrap();
    assert_eq!(c.card_type, CardType::HmtResidencePermit);
    assert_eq!((c.name.as_str(), c.sex), ("陈大文", Sex::Male));
    assert_eq!((c.nation_code.as_ref(), c.nation.as_ref()), (None, None));
    assert_eq!(c.pass_number.as_deref(), Some("H60123456"));
    assert_eq!(c.issue_count, Some(1));
    assert_eq!(c.valid_to, ValidTo::Date(date("2026-06-09")));
    assert!(c.id_number_valid);
    assert!(encode_text(&card("hmt_residence_permit")).unwrap() == b);
}

#[test]
fn foreign_permanent_resident_card_2017() {
    let mut b = blank();
    put(&mut b, 0, "SMITH, JOHN ROBERT");
    put(&mut b, 120, "1");
    put(&mut b, 122, "USA310070051201");
    put(&mut b, 152, "USA");
    put(&mut b, 158, "史密斯");
    put(&mut b, 188, "20180115");
    put(&mut b, 204, "20280114");
    put(&mut b, 220, "19700512");
    put(&mut b, 236, "10");
    put(&mut b, 240, "1500");
    put(&mut b, 248, "I");
    let c = parse_text(&b).unwrap();
    assert_eq!(c.card_type, CardType::ForeignPermanent2017);
    assert_eq!(c.name_en.as_deref(), Some("SMITH, JOHN ROBERT"));
    assert_eq!(c.name, "史密斯");
    assert_eq!(c.sex, Sex::Male);
    assert_eq!(c.nationality.as_deref(), Some("USA"));
    assert_eq!(c.id_number, "USA310070051201");
    assert!(c.id_number_valid);
    assert_eq!(c.birth_date, date("1970-05-12"));
    assert_eq!(c.card_version.as_deref(), Some("10"));
    assert_eq!(c.authority_code.as_deref(), Some("1500"));
    assert_eq!(
        (c.address.as_ref(), c.issuer.as_ref(), c.nation.as_ref()),
        (None, None, None)
    );
    assert!(encode_text(&card("foreign_permanent_2017")).unwrap() == b);
}

#[test]
fn foreign_permanent_resident_card_2023_with_a_name_longer_than_its_first_field() {
    let name_en = "MACDONALD-WORTHINGTON, ALEXANDRA ELIZABETH";
    let mut b = blank();
    put(&mut b, 0, "麦克唐纳");
    put(&mut b, 30, "2");
    put(&mut b, 32, "00");
    put(&mut b, 36, "19850228");
    put(&mut b, 52, &name_en[..35]);
    put(&mut b, 122, "931000198502280088");
    put(&mut b, 188, "20240301");
    put(&mut b, 204, "20340228");
    put(&mut b, 220, &name_en[35..]);
    put(&mut b, 242, "CAN");
    put(&mut b, 248, "Y");
    let c = parse_text(&b).unwrap();
    assert_eq!(c.card_type, CardType::ForeignPermanent2023);
    assert_eq!(c.name, "麦克唐纳");
    assert_eq!(c.name_en.as_deref(), Some(name_en));
    assert_eq!(c.sex, Sex::Female);
    assert_eq!(c.renewal_count, Some(0));
    assert_eq!(c.nationality.as_deref(), Some("CAN"));
    assert_eq!(c.id_number, "931000198502280088");
    assert!(c.id_number_valid);
    assert!(encode_text(&card("foreign_permanent_2023")).unwrap() == b);
}

#[test]
fn the_sample_cards_survive_encoding_and_parsing_unchanged() {
    for name in CARD_FILES {
        let c = card(name);
        let mut parsed = parse_text(&encode_text(&c).unwrap()).unwrap();
        parsed.photo_wlt = c.photo_wlt.clone();
        assert!(parsed == c, "{name}");
    }
    assert!(encode_text(&card("resident")).unwrap() == resident_block());
}

#[test]
fn padding_with_nuls_is_trimmed_like_spaces() {
    let mut b = resident_block();
    for byte in &mut b[6..30] {
        *byte = 0;
    }
    assert_eq!(parse_text(&b).unwrap().name, "张秀英");
}

#[test]
fn a_wrong_check_digit_is_reported_not_rejected() {
    let mut b = resident_block();
    put(&mut b, 122, "110105194912310021");
    let c = parse_text(&b).unwrap();
    assert!(!c.id_number_valid);
}

#[test]
fn impossible_blocks_are_typed_errors() {
    let cases: Vec<(Damage, CardDataError)> = vec![
        (
            Box::new(|b| put(b, 248, "X")),
            CardDataError::UnknownCardType(0x58),
        ),
        (
            Box::new(|b| put(b, 36, "19490230")),
            CardDataError::BadDate("birth_date"),
        ),
        (
            Box::new(|b| put(b, 188, "20150332")),
            CardDataError::BadDate("valid_from"),
        ),
        (
            Box::new(|b| put(b, 204, "永久")),
            CardDataError::BadDate("valid_to"),
        ),
        (
            Box::new(|b| put(b, 32, "57")),
            CardDataError::BadCode("nation_code"),
        ),
        (Box::new(|b| put(b, 30, "3")), CardDataError::BadCode("sex")),
        (
            Box::new(|b| b[0..2].copy_from_slice(&0xD800u16.to_le_bytes())),
            CardDataError::BadText("name"),
        ),
    ];
    for (damage, expected) in cases {
        let mut b = resident_block();
        damage(&mut b);
        assert_eq!(parse_text(&b).unwrap_err(), expected);
    }
}

#[test]
fn a_rare_character_outside_the_bmp_is_kept() {
    // 𠮷 (U+20BB7) is a surrogate pair in UCS-2/UTF-16.
    let mut b = resident_block();
    put(&mut b, 0, "𠮷秀英");
    assert_eq!(parse_text(&b).unwrap().name, "𠮷秀英");
}

#[test]
fn values_too_long_for_their_field_are_refused_by_the_encoder() {
    let mut c = card("resident");
    c.name = "一二三四五六七八九十一二三四五六".into();
    assert_eq!(
        encode_text(&c).unwrap_err(),
        CardDataError::TooLong {
            field: "name",
            max: 15
        }
    );
}
