//! Message handlers: what the state does with each [`Msg`] from a background job or helper
//! thread, one function per message. Messages of a cancelled or replaced job are dropped; a
//! message that does not fit the scene it is meant for is reported, never dropped in silence.

use super::jobs::JobKind;
use super::scene::Scene;
use super::{AppState, Effect};
use crate::app::protocol::Msg;
use crate::app::protocol::{GridCells, Source};
use crate::layout_io::LayoutEntry;
use crate::progress::Stage;
use crate::render::{AtlasPlan, PreparedCell};
use ndarray::Array2;
use std::path::PathBuf;
use std::sync::Arc;

/// Most warnings kept for the panel (older ones scroll out).
const MAX_WARNINGS: usize = 200;

impl AppState {
    /// Handle a message from a background job or helper thread.
    pub fn handle(&mut self, msg: Msg) {
        let current_job = self.job.as_ref().map(|j| j.id);
        if let Some(job) = msg.job() {
            if Some(job) != current_job {
                return;
            }
        }
        match msg {
            Msg::Stage { stage, total, .. } => self.on_stage(stage, total),
            Msg::Advance { stage, done, .. } => self.on_advance(stage, done),
            Msg::Warn { text, .. } => {
                // also on stderr, like the command line's warnings (skipped files name the file)
                log::warn!("{text}");
                self.warn(text)
            }
            Msg::Warning { text } => {
                self.error(text.clone());
                self.warn(text);
            }
            Msg::Scanned {
                paths,
                source,
                plan,
                ..
            } => self.on_scanned(paths, source, plan),
            Msg::Layout {
                entries,
                grid,
                tsne,
                ..
            } => self.on_layout(entries, grid, tsne),
            Msg::Thumb { index, cell, .. } => self.on_thumb(index, cell),
            Msg::Missing { index, .. } => self.on_missing(index),
            Msg::Features { features, rows, .. } => self.on_features(features, rows),
            Msg::TsneFrame {
                iteration,
                iterations,
                points,
                ..
            } => {
                let progress = (iteration + 1) as f64 / iterations.max(1) as f64;
                self.on_tsne_points(points, Some(progress))
            }
            Msg::TsneDone { points, .. } => self.on_tsne_points(points, None),
            Msg::Grid {
                cols, rows, cells, ..
            } => self.on_grid(cols, rows, cells),
            Msg::Map { map, .. } => self.on_map(map),
            Msg::Grown {
                map,
                removed,
                added,
                moved,
                ..
            } => self.on_grown(map, removed, added, moved),
            Msg::Watched { added, removed } => self.on_watched(added, removed),
            Msg::Autosaved { path, result } => {
                if let Err(e) = result {
                    let text = format!("autosave to {} failed: {e}", path.display());
                    self.error(text.clone());
                    self.warn(text);
                }
            }
            Msg::Done { .. } => self.on_done(),
            Msg::Failed { error, .. } => self.on_failed(error),
            Msg::Lightbox { .. } => {} // handled by the glue (it owns the GUI textures)
            Msg::Saved { path, result } => match result {
                Ok(()) => self.notify(format!("saved {}", path.display())),
                Err(e) => self.error(format!("could not save {}: {e}", path.display())),
            },
            Msg::DialogResult { kind, result } => self.on_dialog_result(kind, result),
            Msg::Opened { path, is_dir } => self.on_opened(path, is_dir),
            Msg::Cell { scene, index, cell } => self.on_reloaded_cell(scene, index, cell),
            Msg::CaptureFolder { dir, result } => self.on_capture_folder(dir, result),
            Msg::Clusters { scene, result } => self.on_clusters(scene, result),
            Msg::Metadata { path, result } => self.on_metadata(path, result),
            Msg::Copied { dir, result } => self.on_copied(dir, result),
        }
    }

    /// A warning for the panel (kept, newest last).
    pub fn warn(&mut self, text: String) {
        self.overlays.warnings.push(text);
        if self.overlays.warnings.len() > MAX_WARNINGS {
            self.overlays.warnings.remove(0);
        }
    }

    /// A message that does not fit the scene it belongs to: say so (in the status line and
    /// the warnings) instead of dropping it in silence.
    pub(super) fn mismatch(&mut self, what: &str, expected: usize, got: usize) {
        let text =
            format!("ignored {what}: it has {got} entries but the layout has {expected} images");
        log::warn!("{text}");
        self.error(text.clone());
        self.warn(text);
    }

    fn on_stage(&mut self, stage: Stage, total: u64) {
        if let Some(j) = self.job.as_mut() {
            j.stage = stage;
            j.total = total;
            j.done = 0;
            j.stage_started = self.now;
        }
    }

    fn on_advance(&mut self, stage: Stage, done: u64) {
        if let Some(j) = self.job.as_mut() {
            if j.stage == stage {
                j.done = done;
            }
        }
    }

    fn on_scanned(&mut self, paths: Vec<PathBuf>, source: Source, plan: AtlasPlan) {
        let Some(scene_id) = self.job.as_ref().map(|j| j.scene) else {
            return;
        };
        if let Some(old) = self.pending.take() {
            self.effects.push(Effect::DropScene { scene: old.id });
        }
        let mut scene = Scene::new(scene_id, source, paths);
        scene.capacity = scene.capacity.max(plan.count);
        self.growing.highlights.clear();
        self.effects.push(Effect::CreateScene {
            scene: scene_id,
            plan,
        });
        self.effects.push(Effect::Positions { scene: scene_id });
        self.pending = Some(scene);
        self.t = 0.0;
        self.overlays.hovered = None;
        self.overlays.lightbox = None;
        self.fit_camera(false);
    }

    /// A loaded layout's points, its stored grid and the t-SNE settings it was made with
    /// (`None` when the file does not say).
    fn on_layout(
        &mut self,
        entries: Vec<LayoutEntry>,
        grid: Option<GridCells>,
        tsne: Option<[f32; 2]>,
    ) {
        let Some(scene) = self.job_scene() else {
            return;
        };
        if entries.len() != scene.len() {
            let n = scene.len();
            return self.mismatch("a loaded layout", n, entries.len());
        }
        for (i, e) in entries.iter().enumerate() {
            scene.points[i] = e.point;
        }
        scene.tsne_known = tsne.is_some();
        if let Some([perplexity, theta]) = tsne {
            scene.perplexity = perplexity;
            scene.theta = theta;
        }
        let id = scene.id;
        self.effects.push(Effect::Positions { scene: id });
        if let Some(g) = grid {
            self.set_grid(id, g);
        }
        // The sliders show what the layout was made with; unknown settings leave them alone
        // (the panel disables them until the user asks for a re-run). Sliders the user moved
        // during the load are kept: the load ends with that re-run.
        if let (Some([perplexity, theta]), false) = (tsne, self.retsne_after_job) {
            self.analysis.perplexity = perplexity;
            self.analysis.theta = theta;
            if let Some(j) = self.job.as_ref() {
                if let Ok(mut s) = j.settings.lock() {
                    s.perplexity = perplexity;
                    s.theta = theta;
                }
            }
        }
        if self.framing.fitted {
            self.fit_camera(true);
        }
    }

    fn on_thumb(&mut self, index: usize, cell: PreparedCell) {
        let Some(scene) = self.job_scene() else {
            return;
        };
        if index >= scene.len() {
            let n = scene.len();
            return self.mismatch("a thumbnail", n, index + 1);
        }
        scene.aspects[index] = crate::render::layout::sanitize_aspect(cell.aspect);
        scene.thumbs_loaded += 1;
        let id = scene.id;
        self.effects.push(Effect::Thumb {
            scene: id,
            index,
            cell,
        });
    }

    fn on_missing(&mut self, index: usize) {
        let Some(scene) = self.job_scene() else {
            return;
        };
        if index >= scene.len() {
            let n = scene.len();
            return self.mismatch("a missing-image notice", n, index + 1);
        }
        scene.missing += 1;
        let id = scene.id;
        self.effects.push(Effect::Placeholder { scene: id, index });
    }

    fn on_features(&mut self, features: Arc<Array2<f32>>, rows: Vec<usize>) {
        let Some(scene) = self.job_scene() else {
            return;
        };
        if let Some(&bad) = rows.iter().find(|&&r| r >= scene.len()) {
            let n = scene.len();
            return self.mismatch("the features", n, bad + 1);
        }
        let id = scene.id;
        let mut hide = vec![];
        if !rows.is_empty() {
            let mut used = vec![false; scene.len()];
            for &r in &rows {
                used[r] = true;
            }
            for (i, (u, now_used)) in scene.used.iter_mut().zip(used).enumerate() {
                if *u && !now_used {
                    hide.push(i);
                }
                *u = now_used;
            }
        }
        scene.features = Some(features);
        scene.reduced_rows = rows;
        for index in hide {
            self.effects.push(Effect::Visibility {
                scene: id,
                index,
                visible: false,
            });
        }
    }

    /// A live t-SNE frame (`progress`: fraction of the run done) or the final points (`None`).
    fn on_tsne_points(&mut self, points: Vec<[f32; 2]>, progress: Option<f64>) {
        let settings = self
            .job
            .as_ref()
            .and_then(|j| j.settings.lock().ok().map(|s| *s))
            .unwrap_or(self.analysis);
        let Some(scene) = self.job_scene() else {
            return;
        };
        let idx = scene.used_indices();
        if idx.len() != points.len() {
            return self.mismatch("a t-SNE frame", idx.len(), points.len());
        }
        let before = scene.points.clone();
        for (&i, p) in idx.iter().zip(&points) {
            scene.points[i] = *p;
        }
        let id = scene.id;
        let frame = scene.points.clone();
        self.play_frame(id, before, frame, progress);
        let Some(scene) = self.scene_mut(id) else {
            return;
        };
        scene.perplexity = settings.perplexity;
        scene.theta = settings.theta;
        scene.tsne_known = true;
        self.effects.push(Effect::Positions { scene: id });
        // refit once per frame (in update), not once per message
        self.framing.refit = true;
    }

    fn on_grid(&mut self, cols: u32, rows: u32, cells: Vec<[u32; 2]>) {
        let Some(scene) = self.job_scene() else {
            return;
        };
        let idx = scene.used_indices();
        if idx.len() != cells.len() {
            return self.mismatch("a grid", idx.len(), cells.len());
        }
        let mut full = vec![[0, 0]; scene.len()];
        for (&i, c) in idx.iter().zip(&cells) {
            full[i] = *c;
        }
        let id = scene.id;
        self.set_grid(
            id,
            GridCells {
                cols,
                rows,
                cells: full,
            },
        );
    }

    fn on_done(&mut self) {
        let Some(job) = self.job.take() else { return };
        if job.kind == JobKind::Retsne
            && self.scene_mut(job.scene).is_some_and(|s| s.grid.is_none())
        {
            // the re-run produced no usable layout: keep the previous one
            if let Some(r) = job.restore {
                self.restore(job.scene, r);
            }
            return self.error("the t-SNE re-run gave no layout; the previous one is kept");
        }
        if matches!(job.kind, JobKind::Analyze | JobKind::Load) {
            self.tsne_unlocked = None;
            if let Some(scene) = self.pending.take() {
                if let Some(old) = self.current.replace(scene) {
                    self.effects.push(Effect::DropScene { scene: old.id });
                }
            }
        }
        if job.kind == JobKind::Grow {
            // the clusters grow with the map: newcomers join the cluster beside them
            self.find_clusters(true);
            self.after_map_changed();
            return self.maybe_start_watch();
        }
        if matches!(job.kind, JobKind::Analyze | JobKind::Load) {
            // another map: its own clusters (from the file beside a loaded layout)
            self.clusters.found = None;
            self.clusters.layout_file = None;
        }
        // found anew; after a re-run, the curator's names follow the groups they named
        self.find_clusters(false);
        self.after_map_changed();
        if let Some(s) = self.current.as_ref() {
            let text = format!("{} images laid out", s.used_count());
            self.notify(text);
        }
        if matches!(job.kind, JobKind::Analyze | JobKind::Retsne) {
            self.autosave_now();
        }
        if matches!(job.kind, JobKind::Analyze | JobKind::Load) {
            // another map: the watch (and what it queued) starts over on its folder
            self.growing.watch = None;
        }
        self.maybe_start_watch();
        if self.framing.fitted {
            self.fit_camera(true);
        }
        if std::mem::take(&mut self.retsne_after_job) {
            // The sliders were moved while the layout loaded: that is a request to re-run,
            // measured from where they stood when the load started.
            if self.current.as_ref().is_some_and(|s| !s.tsne_known) {
                self.tsne_unlocked = Some(job.started_with);
            }
            self.start_retsne();
        }
    }

    fn on_failed(&mut self, error: String) {
        let kind = self.job.as_ref().map(|j| j.kind);
        // put things back as a cancel would, then say why
        self.cancel_job();
        self.overlays.notices.pop();
        let what = match kind {
            Some(JobKind::Load) => "loading failed",
            Some(JobKind::Retsne) => "t-SNE failed",
            _ => "analysis failed",
        };
        let text = format!("{what}: {error}");
        self.warn(text.clone());
        self.error(text);
    }

    pub(super) fn set_grid(&mut self, scene: u64, grid: GridCells) {
        if let Some(s) = self.scene_mut(scene) {
            s.grid = Some(grid);
            self.effects.push(Effect::Grid { scene });
        }
    }
}
