//! A progress line on stderr when it is a terminal: values landed of values to write.

/// A progress line on stderr when it is a terminal: values landed of values to write.
pub struct Progress {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    show: bool,
    label: String,
}

impl Progress {
    pub fn new(label: &str, total: usize) -> Self {
        use std::io::IsTerminal;
        Self {
            total,
            done: 0.into(),
            show: total > 0 && std::io::stderr().is_terminal(),
            label: label.to_string(),
        }
    }

    pub fn add(&self, n: usize) {
        let done = self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        if self.show {
            let width = 30;
            let filled = (done * width / self.total.max(1)).min(width);
            eprint!(
                "\r{} [{}{}] {done}/{} values",
                self.label,
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.total
            );
            if done >= self.total {
                eprintln!();
            }
        }
    }
}
