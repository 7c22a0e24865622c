//! Identifiers as KV keys.
//!
//! Report and situation ids may hold `:` (not allowed in a KV key) and `.` (a token separator in
//! the key's subject, so `a..b` would be invalid). [`segment`] escapes every other character as
//! `=XX`, which keeps ordinary ids readable (`UKR-2026-01` stays as it is) and is reversible.

/// Escapes `id` into one KV key token: `[A-Za-z0-9_-]` stay, every other byte becomes `=XX`.
pub fn segment(id: &str) -> String {
    let mut key = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            key.push(byte as char);
        } else {
            key.push_str(&format!("={byte:02X}"));
        }
    }
    if key.is_empty() {
        key.push_str("=00");
    }
    key
}

/// Reverses [`segment`]; `None` when `key` was not made by it.
pub fn unsegment(key: &str) -> Option<String> {
    if key == "=00" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(key.len());
    let mut rest = key.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'=' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ids_stay_readable() {
        assert_eq!(segment("UKR-2026_01"), "UKR-2026_01");
    }

    #[test]
    fn dots_and_colons_are_escaped_and_reversible() {
        for id in ["a..b", "dtm:round.12", ".", "", "=", "é"] {
            let key = segment(id);
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-=".contains(&b)),
                "{key}"
            );
            assert_eq!(unsegment(&key).as_deref(), Some(id));
        }
    }
}
