//! Jobs and restore: starting, replacing and cancelling the one background job, and putting a
//! scene back as it was when a t-SNE re-run is cancelled or fails.

use super::{AppState, Effect, SharedSettings, STILL_COMPUTING};
use crate::app::protocol::JobRequest;
use crate::app::protocol::{AnalysisSettings, GridCells};
use crate::progress::Stage;
use ndarray::Array2;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What kind of background job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Scan + features + t-SNE + grid of a folder (builds a new scene).
    Analyze,
    /// Open a layout JSON (builds a new scene; grid recomputed if absent).
    Load,
    /// Re-run t-SNE (and grid) on the shown scene with new perplexity/theta.
    Retsne,
    /// New images join the shown map, removed ones leave it (the watched folder changed).
    Grow,
}

/// A running background job, as the status line and progress bar see it.
#[derive(Debug)]
pub struct Job {
    pub id: u64,
    pub kind: JobKind,
    /// The scene the job builds or changes.
    pub scene: u64,
    pub stage: Stage,
    pub done: u64,
    pub total: u64,
    pub stage_started: f64,
    pub cancel: Arc<AtomicBool>,
    /// Perplexity/theta the job's t-SNE uses; changing them makes it restart its t-SNE.
    pub settings: SharedSettings,
    /// For `Retsne`: what to put back if it is cancelled or fails.
    pub(super) restore: Option<Restore>,
    /// The sliders when the job started.
    pub(super) started_with: AnalysisSettings,
}

impl Job {
    /// Fraction done of the current stage, when known.
    pub fn fraction(&self) -> Option<f32> {
        (self.total > 0).then(|| (self.done as f32 / self.total as f32).clamp(0.0, 1.0))
    }

    /// Seconds left in the current stage, from its rate so far.
    pub fn eta(&self, now: f64) -> Option<f64> {
        let elapsed = now - self.stage_started;
        (self.total > 0 && self.done > 0 && elapsed > 0.5)
            .then(|| elapsed / self.done as f64 * (self.total - self.done.min(self.total)) as f64)
    }
}

/// A scene's layout before a t-SNE re-run, and the slider values that made it.
#[derive(Debug)]
pub(super) struct Restore {
    points: Vec<[f32; 2]>,
    grid: Option<GridCells>,
    used: Vec<bool>,
    features: Option<Arc<Array2<f32>>>,
    reduced_rows: Vec<usize>,
    perplexity: f32,
    theta: f32,
    tsne_known: bool,
    map: Option<Arc<crate::map::MapState>>,
    sliders: AnalysisSettings,
}

impl AppState {
    pub(super) fn cancel_job(&mut self) {
        let Some(job) = self.job.take() else { return };
        // what is put back is shown as it is, not played back
        if self
            .playback
            .as_ref()
            .is_some_and(|(id, _)| *id == job.scene)
        {
            self.playback = None;
            self.effects.push(Effect::Positions { scene: job.scene });
        }
        job.cancel.store(true, Ordering::Relaxed);
        match job.kind {
            JobKind::Analyze | JobKind::Load => {
                if let Some(p) = self.pending.take() {
                    self.effects.push(Effect::DropScene { scene: p.id });
                }
                if job.kind == JobKind::Load {
                    // a re-run asked for during the load goes with it, and the sliders return
                    // to where they were (the file may have set them)
                    self.retsne_after_job = false;
                    self.analysis.perplexity = job.started_with.perplexity;
                    self.analysis.theta = job.started_with.theta;
                }
            }
            JobKind::Retsne => {
                if let Some(restore) = job.restore {
                    self.restore(job.scene, restore);
                }
            }
            // the map is changed only when the job's result arrives: nothing to put back
            JobKind::Grow => {}
        }
        self.notify("cancelled; the previous layout is kept");
        if self.framing.fitted {
            self.fit_camera(true);
        }
    }

    /// Put a scene back as it was before a t-SNE re-run.
    pub(super) fn restore(&mut self, id: u64, r: Restore) {
        self.analysis.perplexity = r.sliders.perplexity;
        self.analysis.theta = r.sliders.theta;
        let Some(scene) = self.scene_mut(id) else {
            return;
        };
        let changed: Vec<(usize, bool)> = scene
            .used
            .iter()
            .zip(&r.used)
            .enumerate()
            .filter(|(_, (now, before))| now != before)
            .map(|(i, (_, &before))| (i, before))
            .collect();
        scene.points = r.points;
        scene.grid = r.grid;
        scene.used = r.used;
        scene.features = r.features;
        scene.reduced_rows = r.reduced_rows;
        scene.perplexity = r.perplexity;
        scene.theta = r.theta;
        scene.tsne_known = r.tsne_known;
        scene.map = r.map;
        for (index, visible) in changed {
            self.effects.push(Effect::Visibility {
                scene: id,
                index,
                visible,
            });
        }
        self.effects.push(Effect::Positions { scene: id });
        self.effects.push(Effect::Grid { scene: id });
    }

    pub(super) fn new_job(
        &mut self,
        kind: JobKind,
        scene: u64,
    ) -> (u64, Arc<AtomicBool>, SharedSettings) {
        // one job at a time: a new one replaces (cancels) the running one
        if self.job.is_some() {
            self.cancel_job();
        }
        let id = self.next_id();
        let cancel = Arc::new(AtomicBool::new(false));
        let settings: SharedSettings = Arc::new(Mutex::new(self.analysis));
        self.job = Some(Job {
            id,
            kind,
            scene,
            stage: Stage::Scan,
            done: 0,
            total: 0,
            stage_started: self.now,
            cancel: cancel.clone(),
            settings: settings.clone(),
            restore: None,
            started_with: self.analysis,
        });
        (id, cancel, settings)
    }

    /// Analyze a folder; `None`: the bundled demo set.
    pub(super) fn start_analyze(&mut self, dir: Option<PathBuf>) {
        self.start_analyze_of(dir, None);
    }

    /// Analyze a folder (`None`: the demo set), or a list of images.
    pub(super) fn start_analyze_of(&mut self, dir: Option<PathBuf>, paths: Option<Vec<PathBuf>>) {
        let scene = self.next_id();
        let (job, cancel, settings) = self.new_job(JobKind::Analyze, scene);
        self.effects.push(Effect::StartJob(JobRequest::Analyze(
            crate::app::protocol::AnalyzeJob {
                job,
                dir,
                paths,
                settings,
                cancel,
            },
        )));
    }

    pub(super) fn start_load(&mut self, path: PathBuf) {
        let scene = self.next_id();
        let (job, cancel, _) = self.new_job(JobKind::Load, scene);
        self.effects.push(Effect::StartJob(JobRequest::Load(
            crate::app::protocol::LoadJob { job, path, cancel },
        )));
    }

    pub(super) fn start_retsne(&mut self) {
        let settings = self.analysis;
        // A running analysis or re-run picks the new settings up itself (it restarts its t-SNE
        // when it sees them change), so nothing is thrown away.
        if let Some(job) = &self.job {
            if let Ok(mut shared) = job.settings.lock() {
                *shared = settings;
            }
            // A layout being loaded has no t-SNE run to restart: re-run once it is loaded.
            if job.kind == JobKind::Load {
                self.retsne_after_job = true;
            }
            return;
        }
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        if scene.used_count() == 0 {
            return;
        }
        // The values the sliders started from: the scene's own settings, or, for a loaded
        // layout that does not record them, where they stood when the user unlocked them.
        let baseline = if scene.tsne_known {
            Some((scene.perplexity, scene.theta))
        } else {
            self.tsne_unlocked.map(|s| (s.perplexity, s.theta))
        };
        let Some(baseline) = baseline else {
            return self.notify(
                "this layout does not record its t-SNE settings: use 're-run t-SNE…' first",
            );
        };
        if baseline == (settings.perplexity, settings.theta) {
            return; // a slider let go where it was: nothing to redo
        }
        if scene.features.is_none() {
            let n = scene.used_count();
            self.notify(format!(
                "re-extracting the features of {n} images (from the cache when it has them), \
                 then the loaded map is replaced (Esc puts it back)"
            ));
        }
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        let scene_id = scene.id;
        let features = scene
            .features
            .clone()
            .map(|reduced| crate::app::protocol::SceneFeatures {
                reduced,
                rows: scene.reduced_rows.clone(),
            });
        let used = scene.used_indices();
        let paths: Vec<PathBuf> = used.iter().map(|&i| scene.paths[i].clone()).collect();
        let map = scene.map.clone();
        let restore = Restore {
            points: scene.points.clone(),
            grid: scene.grid.clone(),
            used: scene.used.clone(),
            features: scene.features.clone(),
            reduced_rows: scene.reduced_rows.clone(),
            perplexity: scene.perplexity,
            theta: scene.theta,
            tsne_known: scene.tsne_known,
            map: scene.map.clone(),
            // the sliders go back to where they started from
            sliders: AnalysisSettings {
                perplexity: baseline.0,
                theta: baseline.1,
                ..settings
            },
        };
        let (job, cancel, shared) = self.new_job(JobKind::Retsne, scene_id);
        if let Some(j) = self.job.as_mut() {
            j.restore = Some(restore);
        }
        if let Some(scene) = self.scene_mut(scene_id) {
            scene.grid = None;
        }
        self.effects.push(Effect::Grid { scene: scene_id });
        self.effects.push(Effect::StartJob(JobRequest::Retsne(
            crate::app::protocol::RetsneJob {
                job,
                features,
                paths,
                used,
                map,
                settings: shared,
                cancel,
            },
        )));
    }

    pub(super) fn save_json(&mut self, path: PathBuf) {
        if self.job.is_some() {
            return self.error(STILL_COMPUTING);
        }
        let Some(scene) = self.current.as_ref() else {
            return self.error("nothing to save yet");
        };
        let entries = scene.entries();
        let tsne = scene.tsne_known.then_some(crate::layout_io::TsneSettings {
            perplexity: scene.perplexity,
            theta: scene.theta,
        });
        // the map goes beside it when it describes exactly these images
        let map = scene.map.clone().filter(|m| {
            m.len() == entries.len() && m.paths.iter().zip(&entries).all(|(p, e)| *p == e.path)
        });
        self.effects.push(Effect::SaveJson {
            path: path.clone(),
            entries,
            tsne,
            map,
        });
        // the clusters (and a curator's names) go beside it, and are kept there from now on
        if let Some(snapshot) = self.clusters_to_save() {
            self.effects.push(Effect::SaveClusters {
                layout: path.clone(),
                snapshot,
            });
        }
        self.clusters.layout_file = Some(path);
    }
}

pub(super) fn job_verb(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Analyze => "analyzing:",
        JobKind::Load => "loading:",
        JobKind::Retsne => "re-running:",
        JobKind::Grow => "adding:",
    }
}

impl AppState {
    /// Whether the shown layout was loaded from a file that does not record its t-SNE
    /// settings and the user has not unlocked the sliders (the panel disables them).
    pub fn tsne_settings_unknown(&self) -> bool {
        self.job.is_none()
            && self.tsne_unlocked.is_none()
            && self
                .current
                .as_ref()
                .is_some_and(|s| !s.tsne_known && s.used_count() > 0)
    }

    /// Let the perplexity/theta sliders change a loaded layout whose settings are unknown.
    pub(super) fn unlock_tsne_settings(&mut self) {
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        if scene.tsne_known || self.job.is_some() {
            return;
        }
        let n = scene.used_count();
        self.tsne_unlocked = Some(self.analysis);
        self.notify(format!(
            "a perplexity/theta change re-extracts the features of {n} images (from the cache \
             when it has them), then replaces the loaded map"
        ));
    }
}
