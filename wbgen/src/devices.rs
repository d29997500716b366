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
            Error::InvalidArgument(format!(
                "CSV line {}: not a device fingerprint: {FINGERPRINT_FORM}",
                i + 2
            ))
        })?;
        out.push(BoundDevice {
            fingerprint: fp.to_owned(),
            description: desc.trim().trim_matches('"').to_owned(),
        });
    }
    Ok(out)
}

/// What a device fingerprint is, for error messages.
pub const FINGERPRINT_FORM: &str = "a device fingerprint is `wbfp1-` and 40 lower-case hex digits, as `wbfingerprint` prints it on the device";

/// Checks that `fp` is a device fingerprint as the runtime computes it (`wbfp1-` and 40
/// lower-case hex digits): anything else could never match a device, and a typo would leave
/// the device unbound without a word.
///
/// # Errors
/// [`Error::InvalidArgument`], saying what a fingerprint looks like (never echoing `fp`).
pub fn check_fingerprint(fp: &str) -> Result<(), Error> {
    if fingerprint::Fingerprint::is_well_formed(fp) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "not a device fingerprint: {FINGERPRINT_FORM}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP1: &str = "wbfp1-0123456789abcdef0123456789abcdef01234567";
    const FP2: &str = "wbfp1-fedcba9876543210fedcba9876543210fedcba98";

    #[test]
    fn csv_forms() {
        let text = format!("\u{feff}Device Fingerprint,Description\r\n{FP1},\"a, b\"\n\n{FP2}\n");
        let d = parse_device_csv(&text).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].fingerprint.as_str(), d[0].description.as_str()),
            (FP1, "a, b")
        );
        assert_eq!(d[1].fingerprint, FP2);
        assert!(parse_device_csv("").is_err());
        let err = parse_device_csv(&format!("Device Fingerprint\n{FP1}\nsecret stuff\n"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(
            err.contains("CSV line 3") && err.contains("wbfp1-"),
            "{err}"
        );
    }

    /// Only what the runtime computes can ever match a device: a typo is refused.
    #[test]
    fn fingerprints_have_the_runtime_form() {
        assert!(check_fingerprint(FP1).is_ok());
        for bad in [
            "",
            "hello-not-a-fingerprint",
            "wbfp1-abc",
            &FP1.to_uppercase(),
            &format!("{FP1}0"),
            &FP1[..FP1.len() - 1],
            &FP1.replace("wbfp1", "wbfp2"),
            &format!(" {}", &FP1[1..]),
        ] {
            let err = check_fingerprint(bad).unwrap_err().to_string();
            assert!(err.contains("40 lower-case hex digits"), "{bad:?}: {err}");
        }
    }
}
