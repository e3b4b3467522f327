//! What a run produces and the sync-state store records: a run's counts and the rows it
//! rejected; and how the files that keep them are created (private to this user). Plain data at the bottom of the house, so the sync engine that makes them and the
//! store that keeps them both stand on it (the engine re-exports them as `sync::Counts` and
//! `sync::Reject`).

/// A final reviewer's decision on a task's approval step, as it is submitted to Workiva and
/// recorded in the store (`APPROVE`, `REJECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DecisionAction {
    Approve,
    Reject,
}

impl DecisionAction {
    pub const ALL: &'static [Self] = &[Self::Approve, Self::Reject];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "APPROVE",
            Self::Reject => "REJECT",
        }
    }

    /// The action a recorded text names; none for any other text (an unknown action is an
    /// error for the reader to raise, never read as a rejection).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for DecisionAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Creates `path` (empty) readable and writable by this user only (0600), and the folders
/// leading to it that do not exist yet 0700; an existing file is left as it is. The state
/// store and the emulated tenant hold the lake's figures and notes.
pub fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub read: i64,
    pub rejected: i64,
    pub unchanged: i64,
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
    pub locked: i64,
    /// Values a person changed in Workiva that the run kept (`on_hand_edit = "keep"`).
    pub hand_edited: i64,
}

/// A rejected source row: where it came from, the field at fault and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reject {
    pub source_file: String,
    pub source_row: i64,
    pub field: String,
    pub reason: String,
    pub metric_key: Option<String>,
    pub period: Option<String>,
    pub value: Option<String>,
}

/// A value a run wrote that the threshold review judged: auto-completed, or flagged for a
/// person, with the numbers behind the decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reviewed {
    pub metric: String,
    /// The period's label (`2025`, `2025-Q1`).
    pub period: String,
    /// `Dimension=value` pairs, `; `-separated.
    pub coordinates: String,
    pub value: String,
    pub prior: Option<String>,
    pub delta: Option<String>,
    pub delta_percent: Option<String>,
    pub flagged: bool,
    /// The review's note.
    pub reason: String,
}

/// A value a person changed in Workiva since esg-sync last wrote it (its value or notes differ
/// from what the ledger says was written; a status move is the workflow's, not an edit), while
/// the lake asks for something else again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HandEdit {
    /// The Workiva metric's name.
    pub metric: String,
    /// The lake's key for the metric.
    pub metric_key: String,
    /// The period's label (`2025`, `2025-Q1`).
    pub period: String,
    /// `Dimension=value` pairs, `; `-separated.
    pub coordinates: String,
    /// Workiva's id of the value.
    pub value_id: Option<String>,
    /// What esg-sync last wrote there, by the ledger.
    pub written_value: Option<String>,
    pub written_notes: Option<String>,
    /// What Workiva holds now: the person's edit.
    pub found_value: Option<String>,
    pub found_notes: Option<String>,
    /// What the lake asks for.
    pub lake_value: Option<String>,
    /// The run that last wrote it: the edit was made since.
    pub since_run: i64,
    /// `on_hand_edit = "keep"`: left as the person made it; otherwise overwritten.
    pub kept: bool,
    /// First found by this run: an earlier run did not list the same edit (its alert goes
    /// out once).
    pub first_seen: bool,
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break. A cell that a
/// spreadsheet would take for a formula (`=`, `+`, `@`, a tab, or `-` not starting a number)
/// gets a leading `'`, since the lake's text reaches people through these files.
pub fn csv_cell(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '@', '\t', '\r'])
        || (s.starts_with('-') && s.parse::<f64>().is_err());
    let s = if formula {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// The header line of a run's rejects as CSV.
pub const REJECTS_CSV_HEADER: &str =
    "run,source_file,source_row,field,reason,metric_key,period,value\n";

/// A run's rejects as CSV, a header line first (`esg-sync rejects` and the status page's
/// download).
pub fn rejects_csv(run_id: i64, list: &[Reject]) -> String {
    let mut out = String::from(REJECTS_CSV_HEADER);
    out.push_str(&rejects_csv_rows(run_id, list));
    out
}

/// Rejects as CSV lines, no header: a page of a streamed download.
pub fn rejects_csv_rows(run_id: i64, list: &[Reject]) -> String {
    let mut out = String::new();
    for r in list {
        out.push_str(&format!(
            "{run_id},{},{},{},{},{},{},{}\n",
            csv_cell(&r.source_file),
            r.source_row,
            csv_cell(&r.field),
            csv_cell(&r.reason),
            csv_cell(r.metric_key.as_deref().unwrap_or("")),
            csv_cell(r.period.as_deref().unwrap_or("")),
            csv_cell(r.value.as_deref().unwrap_or(""))
        ));
    }
    out
}

/// What a panic said, from its payload.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod decision_tests {
    use super::DecisionAction;

    #[test]
    fn actions_read_back_and_nothing_else_reads() {
        for a in DecisionAction::ALL {
            assert_eq!(DecisionAction::parse(a.as_str()), Some(*a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(DecisionAction::parse("approve"), None);
        assert_eq!(DecisionAction::parse("SKIP"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), r#""say ""hi""""#);
        assert_eq!(csv_cell("-12.5"), "-12.5");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-cmd"), "'-cmd");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
