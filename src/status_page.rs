//! The status page (`GET /` on the daemon's listen address): each pipeline with its last runs,
//! its next run, the replica holding it, the last run's first rejects and a chart of the values
//! written per run. Server-rendered HTML with inline CSS and SVG: no JavaScript, nothing from
//! a CDN. Pure: it renders plain data that `server` gathers.

use chrono::{DateTime, Utc};

use crate::outcome::{HandEdit, Reject};
use crate::store::RunRecord;

/// Runs the chart and the table show.
pub const RUNS_SHOWN: i64 = 30;
/// Rejects of the last run the page lists (the CSV has them all).
pub const REJECTS_SHOWN: i64 = 50;

/// One pipeline as the page shows it.
#[derive(Debug, Clone, Default)]
pub struct PipelineView {
    pub name: String,
    /// Newest first, at most [`RUNS_SHOWN`].
    pub runs: Vec<RunRecord>,
    pub next_run: Option<DateTime<Utc>>,
    /// The replica holding the pipeline's lease now, if one does.
    pub holder: Option<String>,
    /// The first rejects of the newest run, and how many it has.
    pub rejects: Vec<Reject>,
    pub rejects_total: i64,
    /// The values the newest run found edited by hand in Workiva.
    pub hand_edits: Vec<HandEdit>,
}

/// The whole page.
#[derive(Debug, Clone)]
pub struct Page {
    /// The replica serving the page.
    pub replica: String,
    pub now: DateTime<Utc>,
    pub stopping: bool,
    pub pipelines: Vec<PipelineView>,
}

/// Text made safe for HTML, in an element or an attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn written(r: &RunRecord) -> i64 {
    r.counts.created + r.counts.updated + r.counts.deleted
}

/// How long a run took, as a person reads it.
fn duration(r: &RunRecord) -> String {
    match r.finished_at {
        Some(e) => {
            let ms = (e - r.started_at).num_milliseconds().max(0);
            if ms < 60_000 {
                format!("{:.1} s", ms as f64 / 1000.0)
            } else {
                format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
            }
        }
        None => "going".into(),
    }
}

/// When, shortly: `2026-12-01 19:16:41 UTC`.
fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Bars of the values each run wrote, oldest on the left.
pub fn chart(runs: &[RunRecord]) -> String {
    let (w, h, gap) = (12, 60, 3);
    let shown: Vec<&RunRecord> = runs.iter().take(RUNS_SHOWN as usize).rev().collect();
    let top = shown.iter().map(|r| written(r)).max().unwrap_or(0).max(1);
    let width = shown.len().max(1) * (w + gap);
    let mut svg = format!(
        r#"<svg class="chart" role="img" aria-label="values written per run, last {n} runs" width="{width}" height="{h}" viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">"#,
        n = shown.len()
    );
    for (i, r) in shown.iter().enumerate() {
        let v = written(r);
        let bar = ((v as f64 / top as f64) * (h - 2) as f64).round() as i64;
        let bar = if v > 0 { bar.max(2) } else { 1 };
        svg.push_str(&format!(
            r#"<rect class="{status}" x="{x}" y="{y}" width="{w}" height="{bar}"><title>run {id}: {v} written, {status}</title></rect>"#,
            status = r.status.as_str(),
            x = i * (w + gap),
            y = h as i64 - bar,
            id = r.id,
        ));
    }
    svg.push_str("</svg>");
    svg
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}\
th{background:#f3f3f3}.succeeded{fill:#2e7d32;color:#2e7d32}.partial{fill:#f9a825;color:#b26a00}\
.failed{fill:#c62828;color:#c62828}.interrupted,.running,.busy{fill:#607d8b;color:#455a64}\
.meta{color:#555;font-size:.9rem}.chart{display:block;margin:.5rem 0;background:#fafafa}";

/// The page's one stylesheet as a Content-Security-Policy source (`'sha256-…'`), so the
/// policy allows that inline style and nothing else.
pub fn style_source() -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = sha2::Sha256::digest(STYLE.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The page.
pub fn render(p: &Page) -> String {
    let mut out = String::new();
    out.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<meta http-equiv=\"refresh\" content=\"30\">");
    out.push_str("<title>esg-sync status</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><h1>esg-sync status</h1>");
    out.push_str(&format!(
        "<p class=\"meta\">Served by replica <code>{}</code> at {}{}. The page refreshes every 30 s.</p>",
        escape(&p.replica),
        p.now.format("%Y-%m-%d %H:%M:%S UTC"),
        if p.stopping { "; it is stopping" } else { "" }
    ));
    if p.pipelines.is_empty() {
        out.push_str("<p>No pipeline has a schedule.</p>");
    }
    for v in &p.pipelines {
        out.push_str(&pipeline(v));
    }
    out.push_str("</body></html>");
    out
}

fn pipeline(v: &PipelineView) -> String {
    let mut out = format!(
        "<section class=\"pipeline\" id=\"pipeline-{id}\"><h2>{name}</h2>",
        id = escape(&v.name),
        name = escape(&v.name)
    );
    let last = v.runs.first();
    out.push_str(&format!(
        "<p class=\"meta\">Last run: {last}. Next run: {next}. Held by: {holder}.</p>",
        last = last
            .map(|r| format!(
                "<span class=\"{s}\">{s}</span> ({when})",
                s = r.status.as_str(),
                when = when(&r.started_at)
            ))
            .unwrap_or_else(|| "none yet".into()),
        next = v
            .next_run
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "not scheduled".into()),
        holder = v
            .holder
            .as_deref()
            .map(|h| format!("<code>{}</code>", escape(h)))
            .unwrap_or_else(|| "no replica (idle)".into()),
    ));
    if !v.runs.is_empty() {
        out.push_str(&runs_table(&v.runs));
    }
    if let Some(r) = last {
        out.push_str(&rejects(r, v));
        out.push_str(&hand_edits(r.id, &v.hand_edits));
    }
    out.push_str("</section>");
    out
}

/// The pipeline's recent runs: the chart and a row each, linking each run's ledger entries.
fn runs_table(runs: &[crate::store::RunRecord]) -> String {
    let mut out = String::new();
    out.push_str(&chart(runs));
    out.push_str("<table class=\"runs\"><tr><th>run</th><th>started</th><th>status</th><th>duration</th><th>read</th><th>created</th><th>updated</th><th>deleted</th><th>unchanged</th><th>rejected</th><th>locked</th><th>hand-edited</th><th>ledger</th><th>replica</th><th>message</th></tr>");
    for r in runs {
        let c = &r.counts;
        out.push_str(&format!(
            "<tr><td>{id}</td><td>{started}</td><td class=\"{s}\">{s}</td><td>{d}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{ledger}</td><td>{holder}</td><td>{msg}</td></tr>",
            c.read,
            c.created,
            c.updated,
            c.deleted,
            c.unchanged,
            c.rejected,
            c.locked,
            c.hand_edited,
            id = r.id,
            // What the run changed in Workiva, entry by entry (a run that changed nothing
            // has none).
            ledger = if c.created + c.updated + c.deleted > 0 {
                format!("<a class=\"ledger\" href=\"/runs/{}/ledger.csv\" download>entries</a>", r.id)
            } else {
                String::new()
            },
            started = when(&r.started_at),
            s = r.status.as_str(),
            d = duration(r),
            holder = escape(r.holder.as_deref().unwrap_or("")),
            msg = escape(r.message.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</table>");
    out
}

/// The first rejects of run `r` and a link to all of them.
fn rejects(r: &crate::store::RunRecord, v: &PipelineView) -> String {
    let mut out = String::new();
    if v.rejects_total == 0 {
        out.push_str(&format!("<p>Run {} rejected no row.</p>", r.id));
    } else {
        out.push_str(&format!(
            "<h3>Rejects of run {id}</h3><p>{shown} of {total} shown. <a class=\"rejects-csv\" href=\"/runs/{id}/rejects.csv\" download>Download all {total} as CSV</a></p>",
            id = r.id,
            shown = v.rejects.len(),
            total = v.rejects_total
        ));
        out.push_str("<table class=\"rejects\"><tr><th>file</th><th>row</th><th>field</th><th>reason</th><th>metric</th><th>period</th><th>value</th></tr>");
        for j in &v.rejects {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&j.source_file),
                j.source_row,
                escape(&j.field),
                escape(&j.reason),
                escape(j.metric_key.as_deref().unwrap_or("")),
                escape(j.period.as_deref().unwrap_or("")),
                escape(j.value.as_deref().unwrap_or("")),
            ));
        }
        out.push_str("</table>");
    }
    out
}

/// The values run `run` found edited by hand in Workiva, as a table (nothing when none).
fn hand_edits(run: i64, edits: &[HandEdit]) -> String {
    let Some(first) = edits.first() else {
        return String::new();
    };
    let done = if first.kept { "kept" } else { "overwritten" };
    let mut out = format!(
        "<h3>Hand edits of run {run}</h3><p>{} values edited by hand in Workiva since esg-sync wrote them, {done}.</p>",
        edits.len()
    );
    out.push_str("<table class=\"hand-edits\"><tr><th>metric</th><th>period</th><th>coordinates</th><th>in Workiva</th><th>notes in Workiva</th><th>esg-sync wrote</th><th>since run</th><th>the lake says</th></tr>");
    for e in edits {
        let cell = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.metric),
            escape(&e.period),
            escape(&e.coordinates),
            cell(&e.found_value),
            cell(&e.found_notes),
            cell(&e.written_value),
            e.since_run,
            cell(&e.lake_value),
        ));
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Counts;

    fn run(id: i64, status: &str, created: i64) -> RunRecord {
        RunRecord {
            id,
            pipeline: "p".into(),
            started_at: "2026-12-01T10:00:00.000Z".parse().unwrap(),
            finished_at: Some("2026-12-01T10:00:02.500Z".parse().unwrap()),
            status: crate::store::RunStatus::parse(status).unwrap(),
            counts: Counts {
                created,
                ..Counts::default()
            },
            message: Some("<script>alert(1)</script>".into()),
            holder: Some("host/1/abc".into()),
            auto_completed: 0,
            flagged: 0,
        }
    }

    #[test]
    fn the_page_escapes_what_it_shows_and_links_the_rejects() {
        let page = Page {
            replica: "host/1/abc".into(),
            now: Utc::now(),
            stopping: false,
            pipelines: vec![PipelineView {
                name: "emissions & <energy>".into(),
                runs: vec![run(2, "partial", 5), run(1, "succeeded", 10)],
                next_run: None,
                holder: None,
                rejects: vec![Reject {
                    source_file: "a.parquet".into(),
                    source_row: 3,
                    field: "value".into(),
                    reason: "not a number".into(),
                    metric_key: None,
                    period: None,
                    value: Some("<b>".into()),
                }],
                rejects_total: 7,
                hand_edits: Vec::new(),
            }],
        };
        let html = render(&page);
        assert!(html.contains("emissions &amp; &lt;energy&gt;"));
        assert!(!html.contains("<script>"), "run messages are escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("href=\"/runs/2/rejects.csv\""));
        assert!(
            html.contains("href=\"/runs/2/ledger.csv\""),
            "a run that changed values links its entries"
        );
        assert!(html.contains("1 of 7 shown"));
        assert!(html.contains("2.5 s"));
        assert_eq!(html.matches("<rect").count(), 2, "one bar per run");
        assert!(!html.contains("<script"), "no JavaScript at all");
    }

    #[test]
    fn the_chart_scales_to_the_largest_run_and_keeps_empty_runs_visible() {
        let svg = chart(&[
            run(3, "succeeded", 0),
            run(2, "succeeded", 100),
            run(1, "failed", 50),
        ]);
        // Oldest first: run 1 (50 of 100 → 29 px), run 2 (58 px), run 3 (1 px).
        assert!(
            svg.contains(r#"x="0" y="31" width="12" height="29""#),
            "{svg}"
        );
        assert!(svg.contains(r#"height="58""#));
        assert!(svg.contains(r#"height="1""#));
    }
}
