//! Redaction of what responses and log lines show: credentials in
//! locations (URL passwords, secret query or DSN parameters, `X-Amz-*`
//! signatures) and data values quoted by readers' errors.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a hidden value.
const HIDDEN: &str = "***";

/// `scheme://user:PASSWORD@`.
static USERINFO: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)([a-z][a-z0-9+.\-]*://[^/\s:@]*):([^@\s/]*)@").ok());

/// `password=…`, `secret…=…`, `…token=…`, `X-Amz-…=…`, `…key=…` after `?`,
/// `&`, `;`, a space or the start.
static PARAMETER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(^|[?&;\s])((?:[a-z0-9_.\-]*(?:password|passwd|pwd|secret|token|credential|signature)[a-z0-9_.\-]*|x-amz-[a-z0-9\-]+|[a-z0-9_.\-]*key)=)([^&#\s;]*)",
    )
    .ok()
});

/// Row contents quoted by CSV/JSON readers (`Row data: '[...]'`,
/// `parsing value '...'`).
static ROW_DATA: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?m)(Row data: ).*$").ok());
static VALUE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(parsing value )'[^']*'").ok());

/// `text` with credentials hidden.
pub fn secrets(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(re) = USERINFO.as_ref() {
        out = re.replace_all(&out, format!("$1:{HIDDEN}@")).into_owned();
    }
    if let Some(re) = PARAMETER.as_ref() {
        out = re.replace_all(&out, format!("$1$2{HIDDEN}")).into_owned();
    }
    out
}

/// A message for any role: credentials hidden and data values quoted by
/// readers' errors dropped (file and line stay).
pub fn message(text: &str) -> String {
    let mut out = secrets(text);
    if let Some(re) = ROW_DATA.as_ref() {
        out = re.replace_all(&out, "${1}(hidden)").into_owned();
    }
    if let Some(re) = VALUE.as_ref() {
        out = re.replace_all(&out, "${1}(hidden)").into_owned();
    }
    out
}

/// Every string in a JSON value, with credentials hidden.
pub fn json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = secrets(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(json),
        serde_json::Value::Object(map) => map.values_mut().for_each(json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_hidden() {
        assert_eq!(
            secrets("iceberg:postgres://u:s3cr3t@db:5432/cat?name=x&password=p#ns.t"),
            "iceberg:postgres://u:***@db:5432/cat?name=x&password=***#ns.t"
        );
        assert_eq!(
            secrets("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Credential=AK%2F1"),
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Credential=***"
        );
        assert_eq!(
            secrets("host=db user=u password=pw sslmode=off"),
            "host=db user=u password=*** sslmode=off"
        );
        assert_eq!(secrets("/data/a=b/x.parquet"), "/data/a=b/x.parquet");
        assert_eq!(secrets("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
    }

    #[test]
    fn reader_errors_keep_file_and_line_but_not_data() {
        let e = "Parser error: Error while parsing value 'x42' as type 'Int64' for column 1 at line 4. Row data: '[4,x42,ann@example.com]'";
        let shown = message(e);
        assert!(shown.contains("column 1 at line 4"), "{shown}");
        assert!(
            !shown.contains("ann@example.com") && !shown.contains("x42"),
            "{shown}"
        );
    }
}
