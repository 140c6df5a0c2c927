//! Where a gate run that fails puts its failing rows: the `quarantine`
//! dataset option, a local folder or an `s3://bucket/prefix`. This module
//! reads the option; [`super::confine`] decides whether the server may
//! write there.

use std::path::PathBuf;

use super::{SourceError, objects};

/// A parsed `quarantine` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quarantine {
    /// `s3://bucket/prefix`: objects under `prefix` (no leading or
    /// trailing `/`; empty for the bucket's root).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
    /// A local folder (created when first written).
    Local(PathBuf),
}

/// Reads the option; the error says what a quarantine location may be.
pub fn parse(text: &str) -> Result<Quarantine, SourceError> {
    let bad = |why: &str| {
        SourceError::Config(format!(
            "quarantine: {why}; it must be a local folder or an s3://bucket/prefix, got `{text}`"
        ))
    };
    if text.trim().is_empty() || text.trim() != text {
        return Err(bad("empty or padded with spaces"));
    }
    if text.contains(['*', '?', '[', '#']) {
        return Err(bad("no glob or URL query characters"));
    }
    if let Some((bucket, key)) = objects::split_s3(text) {
        let prefix = key.trim_matches('/').to_string();
        if !prefix.is_empty()
            && prefix
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(bad("no empty, `.` or `..` segments in the prefix"));
        }
        return Ok(Quarantine::S3 { bucket, prefix });
    }
    if text.contains("://") {
        return Err(bad("only s3:// URLs are written to"));
    }
    Ok(Quarantine::Local(PathBuf::from(text)))
}

/// A name as one path segment: letters, digits, `_`, `-` and inner `.`
/// kept, every other byte `%XX`, so a stage or dataset name never climbs
/// out of its folder.
pub fn segment(name: &str) -> String {
    let mut out = String::new();
    for (i, b) in name.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_s3_prefixes_or_folders() {
        assert_eq!(
            parse("s3://q/bad/rows/").expect("valid"),
            Quarantine::S3 {
                bucket: "q".into(),
                prefix: "bad/rows".into()
            }
        );
        assert_eq!(
            parse("/lake/quarantine").expect("valid"),
            Quarantine::Local("/lake/quarantine".into())
        );
        for bad in [
            "",
            " /x",
            "s3://q/a/../b",
            "s3://",
            "https://host/x",
            "/x/*",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_never_climb() {
        assert_eq!(segment("landing"), "landing");
        assert_eq!(segment("v1.2"), "v1.2");
        assert_eq!(segment(".."), "%2E.");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment(""), "_");
    }
}
