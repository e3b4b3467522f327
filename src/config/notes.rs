//! `notes_template`: the notes a pipeline writes with each value, made from the lake's notes
//! and where the value came from, so a reviewer in Workiva sees its origin. Placeholders:
//! `{notes}`, `{source}` (the origin's file name), `{origin}` (its whole path or URI, or the
//! SQL source's name), `{row}`, `{metric_key}`, and each column of `columns.dimensions` by
//! its name; `{{` and `}}` are a brace. Nothing that changes between runs (no run id, no
//! clock) can be named, so the same lake content always gives the same notes. Pure.

/// What a placeholder names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Notes,
    Source,
    Origin,
    Row,
    MetricKey,
    /// A mapped dimension column, by its place in `columns.dimensions`.
    Dimension(usize),
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Field(Field),
}

/// A parsed `notes_template`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotesTemplate {
    pub parts: Vec<Part>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "notes_template: `{{{0}}}` is not a placeholder; use {{notes}}, {{source}}, {{origin}}, {{row}}, {{metric_key}} or a column of columns.dimensions ({1})"
    )]
    Unknown(String, String),
    #[error("notes_template: a `{{` is not closed; write `{{{{` for a brace")]
    Unclosed,
    #[error("notes_template: a `}}` closes nothing; write `}}}}` for a brace")]
    Stray,
}

impl NotesTemplate {
    /// Parses `text`; `dimensions` are the mapped dimension columns, in order.
    pub fn parse(text: &str, dimensions: &[&str]) -> Result<Self, TemplateError> {
        let (mut parts, mut lit) = (Vec::new(), String::new());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '}' => return Err(TemplateError::Stray),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(TemplateError::Unclosed),
                        }
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Field(field(name.trim(), dimensions)?));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Self { parts })
    }
}

fn field(name: &str, dimensions: &[&str]) -> Result<Field, TemplateError> {
    Ok(match name {
        "notes" => Field::Notes,
        "source" => Field::Source,
        "origin" => Field::Origin,
        "row" => Field::Row,
        "metric_key" => Field::MetricKey,
        other => match dimensions.iter().position(|d| *d == other) {
            Some(i) => Field::Dimension(i),
            None => {
                return Err(TemplateError::Unknown(
                    other.to_string(),
                    if dimensions.is_empty() {
                        "none".to_string()
                    } else {
                        dimensions.join(", ")
                    },
                ));
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn placeholders_and_braces() {
        let t = NotesTemplate::parse(
            "{notes} (source: {source}, {origin} row {row}) {{x}} {facility}",
            &["facility"],
        )
        .unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Field(Field::Notes),
                Part::Text(" (source: ".into()),
                Part::Field(Field::Source),
                Part::Text(", ".into()),
                Part::Field(Field::Origin),
                Part::Text(" row ".into()),
                Part::Field(Field::Row),
                Part::Text(") {x} ".into()),
                Part::Field(Field::Dimension(0)),
            ]
        );
        let e = NotesTemplate::parse("{run_id}", &["facility"]).unwrap_err();
        assert!(
            e.to_string().contains("`{run_id}` is not a placeholder")
                && e.to_string().contains("(facility)"),
            "{e}"
        );
        assert_eq!(
            NotesTemplate::parse("{notes", &[]),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(
            NotesTemplate::parse("{row} {row", &[]),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(
            NotesTemplate::parse("a } b", &[]),
            Err(TemplateError::Stray)
        );
    }

    proptest! {
        /// No text makes the parser panic.
        #[test]
        fn any_template_parses_or_is_refused(text in "[a-z{} ]{0,30}") {
            let _ = NotesTemplate::parse(&text, &["facility"]);
        }
    }
}
