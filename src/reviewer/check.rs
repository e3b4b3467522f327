//! Check: a task's linked values against the reviewer's requirements, into one decision
//! (approve, or reject naming each failing value and what it lacks) and its comment. Pure.

use crate::config::review::{Compare, ReviewConfig, ReviewNotes, ReviewStatus, ReviewerConfig};
use crate::outcome::DecisionAction;
use crate::sync::review::judge;

/// A value linked to the task, with what the checks need.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    pub metric: String,
    /// The period's label (`2025-Q1`).
    pub period: String,
    /// `Dimension=value` pairs.
    pub coordinates: String,
    pub value: Option<String>,
    pub notes: Option<String>,
    pub attachments: usize,
    /// A number, currency or percent metric.
    pub numeric: bool,
    /// The prior year's value of the same metric, coordinates and months.
    pub prior: Option<String>,
}

/// What the reviewer decided for a task.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    pub action: DecisionAction,
    pub comment: String,
    /// Each failing value and what it lacks.
    pub problems: Vec<String>,
}

impl Linked {
    fn label(&self) -> String {
        if self.coordinates.is_empty() {
            format!("{} {}", self.metric, self.period)
        } else {
            format!("{} {} ({})", self.metric, self.period, self.coordinates)
        }
    }
}

/// Decides a task from its linked values; `None` when it has none (nothing to vouch for).
pub fn decide(cfg: &ReviewerConfig, values: &[Linked]) -> Option<Verdict> {
    if values.is_empty() {
        return None;
    }
    let threshold = cfg.max_change_percent.map(|pct| ReviewConfig {
        compare: Compare::PriorYear,
        max_change_percent: Some(pct),
        max_change_abs: None,
        within: ReviewStatus::Complete,
        beyond: ReviewStatus::NotStarted,
        no_prior: ReviewStatus::NotStarted,
        notes: ReviewNotes::Keep,
    });
    let mut problems = Vec::new();
    for v in values {
        let mut lacks = Vec::new();
        if cfg.require_notes && v.notes.as_deref().is_none_or(|n| n.trim().is_empty()) {
            lacks.push("no notes".to_string());
        }
        if cfg.require_attachments && v.attachments == 0 {
            lacks.push("no supporting attachment".to_string());
        }
        if let (Some(t), true, Some(value)) = (&threshold, v.numeric, &v.value) {
            let verdict = judge(t, value, v.prior.as_deref());
            if verdict.flagged {
                lacks.push(match &verdict.delta_percent {
                    Some(p) => format!(
                        "{p}% from the prior year's {} (limit {}%)",
                        verdict.prior.as_deref().unwrap_or_default(),
                        t.max_change_percent.unwrap_or_default()
                    ),
                    None => "no prior year value to compare with".to_string(),
                });
            }
        }
        if !lacks.is_empty() {
            problems.push(format!("{}: {}", v.label(), lacks.join("; ")));
        }
    }
    let who = format!("esg-sync reviewer `{}`", cfg.name);
    if problems.is_empty() {
        let mut passed = Vec::new();
        if cfg.require_notes {
            passed.push("notes present".to_string());
        }
        if cfg.require_attachments {
            passed.push("supporting attachments present".to_string());
        }
        if let Some(p) = cfg.max_change_percent {
            passed.push(format!("within {p}% of the prior year"));
        }
        let checks = if passed.is_empty() {
            "no checks configured".to_string()
        } else {
            passed.join(", ")
        };
        return Some(Verdict {
            action: DecisionAction::Approve,
            comment: format!(
                "Auto-approved by {who}: {} value(s) checked: {checks}.",
                values.len()
            ),
            problems,
        });
    }
    Some(Verdict {
        action: DecisionAction::Reject,
        comment: format!(
            "Auto-rejected by {who}: {}. Add what is missing and resubmit.",
            problems.join(". ")
        ),
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ReviewerConfig {
        ReviewerConfig {
            name: "final-review".into(),
            program: "P".into(),
            principal: "U-bot".into(),
            schedule: None,
            timezone: "UTC".into(),
            require_notes: true,
            require_attachments: true,
            max_change_percent: Some(10.0),
            dry_run: false,
        }
    }

    fn linked(notes: Option<&str>, attachments: usize, value: &str, prior: Option<&str>) -> Linked {
        Linked {
            metric: "Scope 1".into(),
            period: "2025-Q1".into(),
            coordinates: "Facility=AMES-IA".into(),
            value: Some(value.into()),
            notes: notes.map(str::to_string),
            attachments,
            numeric: true,
            prior: prior.map(str::to_string),
        }
    }

    #[test]
    fn a_supported_task_is_approved_naming_the_checks() {
        let v = decide(&cfg(), &[linked(Some("audited"), 1, "105", Some("100"))]).unwrap();
        assert_eq!(v.action, DecisionAction::Approve);
        assert_eq!(
            v.comment,
            "Auto-approved by esg-sync reviewer `final-review`: 1 value(s) checked: notes present, supporting attachments present, within 10% of the prior year."
        );
    }

    #[test]
    fn a_rejection_names_each_value_and_what_it_lacks() {
        let v = decide(
            &cfg(),
            &[
                linked(Some("ok"), 1, "105", Some("100")),
                linked(Some(" "), 0, "150", Some("100")),
                linked(Some("ok"), 2, "5", None),
            ],
        )
        .unwrap();
        assert_eq!(v.action, DecisionAction::Reject);
        assert_eq!(
            v.problems,
            vec![
                "Scope 1 2025-Q1 (Facility=AMES-IA): no notes; no supporting attachment; 50.0% from the prior year's 100 (limit 10%)",
                "Scope 1 2025-Q1 (Facility=AMES-IA): no prior year value to compare with",
            ]
        );
        assert!(v.comment.ends_with("Add what is missing and resubmit."));
        assert!(decide(&cfg(), &[]).is_none());
    }
}
