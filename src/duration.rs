//! Durations a person writes on a command line (`--watch-interval 5m`, `--grace 10s`): parsed
//! with saturating arithmetic and bounded, so no input can overflow a clock or panic osenv.

use std::time::Duration;

/// The shortest duration a flag takes.
pub const MIN: Duration = Duration::from_secs(1);
/// The longest duration a flag takes.
pub const MAX: Duration = Duration::from_hours(7 * 24);

/// `30s`, `5m`, `1h`, `1h30m`, `500ms`, or a plain number of seconds; at least [`MIN`], at most
/// [`MAX`]. The error is a sentence naming the text.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = || format!("`{text}` is not a duration like 30s, 5m or 1h");
    let total = if let Ok(seconds) = text.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let mut total = Duration::ZERO;
        let mut rest = text;
        if rest.is_empty() {
            return Err(invalid());
        }
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
            let (number, tail) = rest.split_at(digits);
            // Too many digits for a u64 is more than MAX anyway.
            let number: u64 = if number.is_empty() {
                return Err(invalid());
            } else {
                number.parse().unwrap_or(u64::MAX)
            };
            let unit_len = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let part = match unit {
                "ms" => Duration::from_millis(number),
                "s" => Duration::from_secs(number),
                "m" => Duration::from_secs(number.saturating_mul(60)),
                "h" => Duration::from_secs(number.saturating_mul(3600)),
                _ => return Err(invalid()),
            };
            total = total.saturating_add(part);
            rest = tail;
        }
        total
    };
    if !(MIN..=MAX).contains(&total) {
        return Err(format!("`{text}` must be between 1s and 7 days"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_stay_in_bounds() {
        assert_eq!(parse("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_mins(90)));
        assert_eq!(parse("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse("soon").unwrap_err().contains("not a duration"));
        assert!(parse("").is_err());
        assert!(parse("5").is_ok());
        assert!(parse("500ms").unwrap_err().contains("between 1s and 7 days"));
        assert!(parse("8d").is_err());
        // Once a panic: "overflow when adding durations".
        assert!(parse("18446744073709551615s18446744073709551615s").is_err());
        assert!(parse("99999999999999999999999h").is_err());
        assert!(parse("18446744073709551615").is_err());
    }
}
