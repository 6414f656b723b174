//! Simulated time: integer nanoseconds, never floats, so runs are exact and reproducible.

/// A point in simulated time or a span of it, in nanoseconds since the start of the run.
pub type Nanos = u64;

/// One microsecond in nanoseconds.
pub const US: Nanos = 1_000;
/// One millisecond in nanoseconds.
pub const MS: Nanos = 1_000_000;
/// One second in nanoseconds.
pub const SEC: Nanos = 1_000_000_000;
/// One minute in nanoseconds.
pub const MIN: Nanos = 60 * SEC;
/// One hour in nanoseconds.
pub const HOUR: Nanos = 60 * MIN;

/// Converts nanoseconds to (floating) seconds for reports; never used inside the model.
pub fn secs(ns: Nanos) -> f64 {
    ns as f64 / SEC as f64
}

/// Parses a duration string with units: `ns`, `us`, `ms`, `s`, `m`, `h`, combinable (`"1m30s"`),
/// with optional decimals (`"1.5s"`). A bare number is an error: units are mandatory.
pub fn parse_duration(text: &str) -> Result<Nanos, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration; write a number with a unit, e.g. \"10s\"".into());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return Err(format!(
                "\"{text}\" is not a duration: expected a number at position {}",
                start + 1
            ));
        }
        let number = &s[start..i];
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let scale: Nanos = match unit {
            "ns" => 1,
            "us" | "µs" => US,
            "ms" => MS,
            "s" => SEC,
            "m" => MIN,
            "h" => HOUR,
            "" => {
                return Err(format!(
                    "\"{text}\" has no unit; durations need one of ns, us, ms, s, m, h (e.g. \"{number}s\")"
                ))
            }
            other => {
                return Err(format!(
                    "\"{text}\" has unknown unit \"{other}\"; allowed units are ns, us, ms, s, m, h"
                ))
            }
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("\"{text}\" is not a duration: bad number \"{number}\""))?;
        let ns = value * scale as f64;
        if !ns.is_finite() || ns > 1e19 {
            return Err(format!("\"{text}\" is too large"));
        }
        // Finite, not negative and at most 1e19 (checked above): a whole number u128 holds exactly.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = ns.round() as u128;
        total += whole;
    }
    match Nanos::try_from(total) {
        Ok(ns) if ns <= u64::MAX / 2 => Ok(ns),
        _ => Err(format!("\"{text}\" is too large")),
    }
}

/// Formats nanoseconds compactly for people: `1.5s`, `2m30s`, `120ms`.
pub fn fmt_duration(ns: Nanos) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns < MS {
        return format!("{}us", ns / US);
    }
    if ns < SEC {
        return format!("{}ms", ns / MS);
    }
    if ns < MIN {
        let tenths = (ns + 50 * MS) / (100 * MS);
        return if tenths.is_multiple_of(10) {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let total_s = (ns + SEC / 2) / SEC;
    let (h, m, s) = (total_s / 3600, (total_s / 60) % 60, total_s % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 {
        out += &format!("{s}s");
    }
    out
}

/// A duration written exactly, in the file's own notation, so that it parses back to the same
/// nanoseconds (`"1ns"`, `"60400ms"`, `"1m0.4s"`, `"2h"`). For values the user wrote.
pub fn fmt_duration_exact(ns: Nanos) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns < SEC {
        return match ns {
            n if n % MS == 0 => format!("{}ms", n / MS),
            n if n % US == 0 => format!("{}us", n / US),
            n => format!("{n}ns"),
        };
    }
    let (h, m) = (ns / HOUR, (ns % HOUR) / MIN);
    let rest = ns % MIN;
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if rest > 0 {
        let (s, frac) = (rest / SEC, rest % SEC);
        if frac == 0 {
            out += &format!("{s}s");
        } else {
            let digits = format!("{frac:09}");
            out += &format!("{s}.{}s", digits.trim_end_matches('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_durations_parse_back_to_the_same_nanoseconds() {
        for ns in [
            1,
            999,
            1_000,
            1_500_000,
            SEC,
            60_400 * MS,
            1_250 * MS,
            90 * SEC,
            2 * HOUR + 1,
            4_294_967_296,
        ] {
            let text = fmt_duration_exact(ns);
            assert_eq!(parse_duration(&text).unwrap(), ns, "{text}");
        }
        assert_eq!(fmt_duration_exact(1), "1ns");
        assert_eq!(fmt_duration_exact(60_400 * MS), "1m0.4s");
    }

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("100ms").unwrap(), 100 * MS);
        assert_eq!(parse_duration("1m30s").unwrap(), 90 * SEC);
        assert_eq!(parse_duration("1.5s").unwrap(), 1500 * MS);
        assert_eq!(parse_duration("2h").unwrap(), 2 * HOUR);
        assert_eq!(parse_duration("250us").unwrap(), 250 * US);
    }

    #[test]
    fn rejects_unitless_and_unknown_units() {
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(fmt_duration(1500 * MS), "1.5s");
        assert_eq!(fmt_duration(150 * SEC), "2m30s");
        assert_eq!(fmt_duration(120 * MS), "120ms");
    }
}
