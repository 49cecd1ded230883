//! What PyYAML's `SafeConstructor` (6.0, `constructor.py`) accepts for a scalar with an explicit
//! standard tag. `safe_load` constructs every node, so one `!!int` it cannot read fails the
//! whole config, and LiteLLM does not start: `!!int plain`, `!!bool maybe`, `!!timestamp
//! 2001-13-01`. Untagged scalars are resolved by their form and always construct.

use crate::python;

/// Why PyYAML cannot construct `value` under `tag` (a full `tag:yaml.org,2002:` name), if it
/// cannot.
pub(super) fn refusal(tag: &str, value: &str) -> Option<&'static str> {
    let ok = match tag.strip_prefix("tag:yaml.org,2002:")? {
        "bool" => matches!(
            value.to_lowercase().as_str(),
            "yes" | "no" | "true" | "false" | "on" | "off"
        ),
        "int" => int(value),
        "float" => float(value),
        "timestamp" => timestamp(value),
        _ => true,
    };
    (!ok).then_some(match tag {
        "tag:yaml.org,2002:bool" => "`!!bool` takes yes, no, true, false, on or off (any case)",
        "tag:yaml.org,2002:int" => "`!!int` takes an integer (decimal, 0b, 0x, 0-octal or sexagesimal)",
        "tag:yaml.org,2002:float" => "`!!float` takes a number, .inf or .nan",
        _ => "`!!timestamp` takes a valid date (YYYY-MM-DD), optionally with a time and zone",
    })
}

/// Collections whose standard tag asks for another shape: `!!map`/`!!set` on a list,
/// `!!seq` on a mapping, `!!omap`/`!!pairs` on anything but a list of one-entry mappings.
pub(super) fn collection_refusals(doc: &super::Document) -> Vec<crate::error::ConfigError> {
    use super::NodeKind;
    let mut errors = Vec::new();
    for id in 0..doc.len() {
        let Some(tag) = doc.tag(id).and_then(|t| t.strip_prefix("tag:yaml.org,2002:")) else {
            continue;
        };
        let kind = doc.node(id).kind;
        let wanted = match (tag, kind) {
            ("map" | "set", NodeKind::Mapping { .. }) | ("seq", NodeKind::Sequence { .. }) => None,
            ("map" | "set", _) => Some("a mapping"),
            ("seq", _) => Some("a list"),
            ("omap" | "pairs", NodeKind::Sequence { .. }) => doc
                .items(id)
                .unwrap_or_default()
                .iter()
                .any(|&item| {
                    let item = doc.resolve_alias(item);
                    !matches!(doc.node(item).kind, NodeKind::Mapping { .. })
                        || doc.entries(item).unwrap_or_default().len() != 1
                })
                .then_some("a list of one-entry mappings"),
            ("omap" | "pairs", _) => Some("a list of one-entry mappings"),
            _ => None,
        };
        if let Some(wanted) = wanted {
            errors.push(crate::error::ConfigError::Unloadable {
                location: doc.location(id),
                reason: format!("PyYAML cannot construct this value: `!!{tag}` takes {wanted}"),
            });
        } else if matches!(tag, "omap" | "pairs") {
            // Its items are not mappings to PyYAML (no merge, no `=` made a string): each key
            // is constructed as it resolves, and a merge or value key has no constructor.
            let keys = doc.items(id).unwrap_or_default().iter().filter_map(|&item| {
                let entry = *doc.entries(doc.resolve_alias(item))?.first()?;
                Some(entry.key)
            });
            for key in keys {
                let target = doc.resolve_alias(key);
                let by_form = match doc.node(target).kind {
                    NodeKind::Scalar { style } => super::parse::resolved_by_form(style, doc.tag(target)),
                    _ => false,
                };
                let value_key = by_form && doc.scalar(target).map(super::parse::form) == Some("=");
                if doc.is_merge_key(key) || value_key {
                    errors.push(crate::error::ConfigError::Unloadable {
                        location: doc.location(key),
                        reason: format!(
                            "PyYAML cannot construct this key: inside `!!{tag}` `{}` is a merge or value indicator, not a key; quote it",
                            doc.scalar(target).unwrap_or_default().trim_end()
                        ),
                    });
                }
            }
        }
    }
    errors
}

/// `construct_yaml_binary`: ASCII only (`.encode('ascii')`), then `base64.decodebytes`, which is
/// CPython's lenient `a2b_base64`: characters outside the alphabet are skipped, a complete pad
/// ends the input (whatever follows), and the data characters must end on a whole quad.
pub(super) fn binary(value: &str) -> bool {
    if !value.is_ascii() {
        return false;
    }
    let mut quad = 0;
    let mut pads = 0;
    for c in value.bytes() {
        if c == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    return true;
                }
            }
            continue;
        }
        if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'/') {
            continue;
        }
        pads = 0;
        quad = (quad + 1) % 4;
    }
    quad == 0
}

/// `value` less one leading sign, as PyYAML's `value[0] in '+-'` takes it; `None` for nothing
/// (its `value[0]` is an IndexError).
fn unsigned(value: &str) -> Option<&str> {
    let first = value.chars().next()?;
    Some(if first == '-' || first == '+' {
        &value[1..]
    } else {
        value
    })
}

/// `construct_yaml_int`: `_` removed, one sign taken, then `0`, `0b…`, `0x…`, `0…` (octal),
/// `a:b:c` (base 60, each part an `int()`), or an `int()`.
fn int(value: &str) -> bool {
    let value = value.replace('_', "");
    let Some(value) = unsigned(&value) else {
        return false;
    };
    if value == "0" {
        true
    } else if let Some(binary) = value.strip_prefix("0b") {
        python::int_in_base(binary, 2).is_some()
    } else if let Some(hex) = value.strip_prefix("0x") {
        python::int_in_base(hex, 16).is_some()
    } else if value.starts_with('0') {
        python::int_in_base(value, 8).is_some()
    } else if value.is_empty() {
        // `value[0]` of nothing: an IndexError.
        false
    } else if value.contains(':') {
        value.split(':').all(|part| python::int(part).is_some())
    } else {
        python::int(value).is_some()
    }
}

/// `construct_yaml_float`: `_` removed, lowercased, one sign taken, then `.inf`, `.nan`,
/// `a:b:c` (each part a `float()`), or a `float()`.
fn float(value: &str) -> bool {
    let value = value.replace('_', "").to_lowercase();
    let Some(value) = unsigned(&value) else {
        return false;
    };
    if value == ".inf" || value == ".nan" {
        true
    } else if value.contains(':') {
        value.split(':').all(python::float_parses)
    } else {
        python::float_parses(value)
    }
}

/// `construct_yaml_timestamp`: the timestamp pattern (ASCII digits; `$` also before a final
/// newline), then a real date, a time of day and a zone strictly within ±24 h, as `datetime`
/// checks them.
fn timestamp(value: &str) -> bool {
    stamp(value.strip_suffix('\n').unwrap_or(value)).is_some_and(|s| s.valid())
}

/// Whether PyYAML's implicit resolver reads the plain scalar `value` as a timestamp: the
/// pattern with a two-digit month and day, or with a time.
pub(super) fn implicit_timestamp(value: &str) -> bool {
    stamp(value).is_some_and(|s| s.time.is_some() || !s.short)
}

/// Why PyYAML cannot construct the plain scalar `value` as its implicit resolver reads it, if
/// it cannot: a timestamp that is no date or time (`2001-13-01`), or `0b`/`0x` followed only by
/// underscores (an int with no digits).
pub(super) fn implicit_refusal(value: &str) -> Option<&'static str> {
    let form = super::parse::form(value);
    // A `!`-tagged scalar ending in a line break resolves as the text before it, but is
    // constructed with it: `bool_values["yes\n"]` is no key, and `float(".inf\n")` is only
    // reached because `.inf` is compared first.
    if form.len() < value.len() {
        match super::parse::plain_meaning(form) {
            super::parse::Plain::Bool(_) => {
                return Some("it reads as a boolean followed by a line break, which PyYAML cannot construct");
            }
            super::parse::Plain::Number
                if matches!(
                    form.trim_start_matches(['-', '+']).to_lowercase().as_str(),
                    ".inf" | ".nan"
                ) =>
            {
                return Some("it reads as .inf or .nan followed by a line break, which PyYAML cannot construct");
            }
            _ => {}
        }
    }
    let value = form;
    if implicit_timestamp(value) {
        return refusal("tag:yaml.org,2002:timestamp", value).map(|_| {
            "it reads as a date (a timestamp), and is no valid date or time; quote it (without `!`) to keep it text"
        });
    }
    let body = value.strip_prefix(['-', '+']).unwrap_or(value);
    let rest = body.strip_prefix("0b").or_else(|| body.strip_prefix("0x"))?;
    (!rest.is_empty() && rest.bytes().all(|b| b == b'_'))
        .then_some("`0b`/`0x` with no digits reads as an int, and has none")
}

/// A timestamp as PyYAML's pattern splits it.
struct Stamp {
    year: u32,
    month: u32,
    day: u32,
    /// The month or the day has one digit.
    short: bool,
    /// Hour, minute, second and the zone's offset in minutes.
    time: Option<(u32, u32, u32, u32)>,
}

impl Stamp {
    fn valid(&self) -> bool {
        valid_date(self.year, self.month, self.day)
            && self
                .time
                .is_none_or(|(h, m, s, zone)| h <= 23 && m <= 59 && s <= 59 && zone < 24 * 60)
    }
}

/// `value` split by PyYAML's timestamp pattern, if it matches.
fn stamp(value: &str) -> Option<Stamp> {
    let mut at = Cursor { rest: value };
    let year = at.digits(4, 4)?;
    at.after('-')?;
    let month_from = at.rest.len();
    let month = at.digits(1, 2)?;
    let short_month = month_from - at.rest.len() == 1;
    at.after('-')?;
    let day_from = at.rest.len();
    let day = at.digits(1, 2)?;
    let short = short_month || day_from - at.rest.len() == 1;
    let mut stamp = Stamp {
        year,
        month,
        day,
        short,
        time: None,
    };
    if at.rest.is_empty() {
        return Some(stamp);
    }
    // (?:[Tt]|[ \t]+)
    if at.after('T').or_else(|| at.after('t')).is_none() && at.blanks() == 0 {
        return None;
    }
    let hour = at.digits(1, 2)?;
    at.after(':')?;
    let minute = at.digits(2, 2)?;
    at.after(':')?;
    let second = at.digits(2, 2)?;
    if at.after('.').is_some() {
        at.digits(0, usize::MAX);
    }
    let mut zone = 0;
    if !at.rest.is_empty() {
        at.blanks();
        if at.after('Z').is_none() {
            at.after('+').or_else(|| at.after('-'))?;
            let zone_hour = at.digits(1, 2)?;
            let zone_minute = if at.after(':').is_some() { at.digits(2, 2)? } else { 0 };
            zone = zone_hour * 60 + zone_minute;
        }
    }
    stamp.time = Some((hour, minute, second, zone));
    at.rest.is_empty().then_some(stamp)
}

/// A date `datetime.date` accepts.
fn valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day)
}

/// A position in a timestamp being matched.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    /// Between `min` and `max` ASCII digits (greedy), as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let n = self.rest.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        let (digits, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(
            digits
                .bytes()
                .fold(0u32, |v, d| v.saturating_mul(10).saturating_add(u32::from(d - b'0'))),
        )
    }

    /// `c` next, taken.
    fn after(&mut self, c: char) -> Option<()> {
        self.rest = self.rest.strip_prefix(c)?;
        Some(())
    }

    /// Spaces and tabs taken; how many.
    fn blanks(&mut self) -> usize {
        let n = self.rest.bytes().take_while(|b| matches!(b, b' ' | b'\t')).count();
        self.rest = &self.rest[n..];
        n
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn what_pyyaml_constructs() {
        let ok = |tag: &str, value: &str| refusal(&format!("tag:yaml.org,2002:{tag}"), value).is_none();
        for v in [
            "0", "-0", "+12", "1_000", "0b101", "0x1F", "017", "0o17", "1:30", "-1:0:0", " 1", "\u{661}",
        ] {
            assert!(ok("int", v), "!!int {v:?}");
        }
        for v in [
            "", "-", "plain", "0x", "08", "1.5", "1::2", "0b2", "true", "0X1f", "\u{1c}1",
        ] {
            assert!(!ok("int", v), "!!int {v:?}");
        }
        for v in ["1.5", "-.inf", ".NaN", "1e3", "inf", "1:30.5", "1_0.5", "1"] {
            assert!(ok("float", v), "!!float {v:?}");
        }
        for v in ["", "x", ".", "1e", "0x1", "1:", "+"] {
            assert!(!ok("float", v), "!!float {v:?}");
        }
        for v in ["yes", "No", "TRUE", "off"] {
            assert!(ok("bool", v), "!!bool {v:?}");
        }
        for v in ["y", "1", "", "truex"] {
            assert!(!ok("bool", v), "!!bool {v:?}");
        }
        for v in [
            "2001-12-14",
            "2000-2-29",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-14 21:59:43 Z",
            "2001-12-14T21:59:43.",
            "2001-12-14\n",
            "2001-12-14 1:00:00 +23:59",
        ] {
            assert!(ok("timestamp", v), "!!timestamp {v:?}");
        }
        for v in [
            "2001-13-01",
            "1900-2-29",
            "0000-01-01",
            "2001-12-14x",
            "2001-12-14 24:00:00",
            "2001-12-14 1:00:60",
            "2001-12-14 1:00:00 +24",
            "2001-12-14 1:00:00 +23:60",
            "01-12-14",
            "2001-12-14 ",
            "2001-12-14 1:00:00 Zx",
        ] {
            assert!(!ok("timestamp", v), "!!timestamp {v:?}");
        }
        assert!(ok("null", "anything") && ok("str", "x") && refusal("!local", "x").is_none());
    }

    /// As CPython 3.11's `base64.decodebytes` (after `.encode('ascii')`) takes them.
    #[test]
    fn binary_is_base64_decodebytes() {
        use super::binary;
        for v in [
            "", "QQ==", "QR==", "QQ===", "QUJD=", "QQ==x", "QUI=QUI=", "QU JD", "Q!Q==", "QUJD\n", "=",
        ] {
            assert!(binary(v), "{v:?}");
        }
        for v in ["Q", "QQ", "QQ=", "QUJDR", "é", "QUJD\u{e9}"] {
            assert!(!binary(v), "{v:?}");
        }
    }

    #[test]
    fn what_pyyaml_reads_as_a_timestamp_unless_tagged() {
        use super::{implicit_refusal, implicit_timestamp};
        for v in [
            "2001-12-14",
            "2001-1-1 1:00:00",
            "2001-12-14T21:59:43.10-05:00",
            "2001-13-01",
        ] {
            assert!(implicit_timestamp(v), "{v:?}");
        }
        for v in ["2001-1-14", "2001-12-1", "2001-12-14x", "20011-12-14", "2001-12-14 "] {
            assert!(!implicit_timestamp(v), "{v:?}");
        }
        for v in ["2001-13-01", "2001-02-30", "2001-12-14 25:00:00", "0b_", "-0x__"] {
            assert!(implicit_refusal(v).is_some(), "{v:?}");
        }
        for v in ["2001-12-14", "2001-1-32", "0b", "0x_1", "0_", "plain"] {
            assert!(implicit_refusal(v).is_none(), "{v:?}");
        }
    }
}
