//! A card holder's name and number as shown where others may see them: on the screen, a
//! receipt left in the lobby, a printed notice. One rule everywhere, so no copy shows more.

/// The name with all but its first and last characters hidden (张*丰, 李*).
pub fn name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, _] => format!("{first}*"),
        [first, middle @ .., last] => {
            format!("{first}{}{last}", "*".repeat(middle.len()))
        }
    }
}

/// The ID number with only its first four and last four characters shown; a number of eight
/// characters or fewer is hidden whole.
pub fn id_number(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    let n = chars.len();
    if n <= 8 {
        return "*".repeat(n);
    }
    chars[..4]
        .iter()
        .chain(std::iter::repeat_n(&'*', n - 8))
        .chain(&chars[n - 4..])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_their_first_and_last_characters() {
        assert_eq!(name("张三丰"), "张*丰");
        assert_eq!(name("李四"), "李*");
        assert_eq!(name("欧阳娜娜"), "欧**娜");
        assert_eq!(name("王"), "王");
        assert_eq!(name(" "), "");
    }

    #[test]
    fn numbers_keep_only_four_characters_at_each_end() {
        assert_eq!(id_number("11010519491231002X"), "1101**********002X");
        assert_eq!(id_number(" 11010519491231002X "), "1101**********002X");
        assert_eq!(id_number("1234567"), "*******");
        assert_eq!(id_number("123456789"), "1234*6789");
    }
}
