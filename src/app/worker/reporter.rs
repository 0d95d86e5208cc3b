//! The GUI's progress reporter: forwards stages, counts, warnings, prepared thumbnails and live
//! t-SNE frames to the UI channel, and restarts a running t-SNE when perplexity/theta change.

use super::{Msg, Workers, TSNE_FRAME_EVERY};
use crate::app::protocol::{AnalysisSettings, SharedSettings};
use crate::layout_io;
use crate::progress::{Reporter, Stage};
use crate::render::{prepare_cell, AtlasPlan};
use image::RgbaImage;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(super) fn read(settings: &SharedSettings) -> AnalysisSettings {
    settings.lock().map(|s| *s).unwrap_or_default()
}

/// A [`Reporter`] that forwards progress to the UI channel. `cancelled()` is also true when the
/// shared perplexity/theta changed under a running t-SNE, which then restarts.
pub(super) struct ChannelReporter<'a> {
    workers: &'a Workers,
    job: u64,
    pub(super) cancel: Arc<AtomicBool>,
    restart: AtomicBool,
    settings: SharedSettings,
    running: Mutex<Option<AnalysisSettings>>,
    thumbs: bool,
    /// The scene's atlas plan, once known: thumbnails are prepared for it.
    plan: Mutex<Option<AtlasPlan>>,
    last_advance: Mutex<Instant>,
}

impl<'a> ChannelReporter<'a> {
    pub(super) fn new(
        workers: &'a Workers,
        job: u64,
        cancel: Arc<AtomicBool>,
        settings: SharedSettings,
        thumbs: bool,
    ) -> Self {
        ChannelReporter {
            workers,
            job,
            cancel,
            restart: AtomicBool::new(false),
            settings,
            running: Mutex::new(None),
            thumbs,
            plan: Mutex::new(None),
            last_advance: Mutex::new(Instant::now()),
        }
    }

    pub(super) fn set_plan(&self, plan: AtlasPlan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(plan);
        }
    }

    /// t-SNE starts with these settings (a change of perplexity/theta restarts it), or ends.
    pub(super) fn set_running(&self, s: Option<AnalysisSettings>) {
        self.restart.store(false, Ordering::Relaxed);
        if let Ok(mut r) = self.running.lock() {
            *r = s;
        }
    }

    fn settings_changed(&self) -> bool {
        let running = self.running.lock().map(|r| *r).unwrap_or(None);
        match running {
            Some(r) => {
                let now = read(&self.settings);
                now.perplexity != r.perplexity || now.theta != r.theta
            }
            None => false,
        }
    }
}

impl Reporter for ChannelReporter<'_> {
    fn begin(&self, stage: Stage, total: u64) {
        self.workers.send(Msg::Stage {
            job: self.job,
            stage,
            total,
        });
    }
    fn advance(&self, stage: Stage, done: u64) {
        // At most ~30 updates a second.
        if let Ok(mut last) = self.last_advance.lock() {
            if last.elapsed() < Duration::from_millis(33) {
                return;
            }
            *last = Instant::now();
        }
        self.workers.send(Msg::Advance {
            job: self.job,
            stage,
            done,
        });
    }
    fn finish(&self, _stage: Stage, summary: &str, _elapsed: Duration) {
        log::info!("{summary}");
    }
    fn warn(&self, message: &str) {
        self.workers.send(Msg::Warn {
            job: self.job,
            text: message.to_string(),
        });
    }
    fn cancel_flag(&self) -> &AtomicBool {
        if self.settings_changed() {
            self.restart.store(true, Ordering::Relaxed);
            return &self.restart;
        }
        &self.cancel
    }
    fn wants_thumbnails(&self) -> bool {
        self.thumbs
    }
    fn image_ready(&self, index: usize, path: &Path, thumb: &RgbaImage) {
        let Some(plan) = self.plan.lock().ok().and_then(|p| *p) else {
            return;
        };
        match prepare_cell(&plan, thumb) {
            Ok(cell) => self.workers.send(Msg::Thumb {
                job: self.job,
                index,
                cell,
            }),
            Err(e) => self.warn(&format!(
                "{}: cannot make its thumbnail: {e}",
                path.display()
            )),
        }
    }
    fn tsne_frame_every(&self) -> usize {
        TSNE_FRAME_EVERY
    }
    fn tsne_frame(
        &self,
        iteration: usize,
        iterations: usize,
        embedding: &[[f32; 2]],
        _kl: Option<f32>,
    ) {
        let raw: Vec<[f64; 2]> = embedding
            .iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect();
        let points = layout_io::normalize_points(&raw);
        self.workers.send(Msg::TsneFrame {
            job: self.job,
            iteration,
            iterations,
            points,
        });
    }
}
