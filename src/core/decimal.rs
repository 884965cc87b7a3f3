//! Numbers appended to text digit by digit. Fingerprints, report lines and timestamps are
//! written for every connection of a capture; `format!` per number costs several times more.

/// Appends `n` in decimal, zero-padded to at least `width` digits.
pub fn push_decimal(out: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = start.min(digits.len().saturating_sub(width));
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_padding() {
        for (n, width, want) in [
            (0, 1, "0"),
            (0, 0, "0"),
            (7, 3, "007"),
            (999, 3, "999"),
            (1234, 3, "1234"),
            (65535, 1, "65535"),
            (u64::MAX, 1, "18446744073709551615"),
            (5, 30, "00000000000000000005"),
        ] {
            let mut out = String::new();
            push_decimal(&mut out, n, width);
            assert_eq!(out, want, "{n} width {width}");
        }
    }
}
