//! The audit log: hash chains in the store, one per service instance ([`wbstore::audit`]).

pub use wbstore::audit::*;

/// `value` as one line of JSON that every line splitter sees as one line: JSON escapes only
/// the C0 controls, so U+0085 (NEL), U+2028 and U+2029 — line ends to some splitters — and
/// DEL and the other C1 controls are written as `\u` escapes too (the same JSON value).
pub fn one_line(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}') {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn one_line_escapes_every_line_end() {
        let v = serde_json::json!({"KeyIds": ["a\u{2028}b\u{2029}c\u{85}d\u{7f}e\ng"]});
        let line = super::one_line(&v);
        assert_eq!(line, r#"{"KeyIds":["a\u2028b\u2029c\u0085d\u007fe\ng"]}"#);
        assert_eq!(line.lines().count(), 1);
        // The same value.
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).unwrap(), v);
    }
}
