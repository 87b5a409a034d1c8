//! systemd's `HibernateLocation` EFI variable, as efivarfs shows it: a
//! 4-byte attribute word, then a UTF-16LE string (NUL-terminated) holding
//! JSON: `{"uuid":"…","offset":N,"kernelVersion":"…","osReleaseId":"…",…}`.
//! systemd (254 and later) writes it when it hibernates; its initrd uses
//! it when the command line has no `resume=`, then removes it.

use crate::json::{self, Token};

/// The file efivarfs shows the variable as (systemd's vendor GUID).
pub const HIBERNATE_LOCATION: &str = "HibernateLocation-8cf3337e-9cf8-4ef3-9f84-7b2e2dd5b4f0";

/// What the variable says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// The swap area's UUID as written (`xxxxxxxx-xxxx-…`).
    pub uuid: &'a str,
    /// The page of its header (swap files).
    pub offset: u64,
    /// The kernel that hibernated (`uname -r`), if given.
    pub kernel: Option<&'a str>,
}

/// Turns the variable's content (attributes, UTF-16LE) into its text in
/// place: ASCII only (JSON of UUIDs, numbers and version strings), up to
/// the first NUL. `None` for anything else.
pub fn text(raw: &mut [u8]) -> Option<&str> {
    raw.get(3)?;
    let mut n = 0;
    while let (Some(&lo), Some(&hi)) = (raw.get(4 + 2 * n), raw.get(5 + 2 * n)) {
        if lo == 0 && hi == 0 {
            break;
        }
        if hi != 0 || !lo.is_ascii() {
            return None;
        }
        *raw.get_mut(n)? = lo;
        n += 1;
    }
    core::str::from_utf8(raw.get(..n)?).ok()
}

/// Reads the JSON text; `uuid` and `offset` are required, as in systemd.
pub fn parse<'a>(text: &'a str, toks: &'a mut [Token]) -> Option<Location<'a>> {
    let doc = json::parse(text, toks).ok()?;
    let root = doc.root();
    let uuid = root.get("uuid")?.str().filter(|u| crate::text::parse_uuid(u).is_some())?;
    Some(Location { uuid, offset: root.get("offset")?.u64()?, kernel: root.get("kernelVersion").and_then(|k| k.str()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As systemd writes it: attributes NV|BS|RT, UTF-16LE, a NUL.
    fn var(json: &str) -> Vec<u8> {
        let mut v = vec![7, 0, 0, 0];
        for u in json.encode_utf16().chain([0]) {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    #[test]
    fn systemd_hibernate_location() {
        let json = r#"{"uuid":"8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d","offset":34816,"kernelVersion":"6.1.0-56-amd64","osReleaseId":"debian","osReleaseVersionId":"12"}"#;
        let mut raw = var(json);
        let t = text(&mut raw).unwrap().to_string();
        assert_eq!(t, json);
        let mut toks = [Token::EMPTY; 64];
        let l = parse(&t, &mut toks).unwrap();
        assert_eq!(l, Location { uuid: "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", offset: 34816, kernel: Some("6.1.0-56-amd64") });
        let t = r#"{"uuid":"8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d","offset":0}"#;
        assert_eq!(parse(t, &mut toks).unwrap().kernel, None);
        for bad in [r#"{"offset":0}"#, r#"{"uuid":"nope","offset":0}"#, r#"{"uuid":"8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"}"#, "[", ""] {
            assert_eq!(parse(bad, &mut toks), None, "{bad}");
        }
        let mut raw = var("{\"uuid\":\"é\"}");
        assert_eq!(text(&mut raw), None, "not ASCII");
        assert_eq!(text(&mut [7, 0, 0]), None, "short");
        assert_eq!(text(&mut [7, 0, 0, 0]), Some(""));
    }
}
