//! The list of devices a key is bound to, as administrators give it: fingerprints on the
//! command line or the KMS-style CSV file (`Device Fingerprint,Description`).

use crate::Error;
use crate::keystore::BoundDevice;

/// Parses the KMS device CSV: header `Device Fingerprint,Description`, one device per line;
/// blank lines are skipped, a UTF-8 byte-order mark and CR LF line ends are accepted.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the line (never echoing its content).
pub fn parse_device_csv(text: &str) -> Result<Vec<BoundDevice>, Error> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let header = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches('\u{feff}');
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.first() != Some(&"Device Fingerprint") {
        return Err(Error::InvalidArgument(
            "the CSV header must be `Device Fingerprint,Description`".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (fp, desc) = line.split_once(',').unwrap_or((line, ""));
        let fp = fp.trim();
        check_fingerprint(fp).map_err(|_| {
            Error::InvalidArgument(format!("CSV line {}: invalid device fingerprint", i + 2))
        })?;
        out.push(BoundDevice {
            fingerprint: fp.to_owned(),
            description: desc.trim().trim_matches('"').to_owned(),
        });
    }
    Ok(out)
}

/// Checks that a device fingerprint is 1 to 256 printable ASCII characters.
///
/// # Errors
/// [`Error::InvalidArgument`].
pub fn check_fingerprint(fp: &str) -> Result<(), Error> {
    if fp.is_empty() || fp.len() > 256 || !fp.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::InvalidArgument(
            "a device fingerprint must be 1 to 256 printable ASCII characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_forms() {
        let d = parse_device_csv("\u{feff}Device Fingerprint,Description\r\nfp1,\"a, b\"\n\nfp2\n")
            .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].fingerprint, "fp2");
        assert!(parse_device_csv("").is_err());
        assert!(parse_device_csv("Device Fingerprint\nbad value\n").is_err());
        let err = parse_device_csv("Device Fingerprint\nsecret stuff\n")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(check_fingerprint(&"x".repeat(257)).is_err());
        assert!(check_fingerprint("wbfp1-abc").is_ok());
    }
}
