//! Printing: aligned tables and JSON. Cells from the network are made safe for a terminal by
//! [`crate::text`] before they get here.

use std::fmt::Write;

/// Rows under a header, each column as wide as its widest cell, separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|cell| (*cell).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `value` as pretty JSON with a final newline.
pub fn json<T: serde::Serialize>(value: &T) -> Result<String, crate::error::Error> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(crate::error::Error::Encode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::cell;

    #[test]
    fn tables_align_and_cells_are_cleaned() {
        let rows = vec![
            vec!["a".to_owned(), cell(Some("x\u{1b}[31m"))],
            vec!["long".to_owned(), cell(None)],
        ];
        assert_eq!(
            table(&["key", "value"], &rows),
            "key   value\na     x\u{fffd}[31m\nlong  -\n"
        );
    }
}
