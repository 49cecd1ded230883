//! Durations a person writes on a command line (`--watch-interval 5m`, `--grace 10s`): parsed
//! with saturating arithmetic and bounded, so no input can overflow a clock or panic osenv.

use std::time::Duration;

/// The shortest duration a flag takes.
pub const MIN: Duration = Duration::from_secs(1);
/// The longest duration a flag takes.
pub const MAX: Duration = Duration::from_hours(7 * 24);

/// Why a text is not a duration a flag takes; the message names the text as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number of seconds or a run of number-unit parts.
    #[error("`{0}` is not a duration like 30s, 5m or 1h")]
    NotADuration(String),
    /// A duration, but below [`MIN`] or above [`MAX`].
    #[error("`{0}` must be between 1s and 7 days")]
    OutOfRange(String),
}

/// `30s`, `5m`, `1h`, `1h30m`, `500ms`, or a plain number of seconds; at least [`MIN`], at most
/// [`MAX`].
pub fn parse(written: &str) -> Result<Duration, DurationError> {
    let text = written.trim();
    let invalid = || DurationError::NotADuration(written.to_owned());
    let total = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is more than MAX anyway.
        Duration::from_secs(text.parse::<u64>().unwrap_or(u64::MAX))
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
        return Err(DurationError::OutOfRange(written.to_owned()));
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
        assert_eq!(parse("soon"), Err(DurationError::NotADuration("soon".into())));
        assert_eq!(parse(" "), Err(DurationError::NotADuration(" ".into())));
        assert_eq!(parse(" 90 "), Ok(Duration::from_secs(90)));
        assert!(matches!(
            parse("99999999999999999999999"),
            Err(DurationError::OutOfRange(_))
        ));
        assert_eq!(parse("5m30"), Err(DurationError::NotADuration("5m30".into())));
        assert_eq!(parse("m"), Err(DurationError::NotADuration("m".into())));
        assert!(parse("5").is_ok());
        assert_eq!(parse("500ms"), Err(DurationError::OutOfRange("500ms".into())));
        assert_eq!(parse("8d"), Err(DurationError::NotADuration("8d".into())));
        assert_eq!(parse("169h"), Err(DurationError::OutOfRange("169h".into())));
        assert_eq!(parse("168h"), Ok(MAX));
        // Once a panic: "overflow when adding durations".
        let huge = "18446744073709551615s18446744073709551615s";
        assert_eq!(parse(huge), Err(DurationError::OutOfRange(huge.into())));
        assert!(matches!(
            parse("99999999999999999999999h"),
            Err(DurationError::OutOfRange(_))
        ));
        assert!(matches!(
            parse("18446744073709551615"),
            Err(DurationError::OutOfRange(_))
        ));
        assert_eq!(
            DurationError::OutOfRange("9d".into()).to_string(),
            "`9d` must be between 1s and 7 days"
        );
    }
}
