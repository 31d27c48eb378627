//! A one-line progress bar on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Draws `[#####.....] done/total  N failed  R/s` in place.
pub struct Progress {
    total: u64,
    enabled: bool,
    started: Instant,
    width: usize,
}

impl Progress {
    /// A bar for `total` items, shown only when stderr is a terminal.
    pub fn new(total: u64) -> Progress {
        Progress::with_enabled(total, std::io::stderr().is_terminal())
    }

    pub fn with_enabled(total: u64, enabled: bool) -> Progress {
        Progress {
            total,
            enabled,
            started: Instant::now(),
            width: 30,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The line as it would be drawn.
    pub fn line(&self, done: u64, failed: u64) -> String {
        let frac = if self.total == 0 {
            1.0
        } else {
            done.min(self.total) as f64 / self.total as f64
        };
        let filled = (frac * self.width as f64).round() as usize;
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        format!(
            "[{}{}] {done}/{}  {failed} failed  {rate:.0}/s",
            "#".repeat(filled),
            ".".repeat(self.width - filled),
            self.total
        )
    }

    pub fn draw(&self, done: u64, failed: u64) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\x1b[K", self.line(done, failed));
            let _ = err.flush();
        }
    }

    /// Erase the bar so what follows starts on a clean line.
    pub fn finish(&self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion() {
        let p = Progress::with_enabled(10, false);
        let half = p.line(5, 1);
        assert!(
            half.starts_with(&format!("[{}{}]", "#".repeat(15), ".".repeat(15))),
            "{half}"
        );
        assert!(half.contains("5/10  1 failed"), "{half}");
        assert!(p.line(10, 0).starts_with(&format!("[{}]", "#".repeat(30))));
        assert!(Progress::with_enabled(0, false).line(0, 0).contains("0/0"));
    }
}
