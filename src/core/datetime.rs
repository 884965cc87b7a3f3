//! RFC 3339 timestamps ⇄ Unix seconds, UTC only: enough for certificate validity and
//! `--at`, without a calendar crate.

use crate::core::decimal::push_decimal;

/// Unix seconds as RFC 3339 UTC (`2026-11-22T00:00:00Z`).
pub fn rfc3339(unix: i64) -> String {
    let mut out = String::with_capacity(20);
    push_rfc3339(&mut out, unix);
    out
}

/// [`rfc3339`] appended to `out` (a pcap report writes a time for every connection).
pub fn push_rfc3339(out: &mut String, unix: i64) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    if !(0..=9999).contains(&y) {
        use std::fmt::Write;
        // Writing to a String cannot fail.
        _ = write!(out, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z");
        return;
    }
    for (value, width, after) in [
        (y, 4, '-'),
        (i64::from(m), 2, '-'),
        (i64::from(d), 2, 'T'),
        (hh, 2, ':'),
        (mm, 2, ':'),
        (ss, 2, 'Z'),
    ] {
        // All in range and not negative here: the year was checked above.
        push_decimal(out, value as u64, width);
        out.push(after);
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or with a `±HH:MM` offset (fractions ignored).
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not an RFC 3339 time (e.g. 2026-11-22T08:00:00Z)");
    let s = s.trim();
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.splitn(3, '-');
    let (y, m, d) = (
        dp.next()
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(bad)?,
        dp.next()
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(bad)?,
        dp.next()
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(bad)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, o) = t.split_at(i);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':').ok_or_else(bad)?;
            let oh: i64 = oh.parse().map_err(|_| bad())?;
            let om: i64 = om.parse().map_err(|_| bad())?;
            (c, sign * (oh * 3600 + om * 60))
        } else {
            return Err(bad());
        };
        let clock = clock.split('.').next().unwrap_or(clock);
        let mut cp = clock.splitn(3, ':');
        let h: i64 = cp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let mi: i64 = cp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let se: i64 = cp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        if h > 23 || mi > 59 || se > 60 {
            return Err(bad());
        }
        secs += h * 3600 + mi * 60 + se - offset;
    }
    Ok(secs)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_agree() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        for t in [-86_401, 0, 951_782_400, 1_795_305_723, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)).unwrap(), t);
        }
        assert_eq!(parse_rfc3339("2026-11-22").unwrap(), 1_795_305_600);
        assert_eq!(
            parse_rfc3339("2026-11-22T02:00:00+02:00").unwrap(),
            1_795_305_600
        );
        assert_eq!(
            parse_rfc3339("2026-11-21T23:00:00.5-01:00").unwrap(),
            1_795_305_600
        );
        // Written as `format!` writes it, in and out of the 4-digit years.
        for t in (-70_000_000_000..300_000_000_000_i64).step_by(7_777_777_777) {
            let (y, m, d) = civil_from_days(t.div_euclid(86_400));
            let secs = t.rem_euclid(86_400);
            let want = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            );
            assert_eq!(rfc3339(t), want);
        }
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2026-13-01").is_err());
    }
}
