//! A row's notes from the pipeline's `notes_template`: the lake's notes and where the row came
//! from, the same for the same lake content. Pure.

use crate::config::notes::{Field, NotesTemplate, Part};
use crate::source::SourceRow;

/// The notes `t` makes for row `s`, whose lake notes are `notes` (empty when none); trimmed,
/// so a template that starts with `{notes}` reads well when there are none.
pub fn render(t: &NotesTemplate, s: &SourceRow, notes: &str, metric_key: &str) -> String {
    let mut out = String::new();
    for part in &t.parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Field(Field::Notes) => out.push_str(notes),
            Part::Field(Field::Source) => out.push_str(file_name(&s.file)),
            Part::Field(Field::Origin) => out.push_str(&s.file),
            Part::Field(Field::Row) => out.push_str(&s.row.to_string()),
            Part::Field(Field::MetricKey) => out.push_str(metric_key),
            Part::Field(Field::Dimension(i)) => {
                if let Some(text) = s.dims.get(*i).and_then(|c| c.text()) {
                    out.push_str(&text);
                }
            }
        }
    }
    out.trim().to_string()
}

/// The last segment of a path or URI.
fn file_name(origin: &str) -> &str {
    origin.rsplit(['/', '\\']).next().unwrap_or(origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Cell;

    fn row() -> SourceRow {
        SourceRow {
            file: "s3://lake/esg/2025/facility.parquet".into(),
            row: 7,
            metric: Cell::Text("ghg".into()),
            period: Cell::Text("2025".into()),
            start_month: Cell::Null,
            end_month: Cell::Null,
            dims: vec![Cell::Text("AMES".into())],
            value: Cell::Text("1".into()),
            notes: Cell::Null,
            status: Cell::Null,
        }
    }

    #[test]
    fn the_template_names_the_origin_and_reads_well_without_notes() {
        let t = NotesTemplate::parse(
            "{notes} (source: {source}, {origin} row {row}; {metric_key} at {facility})",
            &["facility"],
        )
        .unwrap();
        assert_eq!(
            render(&t, &row(), "", "ghg"),
            "(source: facility.parquet, s3://lake/esg/2025/facility.parquet row 7; ghg at AMES)"
        );
        assert!(render(&t, &row(), "metered", "ghg").starts_with("metered (source: "));
    }
}
