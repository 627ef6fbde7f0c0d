//! Aligned plain-text tables for human output.

/// Renders `rows` under `headers`, columns padded to their widest cell and
/// separated by two spaces; the last column is not padded. Control characters
/// (a hostile User-Agent could carry terminal escapes) print as `?`.
pub(crate) fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |s: &str| -> String { s.chars().map(|c| if c.is_control() { '?' } else { c }).collect() };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| clean(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count())));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An optional value's cell: `-` when absent.
pub(crate) fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_and_cleans_control_characters() {
        let out = render(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()], vec!["q".into(), "ua\u{1b}[2J".into()]]);
        assert_eq!(out, "A    LONGER\nxyz  1\nq    ua?[2J\n");
    }
}
