//! Durations as a scenario writes them: "500ms", "30s", "5m", "2h", "1d".

/// Parses "500ms", "30s", "5m", "2h", "1d" (or a bare integer of milliseconds) into ms.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("bad duration {s:?} (use \"500ms\", \"30s\", \"5m\", \"2h\", \"1d\")")
    })?;
    let mul = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        u => return Err(format!("bad duration unit {u:?} in {s:?} (ms, s, m, h, d)")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_errors() {
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration(" 2h "), Ok(7_200_000));
        assert_eq!(parse_duration("3min"), Ok(180_000));
        assert_eq!(parse_duration("42"), Ok(42));
        assert_eq!(
            parse_duration("5w"),
            Err("bad duration unit \"w\" in \"5w\" (ms, s, m, h, d)".into())
        );
        assert_eq!(
            parse_duration("soon"),
            Err("bad duration \"soon\" (use \"500ms\", \"30s\", \"5m\", \"2h\", \"1d\")".into())
        );
        assert_eq!(
            parse_duration("99999999999999999d"),
            Err("duration \"99999999999999999d\" is too large".into())
        );
    }
}
