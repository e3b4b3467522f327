//! CSV as the evidence pack writes and reads it (RFC 4180): cells quoted when they hold a
//! comma, a quote or a line break, quotes doubled, lines ending in `\n`. Written cells that a
//! spreadsheet would take for a formula get a leading `'` ([`crate::outcome::csv_cell`]).
//! Pure.

use crate::outcome::csv_cell;

/// One line of cells; a missing cell (`None`) is empty.
pub fn line(cells: &[Option<String>]) -> String {
    let mut out = cells
        .iter()
        .map(|c| csv_cell(c.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    out
}

/// Why a CSV text does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("line {line}: a quoted cell is not closed")]
    Unclosed { line: usize },
    #[error("line {line}: a quote inside a cell that is not quoted, or text after a closing quote")]
    StrayQuote { line: usize },
}

/// Reads CSV text into rows of cells (a final line break is optional).
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut closed, mut line, mut start) = (false, false, 1usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => (quoted, closed) = (false, true),
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() && !closed => (quoted, start) = (true, line),
            '"' => return Err(CsvError::StrayQuote { line }),
            ',' => {
                row.push(std::mem::take(&mut cell));
                closed = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
                (closed, line) = (false, line + 1);
            }
            _ if closed => return Err(CsvError::StrayQuote { line }),
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err(CsvError::Unclosed { line: start });
    }
    if !cell.is_empty() || !row.is_empty() || closed {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quoted_cells_keep_commas_quotes_and_line_breaks() {
        let text = line(&[Some("a,b".into()), None, Some("say \"hi\"\nthere".into())]);
        assert_eq!(text, "\"a,b\",,\"say \"\"hi\"\"\nthere\"\n");
        assert_eq!(
            parse(&text).unwrap(),
            vec![vec![
                "a,b".to_string(),
                String::new(),
                "say \"hi\"\nthere".into()
            ]]
        );
        assert_eq!(parse("x,y").unwrap(), vec![vec!["x", "y"]]);
        assert_eq!(parse("\"open").unwrap_err(), CsvError::Unclosed { line: 1 });
        assert_eq!(parse("a\"b").unwrap_err(), CsvError::StrayQuote { line: 1 });
        assert_eq!(
            parse("\"a\"b").unwrap_err(),
            CsvError::StrayQuote { line: 1 }
        );
    }

    proptest! {
        /// What is written reads back the same (cells no spreadsheet takes for a formula), and
        /// no text makes the reader panic.
        #[test]
        fn lines_read_back(rows in proptest::collection::vec(
            proptest::collection::vec("[a-z0-9 ,\"\n{}:.]{0,12}", 1..5), 0..5)
        ) {
            let text: String = rows
                .iter()
                .map(|r| line(&r.iter().cloned().map(Some).collect::<Vec<_>>()))
                .collect();
            let back = parse(&text).unwrap();
            // A row of one empty cell is an empty line, which reads as one empty cell.
            prop_assert_eq!(back, rows);
        }

        #[test]
        fn any_text_reads_or_is_refused(text in "[a,\"\n\r]{0,40}") {
            let _ = parse(&text);
        }
    }
}
