//! Code tables of the card (devices.md §1.6) and the ID number check (GB 11643, §1.7).

/// Nations by their GB 3304 code, as printed on the card (民族). 97 and 98 are the extra codes
/// for "other" and naturalised citizens of foreign origin.
const NATIONS: [(&str, &str); 58] = [
    ("01", "汉"),
    ("02", "蒙古"),
    ("03", "回"),
    ("04", "藏"),
    ("05", "维吾尔"),
    ("06", "苗"),
    ("07", "彝"),
    ("08", "壮"),
    ("09", "布依"),
    ("10", "朝鲜"),
    ("11", "满"),
    ("12", "侗"),
    ("13", "瑶"),
    ("14", "白"),
    ("15", "土家"),
    ("16", "哈尼"),
    ("17", "哈萨克"),
    ("18", "傣"),
    ("19", "黎"),
    ("20", "傈僳"),
    ("21", "佤"),
    ("22", "畲"),
    ("23", "高山"),
    ("24", "拉祜"),
    ("25", "水"),
    ("26", "东乡"),
    ("27", "纳西"),
    ("28", "景颇"),
    ("29", "柯尔克孜"),
    ("30", "土"),
    ("31", "达斡尔"),
    ("32", "仫佬"),
    ("33", "羌"),
    ("34", "布朗"),
    ("35", "撒拉"),
    ("36", "毛南"),
    ("37", "仡佬"),
    ("38", "锡伯"),
    ("39", "阿昌"),
    ("40", "普米"),
    ("41", "塔吉克"),
    ("42", "怒"),
    ("43", "乌孜别克"),
    ("44", "俄罗斯"),
    ("45", "鄂温克"),
    ("46", "德昂"),
    ("47", "保安"),
    ("48", "裕固"),
    ("49", "京"),
    ("50", "塔塔尔"),
    ("51", "独龙"),
    ("52", "鄂伦春"),
    ("53", "赫哲"),
    ("54", "门巴"),
    ("55", "珞巴"),
    ("56", "基诺"),
    ("97", "其他"),
    ("98", "外国血统中国籍人士"),
];

/// The nation's name for a two-digit code, if the code is one of the 58.
pub fn nation_name(code: &str) -> Option<&'static str> {
    NATIONS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// GB 11643 (ISO 7064 MOD 11-2) check of an 18-character citizen ID number: 17 digits and the
/// right check character (`0`–`9` or `X`). HK/Macau/Taiwan permits (81/82/83…) and the 2023
/// foreign permanent resident card (9…) use the same rule.
pub fn id_number_check_ok(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    bytes[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

/// The 15-character number of the 2017 foreign permanent resident card: three letters (the
/// nationality) and twelve digits. No check-digit rule for it is published, so only its form and
/// its agreement with the card's nationality field are checked.
pub fn foreign_2017_number_ok(number: &str, nationality: &str) -> bool {
    let b = number.as_bytes();
    b.len() == 15
        && b[..3].iter().all(u8::is_ascii_uppercase)
        && b[3..].iter().all(u8::is_ascii_digit)
        && number[..3] == *nationality
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_56_nations_and_the_two_extra_codes_are_known() {
        for n in 1..=56 {
            assert!(nation_name(&format!("{n:02}")).is_some(), "{n}");
        }
        assert_eq!(nation_name("01"), Some("汉"));
        assert_eq!(nation_name("56"), Some("基诺"));
        assert_eq!(nation_name("97"), Some("其他"));
        assert_eq!(nation_name("98"), Some("外国血统中国籍人士"));
        for bad in ["00", "57", "96", "99", "1", "", "0１"] {
            assert_eq!(nation_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn check_digit_of_the_standard_example_and_variants() {
        assert!(id_number_check_ok("11010519491231002X"));
        assert!(
            id_number_check_ok("11010519491231002x"),
            "a lower-case x is the same character"
        );
        assert!(!id_number_check_ok("110105194912310021"));
        assert!(!id_number_check_ok("11010519491231002"));
        assert!(!id_number_check_ok("1101051949123100２X"));
        assert!(!id_number_check_ok("A1010519491231002X"));
        // Every single-digit change of a valid number is caught.
        let valid = b"11010519491231002X";
        for i in 0..17 {
            for d in b'0'..=b'9' {
                if d == valid[i] {
                    continue;
                }
                let mut v = *valid;
                v[i] = d;
                assert!(!id_number_check_ok(std::str::from_utf8(&v).unwrap()));
            }
        }
    }

    #[test]
    fn foreign_2017_numbers_are_checked_for_form_and_nationality() {
        assert!(foreign_2017_number_ok("USA110079070101", "USA"));
        assert!(!foreign_2017_number_ok("USA110079070101", "CAN"));
        assert!(!foreign_2017_number_ok("US1110079070101", "US1"));
        assert!(!foreign_2017_number_ok("USA11007907010", "USA"));
    }
}
