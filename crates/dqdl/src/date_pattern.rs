//! Date patterns of ColumnDataType's `format` tag
//! (`ColumnDataType "d" = "DATE" with format = "dd-MM-yyyy"`), written with
//! Spark's (Java's) pattern letters: `yyyy` or `yy` for the year, `MM` or
//! `M` for the month, `dd` or `d` for the day, anything else that is not a
//! letter (or text in single quotes) taken literally. A pattern without a
//! day means the 1st; without a year, 2000 (partial dates such as
//! `MM/yyyy`). Other letters (times, month names, weekdays) are refused.

/// One field or literal of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// `yyyy`: four digits.
    Year,
    /// `yy`: two digits of 20xx.
    ShortYear,
    /// `MM` (two digits) or `M` (one or two).
    Month { exact: bool },
    /// `dd` (two digits) or `d` (one or two).
    Day { exact: bool },
    /// Text matched as is.
    Literal(String),
}

/// A parsed date pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePattern {
    pieces: Vec<Piece>,
}

/// Which part of a date a capture group of [`DatePattern::regex`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    /// Four-digit year.
    Year,
    /// Two-digit year of the 2000s.
    ShortYear,
    /// Month number.
    Month,
    /// Day of the month.
    Day,
}

impl DatePattern {
    /// Parses a pattern, or says what is wrong with it.
    pub fn parse(pattern: &str) -> Result<DatePattern, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&q| q == '\'')
                    .ok_or_else(|| format!("date format \"{pattern}\" has an unclosed quote"))?;
                let text: String = chars[i + 1..i + 1 + end].iter().collect();
                pieces.push(Piece::Literal(if text.is_empty() {
                    "'".to_string()
                } else {
                    text
                }));
                i += end + 2;
                continue;
            }
            let run = chars[i..].iter().take_while(|&&x| x == c).count();
            let piece = match (c, run) {
                ('y', 4) => Piece::Year,
                ('y', 2) => Piece::ShortYear,
                ('M', 2) => Piece::Month { exact: true },
                ('M', 1) => Piece::Month { exact: false },
                ('d', 2) => Piece::Day { exact: true },
                ('d', 1) => Piece::Day { exact: false },
                (c, _) if c.is_ascii_alphabetic() => {
                    return Err(format!(
                        "date format \"{pattern}\": `{}` is not supported; use yyyy or yy, MM or M, dd or d and separators",
                        chars[i..i + run].iter().collect::<String>()
                    ));
                }
                (c, run) => Piece::Literal(std::iter::repeat_n(c, run).collect()),
            };
            pieces.push(piece);
            i += run;
        }
        let count = |f: fn(&Piece) -> bool| pieces.iter().filter(|p| f(p)).count();
        let years = count(|p| matches!(p, Piece::Year | Piece::ShortYear));
        let months = count(|p| matches!(p, Piece::Month { .. }));
        let days = count(|p| matches!(p, Piece::Day { .. }));
        if years > 1 || months > 1 || days > 1 {
            return Err(format!(
                "date format \"{pattern}\" names the year, month or day twice"
            ));
        }
        if months == 0 || years + days == 0 {
            return Err(format!(
                "date format \"{pattern}\" needs a month (MM or M) and a year or a day"
            ));
        }
        Ok(DatePattern { pieces })
    }

    /// An anchored regular expression for the whole value, with one capture
    /// group per field in the order of [`DatePattern::parts`].
    pub fn regex(&self) -> String {
        let mut out = String::from("^");
        for p in &self.pieces {
            match p {
                Piece::Year => out.push_str("([0-9]{4})"),
                Piece::ShortYear => out.push_str("([0-9]{2})"),
                Piece::Month { exact: true } | Piece::Day { exact: true } => {
                    out.push_str("([0-9]{2})")
                }
                Piece::Month { exact: false } | Piece::Day { exact: false } => {
                    out.push_str("([0-9]{1,2})")
                }
                Piece::Literal(text) => {
                    for c in text.chars() {
                        if !c.is_alphanumeric() {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
            }
        }
        out.push('$');
        out
    }

    /// What each capture group of [`DatePattern::regex`] holds.
    pub fn parts(&self) -> Vec<DatePart> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Year => Some(DatePart::Year),
                Piece::ShortYear => Some(DatePart::ShortYear),
                Piece::Month { .. } => Some(DatePart::Month),
                Piece::Day { .. } => Some(DatePart::Day),
                Piece::Literal(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_patterns_become_anchored_regexes() {
        let p = DatePattern::parse("dd-MM-yyyy").expect("valid");
        assert_eq!(p.regex(), "^([0-9]{2})\\-([0-9]{2})\\-([0-9]{4})$");
        assert_eq!(p.parts(), [DatePart::Day, DatePart::Month, DatePart::Year]);
        let p = DatePattern::parse("M/d/yy").expect("valid");
        assert_eq!(p.regex(), "^([0-9]{1,2})\\/([0-9]{1,2})\\/([0-9]{2})$");
        let p = DatePattern::parse("yyyy'T'MM").expect("valid");
        assert_eq!(p.regex(), "^([0-9]{4})T([0-9]{2})$");
        assert_eq!(p.parts(), [DatePart::Year, DatePart::Month]);
    }

    #[test]
    fn unsupported_or_incomplete_patterns_are_refused() {
        for bad in [
            "dd-MM-yyyy HH:mm",
            "MMM yyyy",
            "yyyy",
            "dd-dd-yyyy",
            "yyy-MM",
            "'x",
        ] {
            assert!(DatePattern::parse(bad).is_err(), "{bad}");
        }
    }
}
