//! Normalising identifier values and recognising placeholders.

/// Placeholder strings firmware vendors leave in DMI/SMBIOS fields (compared case-insensitively
/// after white space is collapsed).
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "to be filled by oem",
    "o.e.m.",
    "oem",
    "default string",
    "not specified",
    "not applicable",
    "not available",
    "none",
    "null",
    "n/a",
    "na",
    "unknown",
    "uninitialized",
    "system serial number",
    "base board serial number",
    "chassis serial number",
    "serial number",
    "123456789",
    "0123456789",
    "1234567890",
    // The "sequential" UUID of many boards whose vendor never set one.
    "03000200-0400-0500-0006-000700080009",
];

/// Trims, removes NULs and collapses runs of white space to one space.
pub(crate) fn clean(value: &str) -> String {
    value
        .split(|c: char| c.is_whitespace() || c == '\0')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a cleaned value says "no identifier here": empty, a known placeholder, or one
/// character repeated once separators are removed (all zeros, all `F`s, `xxxxxxxx`, ...).
pub(crate) fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDERS.contains(&lower.as_str()) {
        return true;
    }
    let mut significant = lower
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | '.' | ' ' | '_' | '{' | '}'));
    match significant.next() {
        None => true,
        Some(first) => significant.all(|c| c == first),
    }
}

/// Cleans a value and rejects placeholders.
pub(crate) fn meaningful(value: &str) -> Option<String> {
    let v = clean(value);
    if is_placeholder(&v) { None } else { Some(v) }
}

/// A UUID or GUID: cleaned, braces removed, lower case; placeholders rejected.
pub(crate) fn uuid(value: &str) -> Option<String> {
    let v = clean(value)
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase();
    if is_placeholder(&v) { None } else { Some(v) }
}

/// A GUID in its usual text form (`8-4-4-4-12` hex digits, braces allowed), lower case;
/// anything else (an error message, a blank line) and placeholders give `None`.
pub(crate) fn guid(value: &str) -> Option<String> {
    let v = uuid(value)?;
    let shaped = v.len() == 36
        && v.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    shaped.then_some(v)
}

/// A MAC address: six hex octets separated by `:` or `-`, returned lower case with `:`;
/// `None` for anything else and for the all-zero and broadcast addresses.
pub(crate) fn mac(value: &str) -> Option<String> {
    let v = clean(value).to_ascii_lowercase().replace('-', ":");
    let octets: Vec<&str> = v.split(':').collect();
    let well_formed = octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && o.chars().all(|c| c.is_ascii_hexdigit()));
    if !well_formed || is_placeholder(&v) {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            "",
            "   ",
            "To Be Filled By O.E.M.",
            "Default string",
            "00000000-0000-0000-0000-000000000000",
            "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
            "03000200-0400-0500-0006-000700080009",
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
            "0",
            "xxxxxxxx",
            "Not Specified",
        ] {
            assert!(is_placeholder(&clean(p)), "{p:?} should be a placeholder");
        }
        for v in [
            "4c4c4544-0042-3510-8052-b4c04f4e3732",
            "PF2XK9ZR",
            "02:fc:00:00:00:01",
        ] {
            assert!(!is_placeholder(v), "{v:?} is a real value");
        }
    }

    #[test]
    fn values_are_normalised() {
        assert_eq!(
            clean("  Intel(R)   Core(TM)\ti7 \0"),
            "Intel(R) Core(TM) i7"
        );
        assert_eq!(
            uuid("{4C4C4544-0042-3510-8052-B4C04F4E3732}\r\n").as_deref(),
            Some("4c4c4544-0042-3510-8052-b4c04f4e3732")
        );
        assert_eq!(
            mac("AA-BB-CC-00-11-22\n").as_deref(),
            Some("aa:bb:cc:00:11:22")
        );
        assert_eq!(
            guid("{5C2A0F3E-8D71-4F0B-9E36-1D2B7A0C4E11}").as_deref(),
            Some("5c2a0f3e-8d71-4f0b-9e36-1d2b7a0c4e11")
        );
        assert_eq!(guid("Get-CimInstance : Access denied"), None);
        assert_eq!(guid("5c2a0f3e8d714f0b9e361d2b7a0c4e11"), None);
        assert_eq!(mac("aa:bb:cc:00:11"), None);
        assert_eq!(mac("00:00:00:00:00:00"), None);
        assert_eq!(meaningful("  To Be Filled By O.E.M.  "), None);
        assert_eq!(meaningful(" ABC 123 ").as_deref(), Some("ABC 123"));
    }
}
