//! Progress a person can follow: each phase of a run (reading the source, listing Workiva's
//! values, sending and waiting on operations) as an `indicatif` bar on stderr when it is a
//! terminal, with its count, rate and time left; off a terminal, one log line per phase when
//! it ends, with its count and time.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One phase of a run.
pub struct Phase {
    bar: ProgressBar,
    pipeline: String,
    name: &'static str,
    unit: &'static str,
    started: Instant,
    /// Whether the bar is drawn (else the phase is logged when it ends).
    drawn: bool,
}

impl Phase {
    /// A phase of `total` units (`None`: not known ahead, a counter), drawn on stderr when it
    /// is a terminal.
    pub fn start(
        pipeline: &str,
        name: &'static str,
        unit: &'static str,
        total: Option<u64>,
    ) -> Self {
        use std::io::IsTerminal;
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::with_target(pipeline, name, unit, total, target)
    }

    /// The same, drawn to `target` (tests draw to a terminal of their own).
    pub fn with_target(
        pipeline: &str,
        name: &'static str,
        unit: &'static str,
        total: Option<u64>,
        target: ProgressDrawTarget,
    ) -> Self {
        let drawn = !target.is_hidden();
        let bar = ProgressBar::with_draw_target(total, target)
            .with_style(style(total.is_some(), unit))
            .with_prefix(pipeline.to_string())
            .with_message(name);
        if drawn {
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        Self {
            bar,
            pipeline: pipeline.to_string(),
            name,
            unit,
            started: Instant::now(),
            drawn,
        }
    }

    pub fn add(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Ends the phase: the bar is left showing its total; off a terminal, a log line.
    pub fn finish(self) {
        let n = self.bar.position();
        let secs = self.started.elapsed().as_secs_f64();
        if self.drawn {
            // Left as it ends: a phase cut short shows where it stopped.
            self.bar.abandon();
        } else {
            self.bar.finish_and_clear();
            tracing::info!(pipeline = %self.pipeline, phase = self.name, count = n, unit = self.unit, secs, "Phase done.");
        }
    }
}

/// The bar's look, the unit written in: a bar with time left when the total is known, a
/// counter otherwise.
fn style(counted: bool, unit: &str) -> ProgressStyle {
    let template = if counted {
        format!(
            "{{prefix}} {{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} {{per_sec}} eta {{eta}}"
        )
    } else {
        format!("{{prefix}} {{msg}} {{spinner}} {{human_pos}} {unit} {{per_sec}}")
    };
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A terminal that keeps what is drawn.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_phase_draws_its_count_rate_and_time_left_on_a_terminal() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let p = Phase::with_target("emissions", "sending", "values", Some(1000), target);
        p.add(250);
        std::thread::sleep(std::time::Duration::from_millis(250));
        p.add(250);
        p.finish();
        let drawn = screen.0.lock().unwrap().join("\n");
        let last = drawn
            .lines()
            .rev()
            .find(|l| l.contains("emissions"))
            .unwrap_or_default();
        assert!(last.contains("emissions sending ["), "{drawn}");
        assert!(last.contains("500/1,000 values"), "{drawn}");
        assert!(last.contains("/s") && last.contains("eta"), "{drawn}");
    }

    #[test]
    fn a_phase_without_a_total_counts() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let p = Phase::with_target("emissions", "reading", "rows", None, target);
        p.add(1_234_567);
        p.finish();
        let drawn = screen.0.lock().unwrap().join("\n");
        assert!(
            drawn.contains("emissions reading") && drawn.contains("1,234,567 rows"),
            "{drawn}"
        );
    }
}
