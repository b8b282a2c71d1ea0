//! File names as Linux has them (any bytes but `/` and NUL) and as the
//! namespace keeps them (Rust strings).
//!
//! A name that is valid UTF-8 is kept as it is. Each byte of a name that
//! is not (a Latin-1 name, PEP 383's surrogate-escaped names) is kept as
//! one character of the private-use range U+F780..=U+F7FF (`0xF700 +
//! byte`), and turned back into that byte whenever the name leaves the
//! namespace: to the guest (getdents, readlink, getcwd) and to the host
//! (hostfs). A name that really contains a character of that range has
//! its bytes escaped the same way, so the mapping is lossless both ways.

use std::borrow::Cow;

/// The first character standing for a raw byte (byte 0x80 is U+F780).
const BASE: u32 = 0xF700;

fn is_escape(c: char) -> bool {
    (BASE + 0x80..=BASE + 0xFF).contains(&(c as u32))
}

/// The namespace's name for the bytes `b`.
pub fn decode(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(is_escape) => Cow::Borrowed(s),
        _ => Cow::Owned(decode_slow(b)),
    }
}

fn decode_slow(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 8);
    let escape = |out: &mut String, bytes: &[u8]| {
        for &x in bytes {
            out.push(char::from_u32(BASE + x as u32).expect("a private-use character"));
        }
    };
    while !b.is_empty() {
        let (good, bad) = match std::str::from_utf8(b) {
            Ok(s) => (s, 0),
            Err(e) => {
                let n = e.valid_up_to();
                (std::str::from_utf8(&b[..n]).unwrap_or(""), e.error_len().unwrap_or(b.len() - n))
            }
        };
        for c in good.chars() {
            if is_escape(c) {
                let mut tmp = [0u8; 4];
                escape(&mut out, c.encode_utf8(&mut tmp).as_bytes());
            } else {
                out.push(c);
            }
        }
        let n = good.len();
        escape(&mut out, &b[n..n + bad]);
        b = &b[n + bad..];
    }
    out
}

/// The bytes of the namespace's name `s`.
pub fn encode(s: &str) -> Cow<'_, [u8]> {
    if !s.chars().any(is_escape) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if is_escape(c) {
            out.push((c as u32 - BASE) as u8);
        } else {
            let mut tmp = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        }
    }
    Cow::Owned(out)
}

/// The host's name for the namespace's name `s` (for hostfs).
pub fn host(s: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(encode(s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_names_stay_as_they_are() {
        assert!(matches!(decode("plain é 名".as_bytes()), Cow::Borrowed("plain é 名")));
        assert!(matches!(encode("plain é 名"), Cow::Borrowed(_)));
    }

    #[test]
    fn other_bytes_round_trip() {
        for b in [&b"@test_2_tmp-\xff"[..], b"\xe9t\xe9", b"a\xc3", b"\xef\x9e\x80 literal escape", b"\x80\xff"] {
            let s = decode(b);
            assert_eq!(&*encode(&s), b, "{s:?}");
        }
        assert_eq!(decode(b"\xff").chars().count(), 1);
    }
}
