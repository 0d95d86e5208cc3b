//! Progress: how long-running stages report counts, warnings, thumbnails and live t-SNE frames,
//! and how they are cancelled. One interface ([`Reporter`]) with two faces: progress bars on
//! stderr for the CLI ([`CliReporter`], indicatif) and a channel for the GUI.

use image::RgbaImage;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The stages of an analysis, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    Scan,
    Features,
    Thumbs,
    Pca,
    Tsne,
    Grid,
    Clusters,
    Render,
    Save,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Scan => "scan",
            Stage::Features => "features",
            Stage::Thumbs => "thumbs",
            Stage::Pca => "pca",
            Stage::Tsne => "t-SNE",
            Stage::Grid => "grid",
            Stage::Clusters => "clusters",
            Stage::Render => "render",
            Stage::Save => "save",
        }
    }
}

/// Receives progress from the pipeline. All methods may be called from worker threads.
pub trait Reporter: Send + Sync {
    /// A stage starts; `total` is the number of steps (0 when unknown).
    fn begin(&self, stage: Stage, total: u64);
    /// `done` steps of the current stage are complete (absolute, not a delta).
    fn advance(&self, stage: Stage, done: u64);
    /// A stage ended; `summary` is a one-line description of what it did.
    fn finish(&self, stage: Stage, summary: &str, elapsed: Duration);
    /// Something was skipped or looks wrong; the run goes on.
    fn warn(&self, message: &str);
    /// The flag that cancels the run when set.
    fn cancel_flag(&self) -> &AtomicBool;
    fn cancelled(&self) -> bool {
        self.cancel_flag().load(Ordering::Relaxed)
    }
    /// Whether [`Reporter::image_ready`] wants thumbnails (the GUI does; the CLI does not).
    fn wants_thumbnails(&self) -> bool {
        false
    }
    /// Image `index` of the analysis was decoded; its display thumbnail (premultiplied RGBA).
    fn image_ready(&self, _index: usize, _path: &Path, _thumb: &RgbaImage) {}
    /// Whether [`Reporter::tsne_frame`] wants the embedding every `n`-th iteration (0 = never).
    fn tsne_frame_every(&self) -> usize {
        0
    }
    /// The current t-SNE embedding (raw, unnormalised coordinates).
    fn tsne_frame(
        &self,
        _iteration: usize,
        _iterations: usize,
        _embedding: &[[f32; 2]],
        _kl: Option<f32>,
    ) {
    }
}

/// A reporter that shows nothing and collects warnings (tests, library use).
#[derive(Default)]
pub struct SilentReporter {
    cancel: AtomicBool,
    pub warnings: Mutex<Vec<String>>,
}

impl SilentReporter {
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }
    /// Cancel whatever runs with this reporter.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Reporter for SilentReporter {
    fn begin(&self, _: Stage, _: u64) {}
    fn advance(&self, _: Stage, _: u64) {}
    fn finish(&self, _: Stage, _: &str, _: Duration) {}
    fn warn(&self, message: &str) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message.to_string());
        }
    }
    fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }
}

/// Progress bars with count, rate and ETA on stderr, and a one-line summary per stage.
pub struct CliReporter {
    multi: MultiProgress,
    bars: Mutex<HashMap<Stage, ProgressBar>>,
    quiet: bool,
    cancel: Arc<AtomicBool>,
}

impl CliReporter {
    /// `quiet` hides bars and summaries (warnings are still printed).
    pub fn new(quiet: bool) -> Self {
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        CliReporter {
            multi,
            bars: Mutex::new(HashMap::new()),
            quiet,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag that cancels this run (set by Ctrl-C / SIGTERM once [`Self::stop_on_signals`]
    /// was called).
    pub fn cancel_handle(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Ctrl-C and SIGTERM cancel the run cleanly (see [`crate::util::signals`]).
    pub fn stop_on_signals(&self) {
        if let Err(e) = crate::util::signals::install(Some(self.cancel.clone())) {
            self.warn(&format!(
                "cannot handle Ctrl-C ({e}); it will end the run at once"
            ));
        }
    }

    /// Print a line above the bars without tearing them.
    pub fn println(&self, line: &str) {
        if self.quiet {
            return;
        }
        self.multi.suspend(|| eprintln!("{line}"));
    }

    /// Route `log` records (warnings from library code) through the bars.
    pub fn install_logger(self: &Arc<Self>, level: log::LevelFilter) {
        let logger = BarLogger {
            reporter: self.clone(),
            level,
        };
        if log::set_boxed_logger(Box::new(logger)).is_ok() {
            log::set_max_level(level);
        }
    }
}

impl Reporter for CliReporter {
    fn begin(&self, stage: Stage, total: u64) {
        let bar = if total > 0 {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>9.bold} [{bar:30.cyan/blue}] {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        } else {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{prefix:>9.bold} {spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        };
        bar.set_prefix(stage.label());
        let bar = self.multi.add(bar);
        if let Ok(mut bars) = self.bars.lock() {
            if let Some(old) = bars.insert(stage, bar) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, stage: Stage, done: u64) {
        if let Ok(bars) = self.bars.lock() {
            if let Some(bar) = bars.get(&stage) {
                bar.set_position(done);
            }
        }
    }

    fn finish(&self, stage: Stage, summary: &str, elapsed: Duration) {
        if let Ok(mut bars) = self.bars.lock() {
            if let Some(bar) = bars.remove(&stage) {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
        }
        self.println(&format!(
            "{:>9} {summary} ({})",
            stage.label(),
            format_duration(elapsed)
        ));
    }

    fn warn(&self, message: &str) {
        self.multi.suspend(|| eprintln!("warning: {message}"));
    }

    fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }
}

struct BarLogger {
    reporter: Arc<CliReporter>,
    level: log::LevelFilter,
}

impl log::Log for BarLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.level && metadata.target().starts_with("image_tsne_live")
    }
    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{}: {}",
            record.level().as_str().to_lowercase(),
            record.args()
        );
        self.reporter.multi.suspend(|| eprintln!("{line}"));
    }
    fn flush(&self) {}
}

/// Print `log` records of this crate to stderr (the live app, which has no progress bars).
pub fn init_stderr_logger(level: log::LevelFilter) {
    struct Stderr(log::LevelFilter);
    impl log::Log for Stderr {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.level() <= self.0 && m.target().starts_with("image_tsne_live")
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) {
                eprintln!("{}: {}", r.level().as_str().to_lowercase(), r.args());
            }
        }
        fn flush(&self) {}
    }
    if log::set_boxed_logger(Box::new(Stderr(level))).is_ok() {
        log::set_max_level(level);
    }
}

/// `850 ms`, `12.3 s`, `2 min 05 s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

/// Measures a stage and reports its start and end.
pub struct StageTimer<'a> {
    reporter: &'a dyn Reporter,
    stage: Stage,
    start: Instant,
}

impl<'a> StageTimer<'a> {
    pub fn start(reporter: &'a dyn Reporter, stage: Stage, total: u64) -> Self {
        reporter.begin(stage, total);
        StageTimer {
            reporter,
            stage,
            start: Instant::now(),
        }
    }
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    /// Report the end with a summary; returns the wall time.
    pub fn finish(self, summary: &str) -> Duration {
        let elapsed = self.start.elapsed();
        self.reporter.finish(self.stage, summary, elapsed);
        elapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2 min 05 s");
    }

    #[test]
    fn silent_reporter_collects_warnings_and_cancels() {
        let r = SilentReporter::default();
        r.warn("a");
        assert_eq!(r.warnings(), vec!["a".to_string()]);
        assert!(!r.cancelled());
        r.cancel();
        assert!(r.cancelled());
    }
}
