//! The app's clock (real, or fixed for tests and snapshots) and its frame-time statistics.

use web_time::Instant;

/// The app's clock: real time, or a fixed value (tests and snapshots).
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    Real(Instant),
    Fixed(f64),
}

impl Clock {
    pub fn now(&self) -> f64 {
        match self {
            Clock::Real(t0) => t0.elapsed().as_secs_f64(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// Frame timing: the CPU time of building each frame, and the interval between frames.
#[derive(Clone, Debug, Default)]
pub struct FrameStats {
    /// `(build ms, interval ms)` of the last frames.
    pub recent: std::collections::VecDeque<(f64, f64)>,
    last_start: Option<f64>,
}

impl FrameStats {
    pub(crate) fn record(&mut self, start: f64, build: f64) {
        let interval = self.last_start.map(|t| (start - t) * 1e3).unwrap_or(0.0);
        self.last_start = Some(start);
        self.recent.push_back((build * 1e3, interval));
        if self.recent.len() > 240 {
            self.recent.pop_front();
        }
    }

    /// Mean and worst build time (ms), and mean interval (ms), over the recent frames.
    pub fn summary(&self) -> Option<(f64, f64, f64)> {
        let n = self.recent.len();
        if n < 2 {
            return None;
        }
        let mean = self.recent.iter().map(|r| r.0).sum::<f64>() / n as f64;
        let worst = self.recent.iter().map(|r| r.0).fold(0.0, f64::max);
        let interval = self.recent.iter().skip(1).map(|r| r.1).sum::<f64>() / (n - 1) as f64;
        Some((mean, worst, interval))
    }
}
