//! A line diff between two texts: the common prefix and suffix are kept,
//! the middle is aligned by a longest common subsequence. A middle too big
//! for the LCS table (over [`MAX_CELLS`]) is shown as removed, then added.

/// Largest LCS table, in cells (`u32` each: 16 MiB).
const MAX_CELLS: usize = 4_000_000;

/// How a line changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// In both texts.
    Same,
    /// Only in the old text.
    Removed,
    /// Only in the new text.
    Added,
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DiffLine {
    /// How it changed.
    pub change: Change,
    /// Its number in the old text.
    pub old: Option<usize>,
    /// Its number in the new text.
    pub new: Option<usize>,
    /// The line.
    pub text: String,
}

impl DiffLine {
    /// `+`, `-` or a space.
    pub fn sign(&self) -> &'static str {
        match self.change {
            Change::Same => " ",
            Change::Removed => "-",
            Change::Added => "+",
        }
    }

    /// The old line number as shown (empty for an added line).
    pub fn old_no(&self) -> String {
        self.old.map_or_else(String::new, |n| n.to_string())
    }

    /// The new line number as shown (empty for a removed line).
    pub fn new_no(&self) -> String {
        self.new.map_or_else(String::new, |n| n.to_string())
    }

    /// The CSS class of the row.
    pub fn class(&self) -> &'static str {
        match self.change {
            Change::Same => "same",
            Change::Removed => "del",
            Change::Added => "add",
        }
    }
}

/// The lines of `old` and `new`, aligned.
pub(super) fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut push = |change, i: Option<usize>, j: Option<usize>, text: &str| {
        out.push(DiffLine {
            change,
            old: i.map(|i| i + 1),
            new: j.map(|j| j + 1),
            text: text.to_string(),
        });
    };
    for (i, line) in a.iter().enumerate().take(prefix) {
        push(Change::Same, Some(i), Some(i), line);
    }
    let (n, m) = (ma.len(), mb.len());
    if (n + 1).saturating_mul(m + 1) > MAX_CELLS {
        for (i, line) in ma.iter().enumerate() {
            push(Change::Removed, Some(prefix + i), None, line);
        }
        for (j, line) in mb.iter().enumerate() {
            push(Change::Added, None, Some(prefix + j), line);
        }
    } else {
        // lcs[i][j]: the LCS length of ma[i..] and mb[j..].
        let width = m + 1;
        let mut lcs = vec![0u32; (n + 1) * width];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * width + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                push(Change::Same, Some(prefix + i), Some(prefix + j), ma[i]);
                i += 1;
                j += 1;
            } else if j == m || (i < n && lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
                push(Change::Removed, Some(prefix + i), None, ma[i]);
                i += 1;
            } else {
                push(Change::Added, None, Some(prefix + j), mb[j]);
                j += 1;
            }
        }
    }
    for k in 0..suffix {
        let (i, j) = (a.len() - suffix + k, b.len() - suffix + k);
        push(Change::Same, Some(i), Some(j), a[i]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signs(old: &str, new: &str) -> String {
        diff_lines(old, new)
            .iter()
            .map(|l| format!("{}{}", l.sign(), l.text))
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn aligns_changed_lines_between_common_ones() {
        assert_eq!(signs("a\nb\nc", "a\nb\nc"), " a| b| c");
        assert_eq!(signs("a\nb\nc", "a\nx\nc"), " a|-b|+x| c");
        assert_eq!(signs("a\nc", "a\nb\nc"), " a|+b| c");
        assert_eq!(signs("x\na\ny\nb", "a\nz\nb"), "-x| a|-y|+z| b");
        assert_eq!(signs("", "a"), "+a");
        assert_eq!(signs("a", ""), "-a");
        let lines = diff_lines("r1\nr2\nr3", "r1\nr3\nr4");
        let numbers: Vec<(Option<usize>, Option<usize>)> =
            lines.iter().map(|l| (l.old, l.new)).collect();
        assert_eq!(
            numbers,
            [
                (Some(1), Some(1)),
                (Some(2), None),
                (Some(3), Some(2)),
                (None, Some(3))
            ]
        );
    }

    #[test]
    fn a_huge_middle_is_removed_then_added() {
        let old: String = (0..3000).map(|i| format!("o{i}\n")).collect();
        let new: String = (0..3000).map(|i| format!("n{i}\n")).collect();
        let lines = diff_lines(&format!("head\n{old}"), &format!("head\n{new}"));
        assert_eq!(lines.len(), 6001);
        assert_eq!(lines[0].change, Change::Same);
        assert!(lines[1..3001].iter().all(|l| l.change == Change::Removed));
        assert!(lines[3001..].iter().all(|l| l.change == Change::Added));
    }
}
