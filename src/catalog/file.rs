//! The catalog file: one program's structure by name (TOML), read with each reference's line
//! so a mistake is named by file and line. `load` reads it (and any `values_csv`); `check` is
//! pure and finds every broken reference and every Workiva limit a request would break.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::workiva::models::DataType;

/// Workiva's limits (the guide and the OpenAPI spec).
pub const MAX_PROGRAM_NAME: usize = 150;
pub const MAX_NAME: usize = 300;
pub const MAX_DESCRIPTION: usize = 32_767;
pub const MAX_VALUE_ID: usize = crate::workiva::models::MAX_VALUE_ID_CHARS;
pub use crate::workiva::models::MAX_DIMENSION_VALUES;
pub const MAX_ALLOWED_DIMENSIONS: usize = 7;
pub const MAX_TAGS: usize = 20;
pub const MAX_REFERENCES: usize = 20;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// Delete topics and metrics that Workiva has and the catalog does not (with `--force`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub prune: bool,
    pub program: ProgramDecl,
    #[serde(default, rename = "topic", skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<TopicDecl>,
    #[serde(default, rename = "dimension", skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<DimensionDecl>,
    #[serde(default, rename = "metric", skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDecl>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramDecl {
    pub name: String,
    /// Pins the Workiva program (then a changed `name` renames it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDecl {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Spanned<String>>,
    /// Names the resource across renames (default: its name); the id found or created is
    /// recorded under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValueDecl {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionDecl {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueDecl>,
    /// A CSV file of `id,name,active` (a header line first), relative to the catalog file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_csv: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TagDecl {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceDecl {
    pub framework: String,
    pub reference_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_version: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDecl {
    pub name: String,
    pub data_type: DataType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_dimensions: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_notes: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_supporting_attachments: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagDecl>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub framework_references: Vec<ReferenceDecl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl TopicDecl {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }
}

impl DimensionDecl {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }
}

impl MetricDecl {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }
}

/// A catalog as read: the file, its path, and its text (for line numbers).
#[derive(Debug, Clone)]
pub struct Catalog {
    pub path: PathBuf,
    pub text: String,
    pub file: CatalogFile,
}

impl Catalog {
    /// `path:line` of a spanned item.
    pub fn at<T>(&self, s: &Spanned<T>) -> String {
        let line = self.text[..s.span().start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        format!("{}:{line}", self.path.display())
    }
}

/// Reads a catalog file and the CSV files it names. Every problem of the file's syntax, its
/// references and Workiva's limits is returned at once.
pub fn load(path: &Path) -> Result<Catalog, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("cannot read catalog file {}: {e}", path.display())])?;
    let mut c = parse(path, &text).map_err(|e| vec![e.to_string()])?;
    let mut problems = Vec::new();
    let dir = path.parent().unwrap_or(Path::new("."));
    let at: Vec<Option<String>> = c
        .file
        .dimensions
        .iter()
        .map(|d| d.values_csv.as_ref().map(|s| c.at(s)))
        .collect();
    for (d, at) in c.file.dimensions.iter_mut().zip(at) {
        let (Some(csv), Some(at)) = (&d.values_csv, at) else {
            continue;
        };
        let f = dir.join(csv.get_ref());
        match std::fs::read_to_string(&f) {
            Ok(t) => match parse_values_csv(&t) {
                Ok(v) => d.values.extend(v),
                Err(e) => problems.push(format!("{}: {e}", f.display())),
            },
            Err(e) => problems.push(format!(
                "{at}: dimension `{}`: cannot read values_csv {}: {e}",
                d.name,
                f.display()
            )),
        }
    }
    problems.extend(check(&c));
    if problems.is_empty() {
        Ok(c)
    } else {
        Err(problems)
    }
}

/// A catalog file's text that is not a catalog.
#[derive(Debug, thiserror::Error)]
#[error("catalog file {} is not valid: {error}", path.display())]
pub struct SyntaxError {
    pub path: PathBuf,
    pub error: toml::de::Error,
}

/// Parses a catalog's text (no file is read).
pub fn parse(path: &Path, text: &str) -> Result<Catalog, SyntaxError> {
    let file: CatalogFile = toml::from_str(text).map_err(|error| SyntaxError {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(Catalog {
        path: path.to_path_buf(),
        text: text.to_string(),
        file,
    })
}

/// Why a values CSV cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValuesCsvError {
    #[error("line {line}: {error}")]
    Line { line: usize, error: CsvLineError },
    #[error("line 1: the header must be `id,name,active` (name and active optional), not `{0}`")]
    Header(String),
    #[error("line {line}: {fields} fields, but the header has {header}")]
    TooManyFields {
        line: usize,
        fields: usize,
        header: usize,
    },
    #[error("line {line}: active is `{value}`; write true or false")]
    Active { line: usize, value: String },
}

/// Why one CSV line cannot be split into fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsvLineError {
    #[error("a quote in the middle of an unquoted field")]
    QuoteInField,
    #[error("text after a closing quote")]
    TextAfterQuote,
    #[error("a quote is never closed")]
    Unclosed,
}

/// Dimension values from CSV text: a header line (`id,name,active`, in that order; `name` and
/// `active` optional), then one value per line. Fields may be quoted (`"Ames, Iowa"`).
pub fn parse_values_csv(text: &str) -> Result<Vec<ValueDecl>, ValuesCsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let header = split_csv_line(header).map_err(|error| ValuesCsvError::Line { line: 1, error })?;
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    if header.first().map(String::as_str) != Some("id")
        || header.get(1).is_some_and(|h| h != "name")
        || header.get(2).is_some_and(|h| h != "active")
        || header.len() > 3
    {
        return Err(ValuesCsvError::Header(header.join(",")));
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let f = split_csv_line(line).map_err(|error| ValuesCsvError::Line { line: n, error })?;
        if f.len() > header.len() {
            return Err(ValuesCsvError::TooManyFields {
                line: n,
                fields: f.len(),
                header: header.len(),
            });
        }
        let id = f[0].trim().to_string();
        let name = f
            .get(1)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let active = match f.get(2).map(|s| s.trim().to_ascii_lowercase()) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) if s == "true" => Some(true),
            Some(s) if s == "false" => Some(false),
            Some(value) => return Err(ValuesCsvError::Active { line: n, value }),
        };
        out.push(ValueDecl { id, name, active });
    }
    Ok(out)
}

/// One CSV line into its fields: commas separate, double quotes enclose a field that holds
/// commas or quotes (a quote inside is doubled).
pub fn split_csv_line(line: &str) -> Result<Vec<String>, CsvLineError> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() && !was_quoted => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err(CsvLineError::QuoteInField),
            (false, ',') => {
                fields.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            (false, c) if was_quoted && !c.is_whitespace() => {
                return Err(CsvLineError::TextAfterQuote);
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err(CsvLineError::Unclosed);
    }
    fields.push(cur);
    Ok(fields)
}

/// Every broken reference and every limit a request would break, each naming file and line
/// (or the resource), so nothing is sent for a catalog Workiva would refuse.
pub fn check(c: &Catalog) -> Vec<String> {
    let f = &c.file;
    let file = c.path.display().to_string();
    let mut out = too_long(f, &file);
    if f.program.name.trim().is_empty() {
        out.push(format!("{file}: [program] needs a name"));
    }
    declared_twice(f, &file, &mut out);
    let topics: BTreeSet<&str> = f.topics.iter().map(|t| t.name.as_str()).collect();
    let dims: BTreeSet<&str> = f.dimensions.iter().map(|d| d.name.as_str()).collect();
    unknown_parents(c, &topics, &mut out);
    if let Some(cycle) = parent_cycle(f) {
        out.push(format!("{file}: topics `{cycle}` are each other's parents"));
    }
    for d in &f.dimensions {
        dimension_values(d, &file, &mut out);
    }
    for m in &f.metrics {
        metric_references(c, m, &topics, &dims, &mut out);
        metric_counts(m, &file, &mut out);
    }
    out
}

/// Every name, unit, description and value id longer than Workiva allows.
fn too_long(f: &CatalogFile, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut long = |what: String, v: &str, max: usize| {
        let n = v.chars().count();
        if n > max {
            out.push(format!(
                "{file}: {what} has {n} characters; Workiva allows {max}"
            ));
        }
    };
    long(
        format!("program `{}`", f.program.name),
        &f.program.name,
        MAX_PROGRAM_NAME,
    );
    for t in &f.topics {
        long(format!("topic `{}`", t.name), &t.name, MAX_NAME);
    }
    for m in &f.metrics {
        long(format!("metric `{}`", m.name), &m.name, MAX_NAME);
        if let Some(u) = &m.unit {
            long(format!("metric `{}`: unit", m.name), u, MAX_NAME);
        }
        if let Some(d) = &m.description {
            long(
                format!("metric `{}`: description", m.name),
                d,
                MAX_DESCRIPTION,
            );
        }
    }
    for d in &f.dimensions {
        long(format!("dimension `{}`", d.name), &d.name, MAX_NAME);
        for v in &d.values {
            long(
                format!("dimension `{}`: value id `{}`", d.name, v.id),
                &v.id,
                MAX_VALUE_ID,
            );
            if let Some(n) = &v.name {
                long(
                    format!("dimension `{}`: value `{}`'s name", d.name, v.id),
                    n,
                    MAX_NAME,
                );
            }
        }
    }
    out
}

/// Topics, dimensions and metrics declared twice under one name.
fn declared_twice(f: &CatalogFile, file: &str, out: &mut Vec<String>) {
    duplicates(out, file, "topic", f.topics.iter().map(|t| t.name.as_str()));
    duplicates(
        out,
        file,
        "dimension",
        f.dimensions.iter().map(|d| d.name.as_str()),
    );
    duplicates(
        out,
        file,
        "metric",
        f.metrics.iter().map(|m| m.name.as_str()),
    );
}

/// Parents that are not topics of the catalog.
fn unknown_parents(c: &Catalog, topics: &BTreeSet<&str>, out: &mut Vec<String>) {
    for t in &c.file.topics {
        if let Some(p) = &t.parent
            && !topics.contains(p.get_ref().as_str())
        {
            out.push(format!(
                "{}: topic `{}`: parent `{}` is not a topic of this catalog",
                c.at(p),
                t.name,
                p.get_ref()
            ));
        }
    }
}

/// A dimension's values: at least one, within Workiva's limit, each with an id, once.
fn dimension_values(d: &DimensionDecl, file: &str, out: &mut Vec<String>) {
    if d.values.is_empty() {
        out.push(format!(
            "{file}: dimension `{}` has no values; Workiva needs at least 1",
            d.name
        ));
    }
    if d.values.len() > MAX_DIMENSION_VALUES {
        out.push(format!(
            "{file}: dimension `{}` has {} values; Workiva allows {MAX_DIMENSION_VALUES}",
            d.name,
            d.values.len()
        ));
    }
    let label = format!("dimension `{}`: value id", d.name);
    duplicates(out, file, &label, d.values.iter().map(|v| v.id.as_str()));
    if d.values.iter().any(|v| v.id.trim().is_empty()) {
        out.push(format!(
            "{file}: dimension `{}` has a value without an id",
            d.name
        ));
    }
}

/// A metric's topic and allowed dimensions that the catalog does not declare.
fn metric_references(
    c: &Catalog,
    m: &MetricDecl,
    topics: &BTreeSet<&str>,
    dims: &BTreeSet<&str>,
    out: &mut Vec<String>,
) {
    if let Some(t) = &m.topic
        && !topics.contains(t.get_ref().as_str())
    {
        out.push(format!(
            "{}: metric `{}`: topic `{}` is not a topic of this catalog",
            c.at(t),
            m.name,
            t.get_ref()
        ));
    }
    for d in &m.allowed_dimensions {
        if !dims.contains(d.get_ref().as_str()) {
            out.push(format!(
                "{}: metric `{}`: allowed dimension `{}` is not a dimension of this catalog",
                c.at(d),
                m.name,
                d.get_ref()
            ));
        }
    }
}

/// A metric's allowed dimensions, tags and framework references within Workiva's limits.
fn metric_counts(m: &MetricDecl, file: &str, out: &mut Vec<String>) {
    for (what, n, max) in [
        (
            "allowed dimensions",
            m.allowed_dimensions.len(),
            MAX_ALLOWED_DIMENSIONS,
        ),
        ("tags", m.tags.len(), MAX_TAGS),
        (
            "framework references",
            m.framework_references.len(),
            MAX_REFERENCES,
        ),
    ] {
        if n > max {
            out.push(format!(
                "{file}: metric `{}` has {n} {what}; Workiva allows {max}",
                m.name
            ));
        }
    }
}

fn duplicates<'a>(
    out: &mut Vec<String>,
    file: &str,
    what: &str,
    names: impl Iterator<Item = &'a str>,
) {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            out.push(format!("{file}: {what} `{n}` is declared twice"));
        }
    }
}

/// A topic that is its own ancestor, if any.
fn parent_cycle(f: &CatalogFile) -> Option<String> {
    let parent = |n: &str| {
        f.topics
            .iter()
            .find(|t| t.name == n)
            .and_then(|t| t.parent.as_ref().map(|p| p.get_ref().as_str()))
    };
    for t in &f.topics {
        let mut at = t.name.as_str();
        for _ in 0..=f.topics.len() {
            match parent(at) {
                Some(p) if p == t.name => return Some(t.name.clone()),
                Some(p) => at = p,
                None => break,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = r#"
[program]
name = "ESG Reporting 2025"

[[topic]]
name = "Climate"
[[topic]]
name = "Emissions"
parent = "Climate"

[[dimension]]
name = "Facility"
values = [ { id = "AMES-IA", name = "Ames, Iowa" }, { id = "OLD", active = false } ]

[[metric]]
name = "Scope 1 GHG Emissions"
data_type = "number"
unit = "tCO2e"
topic = "Emissions"
allowed_dimensions = ["Facility"]
description = "..."
require_notes = false
tags = [ { name = "scope", value = "1" } ]
framework_references = [ { framework = "GRI", reference_name = "305-1" } ]
"#;

    #[test]
    fn the_documented_example_reads_and_checks_clean() {
        let c = parse(Path::new("catalog.toml"), EXAMPLE).unwrap();
        assert_eq!(check(&c), Vec::<String>::new());
        assert_eq!(
            c.file.metrics[0].allowed_dimensions[0].get_ref(),
            "Facility"
        );
    }

    #[test]
    fn unknown_references_name_file_and_line() {
        let text = EXAMPLE
            .replace("topic = \"Emissions\"", "topic = \"Emisions\"")
            .replace(
                "allowed_dimensions = [\"Facility\"]",
                "allowed_dimensions = [\"Site\"]",
            );
        let c = parse(Path::new("catalog.toml"), &text).unwrap();
        let p = check(&c);
        assert!(
            p.iter().any(|e| e
                .starts_with("catalog.toml:19: metric `Scope 1 GHG Emissions`: topic `Emisions`")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|e| e.starts_with("catalog.toml:20:") && e.contains("`Site`")),
            "{p:?}"
        );
    }

    #[test]
    fn workivas_limits_are_refused_before_any_request() {
        let mut c = parse(Path::new("c.toml"), EXAMPLE).unwrap();
        c.file.dimensions[0].values = (0..1501)
            .map(|i| ValueDecl {
                id: format!("V{i}"),
                name: None,
                active: None,
            })
            .collect();
        c.file.dimensions[0].values[0].id = "A-VERY-LONG-VALUE-ID-X".into();
        let p = check(&c);
        assert!(
            p.iter()
                .any(|e| e.contains("1501 values; Workiva allows 1500")),
            "{p:?}"
        );
        assert!(
            p.iter().any(
                |e| e.contains("`A-VERY-LONG-VALUE-ID-X` has 22 characters; Workiva allows 20")
            ),
            "{p:?}"
        );
    }

    #[test]
    fn values_csv_reads_quoted_names() {
        let v = parse_values_csv("id,name,active\nAMES-IA,\"Ames, Iowa\",true\nOLD,,false\nX\n")
            .unwrap();
        assert_eq!(
            v[0],
            ValueDecl {
                id: "AMES-IA".into(),
                name: Some("Ames, Iowa".into()),
                active: Some(true)
            }
        );
        assert_eq!(v[1].active, Some(false));
        assert_eq!(
            v[2],
            ValueDecl {
                id: "X".into(),
                name: None,
                active: None
            }
        );
        assert!(
            parse_values_csv("name,id\n")
                .unwrap_err()
                .to_string()
                .contains("header")
        );
        assert!(
            parse_values_csv("id,name,active\nA,B,maybe\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
    }

    fn quote(f: &str) -> String {
        format!("\"{}\"", f.replace('"', "\"\""))
    }

    proptest! {
        #[test]
        fn csv_lines_never_panic(line in any::<String>()) {
            let _ = split_csv_line(&line);
            let _ = parse_values_csv(&line);
        }

        #[test]
        fn quoted_fields_round_trip(fields in proptest::collection::vec("[^\n\r]{0,12}", 1..5)) {
            let line = fields.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",");
            prop_assert_eq!(split_csv_line(&line).unwrap(), fields);
        }
    }
}
