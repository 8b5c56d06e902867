//! Kiosk time: milliseconds since the epoch, shown in China Standard Time (UTC+8, no daylight
//! saving), and 容缺 deadlines counted in working days.

use ::time::{Date, OffsetDateTime, UtcOffset, Weekday};

/// China Standard Time.
const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Now, ms since the epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The local date of an instant.
pub fn local_date(at_ms: i64) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(CST)
        .date()
}

/// `YYYY-MM-DD HH:MM` of an instant, local time, as receipts print it.
pub fn local_minute(at_ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(CST);
    format!("{} {:02}:{:02}", iso(t.date()), t.hour(), t.minute())
}

/// The local hour (0–23) of an instant.
pub fn local_hour(at_ms: i64) -> u8 {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(CST)
        .hour()
}

/// `YYMMDD` of an instant, for application numbers.
pub fn yymmdd(at_ms: i64) -> String {
    let d = local_date(at_ms);
    format!(
        "{:02}{:02}{:02}",
        d.year() % 100,
        u8::from(d.month()),
        d.day()
    )
}

/// `YYYY-MM-DD`.
pub fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Parses `YYYY-MM-DD` (with the card reader's date check, leap years included).
pub fn parse_iso(text: &str) -> Option<Date> {
    let d = idcard::Date::from_iso(text)?;
    Date::from_calendar_date(
        i32::from(d.year),
        ::time::Month::try_from(d.month).ok()?,
        d.day,
    )
    .ok()
}

/// The date `days` working days after `from`, counting Monday to Friday. Public holidays and
/// their make-up working days (调休) are published yearly and are not yet in the catalogue, so a
/// deadline across a holiday is off by those days. Counts above a year are taken as a year (the
/// catalogue refuses longer time limits).
pub fn add_working_days(from: Date, days: u32) -> Date {
    let mut date = from;
    let mut left = days.min(catalogue::MAX_DAYS);
    while left > 0 {
        date = date.next_day().unwrap_or(date);
        if !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    date
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::time::Month;

    #[test]
    fn working_days_skip_weekends_and_dates_are_local() {
        let friday = Date::from_calendar_date(2026, Month::November, 20).unwrap();
        assert_eq!(iso(add_working_days(friday, 1)), "2026-11-23");
        assert_eq!(iso(add_working_days(friday, 5)), "2026-11-27");
        assert_eq!(parse_iso("2026-11-27"), Some(add_working_days(friday, 5)));
        assert_eq!(parse_iso("2026-02-29"), None);
        assert_eq!(parse_iso("1111111111"), None);
        // 2026-11-21 16:30 UTC is already the 22nd in Beijing.
        let at = 1_795_278_600_000;
        assert_eq!(yymmdd(at), "261122");
        assert_eq!(local_minute(at), "2026-11-22 00:30");
    }
}
