//! App state: everything the live viewer knows and decides, with no window and no GPU, so it
//! can be driven by tests. Input arrives as [`Action`]s (keys, GUI) and [`Msg`]s (background
//! jobs); the state changes and queues [`Effect`]s that the nannou glue carries out (GPU
//! uploads, starting jobs, dialogs, screenshots).

use super::gallery::Gallery;
use super::worker::{DialogKind, JobRequest, Msg};
use crate::layout_io::LayoutEntry;
use crate::progress::Stage;
use crate::render::{AtlasPlan, Camera, LayoutGeometry, LayoutParams, PreparedCell, WorldRect};
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Analysis settings shared with a running job.
pub type SharedSettings = Arc<Mutex<AnalysisSettings>>;

/// Why a layout cannot be saved while a job runs.
const STILL_COMPUTING: &str =
    "the layout is still being computed: save it when it is done (or press Esc to cancel)";

/// Seconds the t-SNE ⇄ grid glide takes.
pub const TOGGLE_SECONDS: f64 = 1.0;
/// Seconds the camera takes to glide to a new fit.
pub const CAMERA_SECONDS: f64 = 0.8;

/// The original app's view parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewSettings {
    pub view_as_grid: bool,
    /// Spread of the t-SNE layout, 1–10 (default 4).
    pub scale: f32,
    /// Image size in t-SNE view, 0–2 in grid cells (grid view sizes itself: cells touch).
    pub image_size: f32,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            view_as_grid: false,
            scale: 4.0,
            image_size: 1.0,
        }
    }
}

/// The original app's analysis parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalysisSettings {
    pub max_images: usize,
    pub perplexity: f32,
    pub theta: f32,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            max_images: 500,
            perplexity: 50.0,
            theta: 0.3,
        }
    }
}

/// Where a scene's images came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Folder(PathBuf),
    Json(PathBuf),
}

/// Grid cells of a scene.
#[derive(Clone, Debug, PartialEq)]
pub struct GridCells {
    pub cols: u32,
    pub rows: u32,
    /// One cell per image (index = image index); hidden images have `[0, 0]`.
    pub cells: Vec<[u32; 2]>,
}

/// A set of images on screen (or being built), with its layouts.
#[derive(Clone, Debug)]
pub struct Scene {
    pub id: u64,
    pub source: Source,
    pub paths: Vec<PathBuf>,
    /// Whether image i is part of the layout (false: skipped/undecodable, drawn hidden).
    pub used: Vec<bool>,
    /// t-SNE positions in [0,1]² per image (hidden images sit at the centre).
    pub points: Vec<[f32; 2]>,
    /// Per-image aspect (width / height), 1 until the thumbnail arrives.
    pub aspects: Vec<f32>,
    pub grid: Option<GridCells>,
    /// PCA output for re-running t-SNE: row r belongs to image `reduced_rows[r]`.
    pub features: Option<Arc<Array2<f32>>>,
    pub reduced_rows: Vec<usize>,
    pub thumbs_loaded: usize,
    pub missing: usize,
    /// The analysis settings that produced the current points.
    pub perplexity: f32,
    pub theta: f32,
}

impl Scene {
    pub fn new(id: u64, source: Source, paths: Vec<PathBuf>) -> Self {
        let n = paths.len();
        Scene {
            id,
            source,
            paths,
            used: vec![true; n],
            points: spiral(n),
            aspects: vec![1.0; n],
            grid: None,
            features: None,
            reduced_rows: vec![],
            thumbs_loaded: 0,
            missing: 0,
            perplexity: 0.0,
            theta: 0.0,
        }
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Indices of the images that are part of the layout, in order.
    pub fn used_indices(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.used[i]).collect()
    }

    pub fn used_count(&self) -> usize {
        self.used.iter().filter(|u| **u).count()
    }

    /// The ml4a entries of the used images (t-SNE points only, as the original's export).
    pub fn entries(&self) -> Vec<LayoutEntry> {
        (0..self.len())
            .filter(|&i| self.used[i])
            .map(|i| LayoutEntry {
                path: self.paths[i].clone(),
                point: self.points[i],
                grid: None,
            })
            .collect()
    }

    /// Grid geometry (the squarest grid for the count until a grid is solved).
    pub fn geometry(&self) -> LayoutGeometry {
        match &self.grid {
            Some(g) => LayoutGeometry::new(g.cols, g.rows),
            None => LayoutGeometry::for_count(self.used_count().max(1)),
        }
    }

    /// World bounds of the used images for `params`.
    pub fn bounds(&self, params: &LayoutParams) -> Option<WorldRect> {
        let geom = self.geometry();
        let cells: Vec<[u32; 2]> = match &self.grid {
            Some(g) => g.cells.clone(),
            None => vec![[0, 0]; self.len()],
        };
        let idx = self.used_indices();
        let pts: Vec<[f32; 2]> = idx.iter().map(|&i| self.points[i]).collect();
        let cs: Vec<[u32; 2]> = idx
            .iter()
            .map(|&i| cells.get(i).copied().unwrap_or([0, 0]))
            .collect();
        let asp: Vec<f32> = idx.iter().map(|&i| self.aspects[i]).collect();
        geom.bounds(&pts, &cs, &asp, params)
    }
}

/// Placeholder positions before t-SNE: a sunflower spiral filling [0,1]², so images that
/// stream in are visible right away.
pub fn spiral(n: usize) -> Vec<[f32; 2]> {
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    (0..n)
        .map(|i| {
            let r = ((i as f32 + 0.5) / n.max(1) as f32).sqrt() * 0.5;
            let a = i as f32 * golden;
            [0.5 + r * a.cos(), 0.5 + r * a.sin()]
        })
        .collect()
}

/// What kind of background job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Scan + features + t-SNE + grid of a folder (builds a new scene).
    Analyze,
    /// Open a layout JSON (builds a new scene; grid recomputed if absent).
    Load,
    /// Re-run t-SNE (and grid) on the shown scene with new perplexity/theta.
    Retsne,
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
    restore: Option<Restore>,
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
struct Restore {
    points: Vec<[f32; 2]>,
    grid: Option<GridCells>,
    used: Vec<bool>,
    features: Option<Arc<Array2<f32>>>,
    reduced_rows: Vec<usize>,
    perplexity: f32,
    theta: f32,
    sliders: AnalysisSettings,
}

/// A user intent, from a key, the mouse or the GUI panel.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    ToggleGrid,
    Fit,
    /// Whole-layout screenshot: to this file, or to the screenshot folder with a timestamp.
    SaveScreenshot(Option<PathBuf>),
    /// The window's current frame as PNG.
    CaptureFrame,
    ToggleGui,
    ToggleHelp,
    ToggleGallery,
    ToggleFullscreen,
    /// Esc: close the lightbox / help, else cancel the running job.
    Escape,
    Cancel,
    AnalyzeDialog,
    Analyze(PathBuf),
    LoadDialog,
    Load(PathBuf),
    SaveDialog,
    Save(PathBuf),
    ScreenshotDialog,
    /// Perplexity or theta changed (slider released): re-run t-SNE on the kept features.
    TsneParamsChanged,
    /// Zoom by a factor around a screen point (pixels, y down), or the centre.
    Zoom(f32, Option<[f32; 2]>),
    /// Pan by a pixel delta.
    Pan([f32; 2]),
    /// Open image i larger.
    OpenLightbox(usize),
    Quit,
}

/// Work for the glue (GPU, threads, window) that the state cannot do itself.
#[derive(Debug)]
pub enum Effect {
    /// Make GPU resources (atlas, buffers) for a scene, with this atlas plan.
    CreateScene {
        scene: u64,
        plan: AtlasPlan,
    },
    DropScene {
        scene: u64,
    },
    /// A thumbnail, already letterboxed and mipmapped for the scene's atlas (on a worker).
    Thumb {
        scene: u64,
        index: usize,
        cell: PreparedCell,
    },
    Placeholder {
        scene: u64,
        index: usize,
    },
    /// Show or hide image `index` (skipped images are hidden).
    Visibility {
        scene: u64,
        index: usize,
        visible: bool,
    },
    /// Re-upload the scene's t-SNE positions (`Scene::points`).
    Positions {
        scene: u64,
    },
    /// Re-upload the scene's grid cells.
    Grid {
        scene: u64,
    },
    StartJob(JobRequest),
    Dialog(DialogKind),
    /// Whole-layout screenshot of the shown scene.
    Screenshot {
        path: PathBuf,
    },
    CaptureFrame {
        path: PathBuf,
    },
    /// Write these entries as ml4a JSON (atomically, off the render thread).
    SaveJson {
        path: PathBuf,
        entries: Vec<LayoutEntry>,
    },
    LoadLightbox {
        index: usize,
        path: PathBuf,
    },
    SetFullscreen(bool),
    Quit,
}

/// A short message on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
    pub until: f64,
}

/// The whole viewer state.
pub struct AppState {
    pub view: ViewSettings,
    pub analysis: AnalysisSettings,
    /// The scene on screen when no job builds a new one.
    pub current: Option<Scene>,
    /// A scene being built by an Analyze/Load job; shown while it builds.
    pub pending: Option<Scene>,
    pub job: Option<Job>,
    /// Layout blend 0 = t-SNE … 1 = grid (eased on the GPU).
    pub t: f32,
    pub camera: Camera,
    /// Camera glide: from, to, start time, duration.
    camera_anim: Option<(Camera, Camera, f64, f64)>,
    /// `--capture-every SECONDS DIR`: numbered frames for making videos.
    pub capture_every: Option<(f64, PathBuf)>,
    next_capture: f64,
    capture_index: u32,
    /// The user has not moved the camera since the last fit (so refits follow layout changes).
    pub camera_fitted: bool,
    /// The layout moved: refit (if fitted) once in the next update.
    refit: bool,
    /// Perplexity/theta changed while a layout was loading: re-run t-SNE when it is loaded.
    retsne_after_job: bool,
    pub gui_visible: bool,
    pub help_visible: bool,
    pub fullscreen: bool,
    pub hovered: Option<usize>,
    pub lightbox: Option<usize>,
    pub gallery: Gallery,
    pub notices: Vec<Notice>,
    pub warnings: Vec<String>,
    /// When no file dialog could be shown: a path typed into the panel instead.
    pub path_prompt: Option<(DialogKind, String)>,
    pub effects: Vec<Effect>,
    /// Pixels at the left of the window covered by the GUI panel (fits keep clear of it).
    pub left_inset_px: f32,
    /// Folder for `S` screenshots.
    pub screenshot_dir: PathBuf,
    pub now: f64,
    next_id: u64,
    screenshot_count: u32,
    capture_count: u32,
}

impl AppState {
    pub fn new(viewport: [f32; 2]) -> Self {
        AppState {
            view: ViewSettings::default(),
            analysis: AnalysisSettings::default(),
            current: None,
            pending: None,
            job: None,
            t: 0.0,
            camera: Camera::new(viewport),
            camera_anim: None,
            capture_every: None,
            next_capture: 0.0,
            capture_index: 0,
            camera_fitted: true,
            refit: false,
            retsne_after_job: false,
            gui_visible: true,
            help_visible: false,
            fullscreen: false,
            hovered: None,
            lightbox: None,
            gallery: Gallery::default(),
            notices: vec![],
            warnings: vec![],
            path_prompt: None,
            effects: vec![],
            left_inset_px: 0.0,
            screenshot_dir: PathBuf::from("."),
            now: 0.0,
            next_id: 1,
            screenshot_count: 0,
            capture_count: 0,
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The scene drawn now: the one being built, else the current one.
    pub fn shown(&self) -> Option<&Scene> {
        self.pending.as_ref().or(self.current.as_ref())
    }

    /// The scene the running job builds or changes.
    fn job_scene(&mut self) -> Option<&mut Scene> {
        let id = self.job.as_ref()?.scene;
        self.scene_mut(id)
    }

    fn scene_mut(&mut self, id: u64) -> Option<&mut Scene> {
        if self.pending.as_ref().is_some_and(|s| s.id == id) {
            return self.pending.as_mut();
        }
        self.current.as_mut().filter(|s| s.id == id)
    }

    /// Whether the grid view can be shown (the shown scene has a grid).
    pub fn grid_available(&self) -> bool {
        self.shown().is_some_and(|s| s.grid.is_some())
    }

    /// Layout parameters for the renderer at the current blend.
    pub fn layout_params(&self) -> LayoutParams {
        LayoutParams {
            t: self.t,
            tsne_scale: self.view.scale,
            image_size: self.view.image_size,
            ..LayoutParams::default()
        }
    }

    /// The blend the view is heading to.
    pub fn target_t(&self) -> f32 {
        if self.view.view_as_grid && self.grid_available() {
            1.0
        } else {
            0.0
        }
    }

    pub fn notify(&mut self, text: impl Into<String>) {
        let until = self.now + 4.0;
        self.notices.push(Notice {
            text: text.into(),
            is_error: false,
            until,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        let until = self.now + 8.0;
        self.notices.push(Notice {
            text: text.into(),
            is_error: true,
            until,
        });
    }

    pub fn set_viewport(&mut self, viewport: [f32; 2]) {
        self.camera.set_viewport(viewport);
        if self.camera_fitted {
            self.fit_camera(false);
        }
    }

    /// Fit the camera to the shown layout at the blend it is heading to.
    pub fn fit_camera(&mut self, animate: bool) {
        let params = self.layout_params().with_t(self.target_t());
        let Some(bounds) = self.shown().and_then(|s| s.bounds(&params)) else {
            return;
        };
        // Fit into the part of the window right of the panel, when the panel is shown.
        let [w, h] = self.camera.viewport;
        let inset = if self.gui_visible {
            self.left_inset_px.clamp(0.0, w * 0.5)
        } else {
            0.0
        };
        let mut target = self.camera;
        target.set_viewport([w - inset, h]);
        target.fit(&bounds, 24.0);
        target.set_viewport([w, h]);
        target.center[0] -= inset / 2.0 / target.zoom.max(1e-9);
        if animate {
            self.camera_anim = Some((self.camera, target, self.now, CAMERA_SECONDS));
        } else {
            self.camera_anim = None;
            self.camera = target;
        }
        self.camera_fitted = true;
    }

    /// Advance time: the layout blend, the camera glide, the gallery tour, notices.
    pub fn update(&mut self, now: f64) {
        let dt = (now - self.now).clamp(0.0, 0.25);
        self.now = now;
        if std::mem::take(&mut self.refit) && self.camera_fitted {
            self.fit_camera(false);
        }
        let target = self.target_t();
        let step = (dt / TOGGLE_SECONDS) as f32;
        if self.t < target {
            self.t = (self.t + step).min(target);
        } else if self.t > target {
            self.t = (self.t - step).max(target);
        }
        if let Some((from, to, start, duration)) = self.camera_anim {
            let u = ((now - start) / duration.max(1e-3)).clamp(0.0, 1.0) as f32;
            let e = crate::render::ease(u);
            self.camera.center = [
                from.center[0] + (to.center[0] - from.center[0]) * e,
                from.center[1] + (to.center[1] - from.center[1]) * e,
            ];
            // zoom glides geometrically
            self.camera.zoom = from.zoom * (to.zoom / from.zoom.max(1e-9)).powf(e);
            if u >= 1.0 {
                self.camera_anim = None;
            }
        }
        if self.gallery.enabled {
            let params = self.layout_params().with_t(self.target_t());
            let shown = self.pending.as_ref().or(self.current.as_ref());
            let can_toggle = shown.is_some_and(|s| s.grid.is_some());
            let tick = self
                .gallery
                .tick(now, &self.camera, shown, &params, can_toggle);
            if tick.toggle_grid && self.grid_available() {
                self.view.view_as_grid = !self.view.view_as_grid;
            }
            if let Some(camera) = tick.camera {
                self.camera_anim = Some((self.camera, camera, now, super::gallery::MOVE_SECONDS));
                self.camera_fitted = false;
            }
        }
        if let Some((every, dir)) = &self.capture_every {
            if now >= self.next_capture {
                self.capture_index += 1;
                let path = dir.join(format!("frame-{:06}.png", self.capture_index));
                self.next_capture = now + every.max(0.01);
                self.effects.push(Effect::CaptureFrame { path });
            }
        }
        self.notices.retain(|n| n.until > now);
    }

    /// Any direct input from the user: the gallery tour hands control back.
    pub fn user_input(&mut self) {
        self.gallery.interrupt(self.now);
    }

    /// Carry out a user intent.
    pub fn act(&mut self, action: Action) {
        match action {
            Action::ToggleGrid => {
                if self.grid_available() {
                    self.view.view_as_grid = !self.view.view_as_grid;
                    if self.camera_fitted {
                        self.fit_camera(true);
                    }
                } else if self.job.is_some() {
                    self.notify("the grid is available when the analysis finishes");
                } else {
                    self.notify("no grid yet");
                }
            }
            Action::Fit => self.fit_camera(true),
            Action::SaveScreenshot(path) => {
                if self.shown().is_none() {
                    return self.error("nothing to save yet");
                }
                let path = path.unwrap_or_else(|| {
                    self.screenshot_count += 1;
                    self.screenshot_dir
                        .join(timestamped("layout", self.screenshot_count))
                });
                self.effects.push(Effect::Screenshot { path });
            }
            Action::CaptureFrame => {
                self.capture_count += 1;
                let path = self
                    .screenshot_dir
                    .join(timestamped("frame", self.capture_count));
                self.effects.push(Effect::CaptureFrame { path });
            }
            Action::ToggleGui => {
                self.gui_visible = !self.gui_visible;
                if self.camera_fitted {
                    self.fit_camera(true);
                }
            }
            Action::ToggleHelp => self.help_visible = !self.help_visible,
            Action::ToggleGallery => {
                let on = !self.gallery.enabled;
                self.gallery.set_enabled(on, self.now);
                self.notify(if on {
                    "gallery tour on"
                } else {
                    "gallery tour off"
                });
            }
            Action::ToggleFullscreen => {
                self.fullscreen = !self.fullscreen;
                self.effects.push(Effect::SetFullscreen(self.fullscreen));
            }
            Action::Escape => {
                if self.lightbox.is_some() {
                    self.lightbox = None;
                } else if self.help_visible {
                    self.help_visible = false;
                } else if self.job.is_some() {
                    self.act(Action::Cancel);
                }
            }
            Action::Cancel => self.cancel_job(),
            Action::AnalyzeDialog => self.effects.push(Effect::Dialog(DialogKind::AnalyzeFolder)),
            Action::LoadDialog => self.effects.push(Effect::Dialog(DialogKind::LoadJson)),
            Action::SaveDialog => {
                if self.job.is_some() {
                    return self.error(STILL_COMPUTING);
                }
                if self.current.is_none() {
                    return self.error("nothing to save yet");
                }
                self.effects.push(Effect::Dialog(DialogKind::SaveJson))
            }
            Action::ScreenshotDialog => {
                if self.shown().is_none() {
                    return self.error("nothing to save yet");
                }
                self.effects
                    .push(Effect::Dialog(DialogKind::SaveScreenshot))
            }
            Action::Analyze(dir) => self.start_analyze(dir),
            Action::Load(path) => self.start_load(path),
            Action::Save(path) => self.save_json(path),
            Action::TsneParamsChanged => self.start_retsne(),
            Action::Zoom(factor, at) => {
                let at =
                    at.unwrap_or([self.camera.viewport[0] / 2.0, self.camera.viewport[1] / 2.0]);
                self.camera_anim = None;
                self.camera.zoom_around(factor, at);
                self.camera_fitted = false;
            }
            Action::Pan(delta) => {
                self.camera_anim = None;
                self.camera.pan_pixels(delta);
                self.camera_fitted = false;
            }
            Action::OpenLightbox(i) => {
                if let Some(path) = self.shown().and_then(|s| s.paths.get(i).cloned()) {
                    self.lightbox = Some(i);
                    self.effects.push(Effect::LoadLightbox { index: i, path });
                }
            }
            Action::Quit => {
                self.cancel_job();
                self.effects.push(Effect::Quit);
            }
        }
    }

    fn cancel_job(&mut self) {
        let Some(job) = self.job.take() else { return };
        job.cancel.store(true, Ordering::Relaxed);
        match job.kind {
            JobKind::Analyze | JobKind::Load => {
                if let Some(p) = self.pending.take() {
                    self.effects.push(Effect::DropScene { scene: p.id });
                }
            }
            JobKind::Retsne => {
                if let Some(restore) = job.restore {
                    self.restore(job.scene, restore);
                }
            }
        }
        self.notify("cancelled; the previous layout is kept");
        if self.camera_fitted {
            self.fit_camera(true);
        }
    }

    /// Put a scene back as it was before a t-SNE re-run.
    fn restore(&mut self, id: u64, r: Restore) {
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

    fn new_job(&mut self, kind: JobKind, scene: u64) -> (u64, Arc<AtomicBool>, SharedSettings) {
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
        });
        (id, cancel, settings)
    }

    fn start_analyze(&mut self, dir: PathBuf) {
        let scene = self.next_id();
        let (job, cancel, settings) = self.new_job(JobKind::Analyze, scene);
        self.effects.push(Effect::StartJob(JobRequest::Analyze {
            job,
            dir,
            settings,
            cancel,
        }));
    }

    fn start_load(&mut self, path: PathBuf) {
        let scene = self.next_id();
        let (job, cancel, _) = self.new_job(JobKind::Load, scene);
        self.effects
            .push(Effect::StartJob(JobRequest::Load { job, path, cancel }));
    }

    fn start_retsne(&mut self) {
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
        if scene.perplexity == settings.perplexity && scene.theta == settings.theta {
            return; // a slider let go where it was: nothing to redo
        }
        let scene_id = scene.id;
        let features = scene
            .features
            .clone()
            .map(|f| (f, scene.reduced_rows.clone()));
        let used = scene.used_indices();
        let paths: Vec<PathBuf> = used.iter().map(|&i| scene.paths[i].clone()).collect();
        let restore = Restore {
            points: scene.points.clone(),
            grid: scene.grid.clone(),
            used: scene.used.clone(),
            features: scene.features.clone(),
            reduced_rows: scene.reduced_rows.clone(),
            perplexity: scene.perplexity,
            theta: scene.theta,
            sliders: AnalysisSettings {
                perplexity: scene.perplexity,
                theta: scene.theta,
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
        self.effects.push(Effect::StartJob(JobRequest::Retsne {
            job,
            features,
            paths,
            used,
            settings: shared,
            cancel,
        }));
    }

    fn save_json(&mut self, path: PathBuf) {
        if self.job.is_some() {
            return self.error(STILL_COMPUTING);
        }
        let Some(scene) = self.current.as_ref() else {
            return self.error("nothing to save yet");
        };
        let entries = scene.entries();
        self.effects.push(Effect::SaveJson { path, entries });
    }

    /// The path typed into the fallback field was confirmed.
    pub fn submit_path_prompt(&mut self) {
        let Some((kind, text)) = self.path_prompt.take() else {
            return;
        };
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let path = PathBuf::from(text);
        self.handle(Msg::DialogResult {
            kind,
            result: Ok(Some(path)),
        });
    }

    /// Take the queued effects.
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Handle a message from a background job or helper thread.
    pub fn handle(&mut self, msg: Msg) {
        let current_job = self.job.as_ref().map(|j| j.id);
        // Messages of a cancelled or replaced job are dropped.
        if let Some(job) = msg.job() {
            if Some(job) != current_job {
                return;
            }
        }
        match msg {
            Msg::Stage { stage, total, .. } => {
                if let Some(j) = self.job.as_mut() {
                    j.stage = stage;
                    j.total = total;
                    j.done = 0;
                    j.stage_started = self.now;
                }
            }
            Msg::Advance { stage, done, .. } => {
                if let Some(j) = self.job.as_mut() {
                    if j.stage == stage {
                        j.done = done;
                    }
                }
            }
            Msg::Warn { text, .. } => {
                self.warnings.push(text);
                if self.warnings.len() > 200 {
                    self.warnings.remove(0);
                }
            }
            Msg::Scanned {
                paths,
                source,
                plan,
                ..
            } => {
                let Some(scene_id) = self.job.as_ref().map(|j| j.scene) else {
                    return;
                };
                if let Some(old) = self.pending.take() {
                    self.effects.push(Effect::DropScene { scene: old.id });
                }
                let scene = Scene::new(scene_id, source, paths);
                self.effects.push(Effect::CreateScene {
                    scene: scene_id,
                    plan,
                });
                self.effects.push(Effect::Positions { scene: scene_id });
                self.pending = Some(scene);
                self.t = 0.0;
                self.hovered = None;
                self.lightbox = None;
                self.fit_camera(false);
            }
            Msg::Layout { entries, grid, .. } => {
                let Some(scene) = self.job_scene() else {
                    return;
                };
                for (i, e) in entries.iter().enumerate().take(scene.len()) {
                    scene.points[i] = e.point;
                }
                let id = scene.id;
                self.effects.push(Effect::Positions { scene: id });
                if let Some(g) = grid {
                    self.set_grid(id, g);
                }
                if self.camera_fitted {
                    self.fit_camera(true);
                }
            }
            Msg::Thumb { index, cell, .. } => {
                let Some(scene) = self.job_scene() else {
                    return;
                };
                if index < scene.len() {
                    scene.aspects[index] = crate::render::layout::sanitize_aspect(cell.aspect);
                    scene.thumbs_loaded += 1;
                    let id = scene.id;
                    self.effects.push(Effect::Thumb {
                        scene: id,
                        index,
                        cell,
                    });
                }
            }
            Msg::Missing { index, .. } => {
                let Some(scene) = self.job_scene() else {
                    return;
                };
                if index < scene.len() {
                    scene.missing += 1;
                    let id = scene.id;
                    self.effects.push(Effect::Placeholder { scene: id, index });
                }
            }
            Msg::Features { features, rows, .. } => {
                let Some(scene) = self.job_scene() else {
                    return;
                };
                let id = scene.id;
                let mut hide = vec![];
                if !rows.is_empty() {
                    let mut used = vec![false; scene.len()];
                    for &r in &rows {
                        if r < used.len() {
                            used[r] = true;
                        }
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
            Msg::TsneFrame { points, .. } | Msg::TsneDone { points, .. } => {
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
                    return;
                }
                for (&i, p) in idx.iter().zip(&points) {
                    scene.points[i] = *p;
                }
                let id = scene.id;
                scene.perplexity = settings.perplexity;
                scene.theta = settings.theta;
                self.effects.push(Effect::Positions { scene: id });
                // refit once per frame (in update), not once per message
                self.refit = true;
            }
            Msg::Grid {
                cols, rows, cells, ..
            } => {
                let Some(scene) = self.job_scene() else {
                    return;
                };
                let idx = scene.used_indices();
                if idx.len() != cells.len() {
                    return;
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
            Msg::Done { .. } => {
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
                    if let Some(scene) = self.pending.take() {
                        if let Some(old) = self.current.replace(scene) {
                            self.effects.push(Effect::DropScene { scene: old.id });
                        }
                    }
                }
                if let Some(s) = self.current.as_ref() {
                    let text = format!("{} images laid out", s.used_count());
                    self.notify(text);
                }
                if self.camera_fitted {
                    self.fit_camera(true);
                }
                if std::mem::take(&mut self.retsne_after_job) {
                    self.start_retsne();
                }
            }
            Msg::Failed { error, .. } => {
                let kind = self.job.as_ref().map(|j| j.kind);
                // put things back as a cancel would, then say why
                self.cancel_job();
                self.notices.pop();
                let what = match kind {
                    Some(JobKind::Load) => "loading failed",
                    Some(JobKind::Retsne) => "t-SNE failed",
                    _ => "analysis failed",
                };
                self.error(format!("{what}: {error}"));
            }
            Msg::Lightbox { .. } => {} // handled by the glue (it owns the GUI textures)
            Msg::Saved { path, result } => match result {
                Ok(()) => self.notify(format!("saved {}", path.display())),
                Err(e) => self.error(format!("could not save {}: {e}", path.display())),
            },
            Msg::DialogResult { kind, result } => match result {
                Ok(Some(path)) => self.act(match kind {
                    DialogKind::AnalyzeFolder => Action::Analyze(path),
                    DialogKind::LoadJson => Action::Load(path),
                    DialogKind::SaveJson => Action::Save(path),
                    DialogKind::SaveScreenshot => Action::SaveScreenshot(Some(path)),
                }),
                Ok(None) => {}
                Err(e) => {
                    self.error(e);
                    let suggestion = match kind {
                        DialogKind::SaveJson => "layout.json",
                        DialogKind::SaveScreenshot => "layout.png",
                        _ => "",
                    };
                    self.path_prompt = Some((kind, suggestion.to_string()));
                }
            },
        }
    }

    fn set_grid(&mut self, scene: u64, grid: GridCells) {
        if let Some(s) = self.scene_mut(scene) {
            s.grid = Some(grid);
            self.effects.push(Effect::Grid { scene });
        }
    }

    /// One line for the status bar: image count, layout, what the background work does.
    pub fn status_line(&self, fps: f32) -> String {
        let mut parts = vec![];
        match self.shown() {
            Some(s) => {
                parts.push(format!("{} images", s.used_count()));
                if s.missing > 0 {
                    parts.push(format!("{} missing", s.missing));
                }
                let layout = if self.t >= 1.0 {
                    "grid".to_string()
                } else if self.t <= 0.0 {
                    "t-SNE".to_string()
                } else {
                    format!("t-SNE → grid {:.0} %", self.t * 100.0)
                };
                parts.push(layout);
            }
            None => parts.push("no images".into()),
        }
        parts.push(format!("{fps:.0} fps"));
        if let Some(j) = &self.job {
            let mut s = format!("{} {}", job_verb(j.kind), j.stage.label());
            if j.total > 0 {
                s.push_str(&format!(" {}/{}", j.done, j.total));
            }
            if let Some(eta) = j.eta(self.now) {
                s.push_str(&format!(
                    ", {}",
                    crate::progress::format_duration(std::time::Duration::from_secs_f64(eta))
                ));
                s.push_str(" left");
            }
            parts.push(s);
        }
        if self.gallery.enabled {
            parts.push("gallery tour".into());
        }
        parts.join(" · ")
    }
}

fn job_verb(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Analyze => "analyzing:",
        JobKind::Load => "loading:",
        JobKind::Retsne => "re-running:",
    }
}

/// `layout-20261127-231500-1.png`, local time not needed: UTC seconds since the epoch keep the
/// files in order.
fn timestamped(prefix: &str, n: u32) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{prefix}-{secs}-{n:03}.png")
}

/// The folder part of a path for dialogs.
pub fn dialog_location(path: Option<&Path>) -> Option<PathBuf> {
    let p = path?;
    if p.is_dir() {
        Some(p.to_path_buf())
    } else {
        p.parent().map(Path::to_path_buf)
    }
}
