//! Small text helpers shared by the parsers: strict number parsing (no
//! silent wrap-around), the way the kernel and sysfs print numbers.

/// Parses a decimal `u64`; `None` on empty input, a non-digit, or overflow.
pub fn parse_u64(s: &str) -> Option<u64> {
    parse_radix(s, 10)
}

/// Parses a hexadecimal `u64` without a `0x` prefix; `None` like [`parse_u64`].
pub fn parse_hex_u64(s: &str) -> Option<u64> {
    parse_radix(s, 16)
}

/// Parses a decimal `u32`; `None` on empty input, a non-digit, or overflow.
pub fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

/// Parses a decimal `i32` with an optional leading `-`; `None` like [`parse_u64`].
pub fn parse_i32(s: &str) -> Option<i32> {
    match s.strip_prefix('-') {
        Some(n) => parse_u64(n).and_then(|v| i64::try_from(v).ok()).and_then(|v| i32::try_from(-v).ok()),
        None => parse_u32(s).and_then(|v| i32::try_from(v).ok()),
    }
}

fn parse_radix(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for c in s.chars() {
        let d = c.to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Parses a sysfs `dev` value, `MAJ:MIN`, with optional trailing newline.
pub fn parse_maj_min(s: &str) -> Option<(u32, u32)> {
    let (maj, min) = s.trim_ascii_end().split_once(':')?;
    Some((parse_u32(maj)?, parse_u32(min)?))
}

/// Trims trailing NUL bytes (fixed-size on-disk text fields) and returns the
/// text before them, or `None` if it is not UTF-8.
pub fn fixed_str(bytes: &[u8]) -> Option<&str> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end]).ok()
}

/// Case-insensitive ASCII hex digit value.
fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// A UUID in its printed form, `0a1b2c3d-4e5f-6789-abcd-ef0123456789`
/// (the inverse of [`parse_uuid`]).
pub struct Uuid(pub [u8; 16]);

impl core::fmt::Display for Uuid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Parses a UUID written as 32 hex digits with optional dashes, in printed
/// byte order (the order ext4, swap and `blkid` print them).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut n = 0usize;
    let mut hi: Option<u8> = None;
    for b in s.bytes() {
        if b == b'-' {
            if hi.is_some() {
                return None;
            }
            continue;
        }
        let v = hex_val(b)?;
        match hi.take() {
            None => hi = Some(v),
            Some(h) => {
                *out.get_mut(n)? = (h << 4) | v;
                n += 1;
            }
        }
    }
    (n == 16 && hi.is_none()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_u64(""), None);
        assert_eq!(parse_u64("12a"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_hex_u64("803"), Some(0x803));
        assert_eq!(parse_hex_u64("fE"), Some(0xfe));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_maj_min("8:3\n"), Some((8, 3)));
        assert_eq!(parse_maj_min("8"), None);
    }

    #[test]
    fn uuids() {
        let u = parse_uuid("0123abcd-4567-89ef-0123-456789ABCDEF").unwrap();
        assert_eq!(u[0], 0x01);
        assert_eq!(u[15], 0xef);
        assert_eq!(parse_uuid("0123abcd456789ef0123456789abcdef"), Some(u));
        assert_eq!(parse_uuid("0123abcd-4567-89ef-0123-456789abcde"), None);
        assert_eq!(parse_uuid("0123abcd-4567-89ef-0123-456789abcdef0"), None);
        assert_eq!(parse_uuid("0123abcd-4567-89ef-0123-456789abcdeg"), None);
        assert_eq!(parse_uuid("0-123abcd4567-89ef-0123-456789abcdef"), None);
        let mut printed = heapless::String::<36>::new();
        core::fmt::Write::write_fmt(&mut printed, format_args!("{}", Uuid(u))).unwrap();
        assert_eq!(printed.as_str(), "0123abcd-4567-89ef-0123-456789abcdef");
        assert_eq!(parse_uuid(&printed), Some(u));
    }

    #[test]
    fn fixed() {
        assert_eq!(fixed_str(b"root\0\0\0"), Some("root"));
        assert_eq!(fixed_str(b"full"), Some("full"));
        assert_eq!(fixed_str(b"\xff\0"), None);
    }
}
