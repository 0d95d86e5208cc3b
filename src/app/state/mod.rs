//! App state: everything the live viewer knows and decides, with no window and no GPU, so it
//! can be driven by tests. Input arrives as [`Action`]s (keys, GUI) and [`Msg`]s (background
//! jobs); the state changes and queues [`Effect`]s that the nannou glue carries out (GPU
//! uploads, starting jobs, dialogs, screenshots). What it shares with the workers (jobs,
//! messages, settings) is in [`crate::app::protocol`], which knows neither side.
//!
//! Rooms: [`scene`] (what is shown), [`jobs`] (the background job and restore), [`actions`]
//! (user intents), [`handlers`] (one function per background message), [`effects`] (work for
//! the glue), [`growing`] (a watched map grows), [`settle`] and [`glide`] (changes shown at a
//! watchable pace), [`replies`] (helper threads' answers), [`capture`] (frame captures and
//! their folder), [`gallery`] (the unattended tour), [`remote`] (a show controller's commands
//! and what it is told), [`touch`] (fingers on a touch screen), [`clusters`] (the map's named
//! groups: labels, the list, flying there, renaming), [`selection`] (lasso, shift-click and
//! what is done with the picked images), [`metadata`] (a curator's CSV: captions, the filter,
//! the grid ordered by a column).

mod actions;
mod capture;
mod clusters;
mod effects;
pub mod gallery;
mod glide;
mod growing;
mod handlers;
mod jobs;
mod metadata;
mod remote;
mod replies;
mod scene;
mod selection;
mod settle;
mod touch;

pub use actions::{dialog_location, Action};
pub use capture::{capture_folder, CaptureFolder};
pub use clusters::{ClusterLabel, ClusterView, SceneClusters};
pub use effects::Effect;
pub use growing::{WatchState, HIGHLIGHT_SECONDS};
pub use jobs::{Job, JobKind};
pub use metadata::MetadataView;
pub use remote::{Refusal, Remote, RemoteEvent};
pub use scene::{spiral, Scene, ViewSettings};
pub use selection::Selection;
pub use touch::{TouchPhase, TouchPoint};

use crate::app::protocol::{AnalysisSettings, DialogKind, GridCells, SharedSettings, Source};
use crate::render::{Camera, LayoutParams};
use gallery::Gallery;
use jobs::job_verb;
use std::path::PathBuf;

/// Why a layout cannot be saved while a job runs.
pub(crate) const STILL_COMPUTING: &str =
    "the layout is still being computed: save it when it is done (or press Esc to cancel)";

/// Seconds the t-SNE ⇄ grid glide takes.
pub const TOGGLE_SECONDS: f64 = 1.0;
/// The gallery's caption when it visits a newly joined image.
pub const JOINED_CAPTION: &str = "your picture joined here";
/// Default of `--settle-seconds`.
pub const DEFAULT_SETTLE_SECONDS: f64 = 4.0;
/// Seconds the camera takes to glide to a new fit.
pub const CAMERA_SECONDS: f64 = 0.8;

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
    /// How the camera follows the layout: its glide, fits and the panel's inset.
    pub framing: Framing,
    /// Screenshots and frame captures.
    pub captures: Captures,
    /// What is drawn over the layout: panel, help, hover, lightbox, notices, warnings.
    pub overlays: Overlays,
    /// A map that grows: the folder watch, the autosave, newcomers and leavers.
    pub growing: GrowingMap,
    /// Perplexity/theta changed while a layout was loading: re-run t-SNE when it is loaded.
    retsne_after_job: bool,
    /// For a loaded layout with unknown t-SNE settings: the slider values when the user
    /// unlocked them (`None`: the sliders stay disabled).
    pub tsne_unlocked: Option<AnalysisSettings>,
    pub gallery: Gallery,
    /// The shown map's named clusters.
    pub clusters: ClusterView,
    /// The images a curator picked.
    pub selection: Selection,
    /// A curator's metadata CSV and the filter.
    pub metadata: MetadataView,
    pub effects: Vec<Effect>,
    pub now: f64,
    /// Seconds over which an optimizer run (analysis, re-run, new images) is played back;
    /// 0: shown as fast as it computes (`--settle-seconds`).
    pub settle_seconds: f64,
    /// The run being played back, for this scene (see [`crate::app::playback`]).
    pub(crate) playback: Option<(u64, crate::app::playback::Playback)>,
    /// A remote controller listens ([`remote`]): events are queued for it.
    pub remote_listening: bool,
    remote_events: Vec<RemoteEvent>,
    /// The layout last told to the controller (grid or not).
    last_layout_told: Option<bool>,
    /// The tour's close-up in flight: the image, and when the camera arrives.
    tour_arrival: Option<(usize, f64)>,
    /// Fingers on a touch screen ([`touch`]).
    touches: touch::Touches,
    /// Start the tour after this many seconds without input (0: never; `--attract-after`).
    pub attract_after: f64,
    /// When the last direct input came.
    last_input: f64,
    next_id: u64,
}

/// A camera glide: from, to, when it started, how long it takes (seconds).
#[derive(Clone, Copy, Debug)]
pub struct CameraGlide {
    pub from: Camera,
    pub to: Camera,
    pub start: f64,
    pub duration: f64,
}

/// How the camera follows the layout.
#[derive(Debug)]
pub struct Framing {
    /// The camera gliding to a new fit or gallery stop.
    pub glide: Option<CameraGlide>,
    /// The user has not moved the camera since the last fit (so refits follow layout changes).
    pub fitted: bool,
    /// The layout moved: refit (if fitted) once in the next update.
    pub refit: bool,
    /// Pixels at the left of the window covered by the GUI panel (fits keep clear of it).
    pub left_inset_px: f32,
}

/// `--capture-every SECONDS DIR`: numbered frames for making videos.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureEvery {
    pub seconds: f64,
    pub dir: PathBuf,
}

/// Screenshots (`S`) and frame captures (`C`, `--capture-every`).
#[derive(Debug)]
pub struct Captures {
    pub every: Option<CaptureEvery>,
    /// When the next `--capture-every` frame is due.
    pub(crate) next: f64,
    /// Number of the next `--capture-every` frame.
    pub(crate) index: u32,
    /// Capture folders found missing, being made or that could not be made (see
    /// [`capture`]); a folder not in here is taken to be there.
    pub(crate) folders: std::collections::HashMap<PathBuf, CaptureFolder>,
    /// Folder for `S` screenshots.
    pub screenshot_dir: PathBuf,
    pub(crate) screenshot_count: u32,
    pub(crate) capture_count: u32,
}

/// A path typed into the panel when no file dialog could be shown.
#[derive(Clone, Debug, PartialEq)]
pub struct PathPrompt {
    pub kind: DialogKind,
    pub text: String,
}

/// What is drawn over the layout.
#[derive(Debug)]
pub struct Overlays {
    pub gui_visible: bool,
    pub help_visible: bool,
    pub fullscreen: bool,
    pub hovered: Option<usize>,
    pub lightbox: Option<usize>,
    pub notices: Vec<Notice>,
    pub warnings: Vec<String>,
    /// When no file dialog could be shown: a path typed into the panel instead.
    pub path_prompt: Option<PathPrompt>,
    /// Background work of the glue for the status line (e.g. a screenshot's tiles).
    pub glue_status: Option<String>,
    /// GPU errors so far (uncaptured by the renderer, survived), for the status line.
    pub gpu_errors: u64,
}

/// A newly joined image, highlighted until `until`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Highlight {
    pub index: usize,
    pub until: f64,
}

/// A removed image leaving the map: fading out from `start`, hidden at `end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Leaving {
    pub scene: u64,
    pub index: usize,
    pub start: f64,
    pub end: f64,
}

/// A map that grows while it is shown.
#[derive(Debug, Default)]
pub struct GrowingMap {
    /// `--watch`: watch the map's folder for new and removed images (once a map is shown).
    pub watch_wanted: bool,
    /// The folder to watch (`--watch` with a folder given); else the map's folder.
    pub watch_dir: Option<PathBuf>,
    pub watch: Option<WatchState>,
    /// `--autosave FILE`: the layout and its map file written after every change.
    pub autosave: Option<PathBuf>,
    /// Newly joined images and until when they are highlighted.
    pub(crate) highlights: Vec<Highlight>,
    /// The last change of a growing map, for the status line.
    pub(crate) last_change: Option<String>,
    /// Grid cells gliding after the map grew (see `glide`).
    pub(crate) glide: Option<(u64, crate::app::playback::CellGlide)>,
    /// Removed images leaving from the first time on, fading out, and hidden at the second.
    pub(crate) leaving: Vec<Leaving>,
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
            framing: Framing {
                glide: None,
                fitted: true,
                refit: false,
                left_inset_px: 0.0,
            },
            captures: Captures {
                every: None,
                next: 0.0,
                index: 0,
                folders: Default::default(),
                screenshot_dir: PathBuf::from("."),
                screenshot_count: 0,
                capture_count: 0,
            },
            overlays: Overlays {
                gui_visible: true,
                help_visible: false,
                fullscreen: false,
                hovered: None,
                lightbox: None,
                notices: vec![],
                warnings: vec![],
                path_prompt: None,
                glue_status: None,
                gpu_errors: 0,
            },
            growing: GrowingMap::default(),
            retsne_after_job: false,
            tsne_unlocked: None,
            gallery: Gallery::default(),
            clusters: ClusterView::default(),
            selection: Selection::default(),
            metadata: MetadataView::default(),
            effects: vec![],
            now: 0.0,
            settle_seconds: DEFAULT_SETTLE_SECONDS,
            playback: None,
            remote_listening: false,
            remote_events: Vec::new(),
            last_layout_told: None,
            tour_arrival: None,
            touches: touch::Touches::default(),
            attract_after: 0.0,
            last_input: 0.0,
            next_id: 1,
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
        if !self.grid_available() {
            return 0.0;
        }
        if let Some(b) = self.view.held_blend {
            return b;
        }
        if self.view.view_as_grid {
            1.0
        } else {
            0.0
        }
    }

    pub fn notify(&mut self, text: impl Into<String>) {
        let until = self.now + 4.0;
        self.overlays.notices.push(Notice {
            text: text.into(),
            is_error: false,
            until,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        let until = self.now + 8.0;
        self.overlays.notices.push(Notice {
            text: text.into(),
            is_error: true,
            until,
        });
    }

    pub fn set_viewport(&mut self, viewport: [f32; 2]) {
        self.camera.set_viewport(viewport);
        if self.framing.fitted {
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
        let inset = if self.overlays.gui_visible {
            self.framing.left_inset_px.clamp(0.0, w * 0.5)
        } else {
            0.0
        };
        let mut target = self.camera;
        target.set_viewport([w - inset, h]);
        target.fit(&bounds, 24.0);
        target.set_viewport([w, h]);
        target.center[0] -= inset / 2.0 / target.zoom.max(1e-9);
        if animate {
            self.framing.glide = Some(CameraGlide {
                from: self.camera,
                to: target,
                start: self.now,
                duration: CAMERA_SECONDS,
            });
        } else {
            self.framing.glide = None;
            self.camera = target;
        }
        self.framing.fitted = true;
    }

    /// Advance time: the layout blend, the camera glide, the gallery tour, notices.
    pub fn update(&mut self, now: f64) {
        let dt = (now - self.now).clamp(0.0, 0.25);
        self.now = now;
        self.advance_playback(now);
        self.advance_glide(now);
        self.maybe_start_grow();
        if std::mem::take(&mut self.framing.refit) && self.framing.fitted {
            self.fit_camera(false);
        }
        let target = self.target_t();
        let step = (dt / TOGGLE_SECONDS) as f32;
        if self.view.held_blend.is_some() {
            // a fader: followed at once
            self.t = target;
        } else if self.t < target {
            self.t = (self.t + step).min(target);
        } else if self.t > target {
            self.t = (self.t - step).max(target);
        }
        if let Some(CameraGlide {
            from,
            to,
            start,
            duration,
        }) = self.framing.glide
        {
            let u = ((now - start) / duration.max(1e-3)).clamp(0.0, 1.0) as f32;
            let e = crate::render::ease(u);
            self.camera.center = [
                from.center[0] + (to.center[0] - from.center[0]) * e,
                from.center[1] + (to.center[1] - from.center[1]) * e,
            ];
            // zoom glides geometrically
            self.camera.zoom = from.zoom * (to.zoom / from.zoom.max(1e-9)).powf(e);
            if u >= 1.0 {
                self.framing.glide = None;
            }
        }
        if self.attract_after > 0.0
            && !self.gallery.enabled
            && now - self.last_input >= self.attract_after
            && self.shown().is_some_and(|s| s.used_count() > 0)
        {
            // nobody has touched it for a while: attract visitors
            self.gallery.set_enabled(true, now);
        }
        if self.gallery.enabled {
            let params = self.layout_params().with_t(self.target_t());
            let shown = self.pending.as_ref().or(self.current.as_ref());
            let can_toggle = shown.is_some_and(|s| s.grid.is_some());
            let mut tick = self
                .gallery
                .tick(now, &self.camera, shown, &params, can_toggle);
            if tick.camera.is_some() && tick.may_visit_cluster && !tick.toggle_grid {
                // a cluster instead of a random close-up, its name as the caption
                if let Some((index, camera, label)) = self.next_tour_cluster() {
                    tick.camera = Some(camera);
                    tick.close_up = None;
                    if let Some(old) = self.clusters.caption.replace(label.clone()) {
                        self.overlays.notices.retain(|n| n.text != old);
                    }
                    self.notify(label.clone());
                    if self.remote_listening {
                        self.remote_events
                            .push(RemoteEvent::TourCluster { index, label });
                    }
                }
            }
            if tick.toggle_grid && self.grid_available() {
                self.view.held_blend = None;
                self.view.view_as_grid = !self.view.view_as_grid;
            }
            self.tour_arrival = tick.close_up.map(|i| (i, now + gallery::MOVE_SECONDS)).or(
                if tick.camera.is_some() {
                    None
                } else {
                    self.tour_arrival
                },
            );
            if tick.visiting.is_some() {
                // one caption at a time, however many arrived
                self.overlays.notices.retain(|n| n.text != JOINED_CAPTION);
                self.notify(JOINED_CAPTION);
            }
            if let Some(camera) = tick.camera {
                self.framing.glide = Some(CameraGlide {
                    from: self.camera,
                    to: camera,
                    start: now,
                    duration: gallery::MOVE_SECONDS,
                });
                self.framing.fitted = false;
            }
        }
        if let Some(CaptureEvery {
            seconds: every,
            dir,
        }) = &self.captures.every
        {
            if now >= self.captures.next {
                self.captures.index += 1;
                let path = dir.join(format!("frame-{:06}.png", self.captures.index));
                // on a fixed cadence (no drift by a frame per capture); slots missed in a
                // stall are skipped, not made up in a burst
                let every = every.max(0.01);
                self.captures.next += every;
                while self.captures.next <= now {
                    self.captures.next += every;
                }
                self.capture(path);
            }
        }
        self.overlays.notices.retain(|n| n.until > now);
        self.remote_tick();
        self.touch_tick();
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
        if self.settling() {
            parts.push("settling".into());
        }
        if let Some(w) = self.watch_status() {
            parts.push(w);
        }
        if let Some(s) = &self.overlays.glue_status {
            parts.push(s.clone());
        }
        if self.gallery.enabled {
            parts.push("gallery tour".into());
        }
        if self.overlays.gpu_errors > 0 {
            parts.push(format!(
                "{} GPU errors (see warnings)",
                self.overlays.gpu_errors
            ));
        }
        parts.join(" · ")
    }
}

/// Maps for the state's tests.
#[cfg(test)]
pub(crate) mod test_maps {
    use super::*;
    use crate::app::protocol::{GridCells, Source};

    /// A shown map of two round groups of 40 images (top left and bottom right), with a grid.
    pub fn two_groups() -> AppState {
        let mut s = AppState::new([800.0, 600.0]);
        let n = 80;
        let paths = (0..n)
            .map(|i| PathBuf::from(format!("/imgs/{i:03}.png")))
            .collect();
        let mut scene = Scene::new(1, Source::Json("/maps/two.json".into()), paths);
        scene.points = (0..n)
            .map(|i| {
                let c = if i < 40 { 0.25 } else { 0.75 };
                let (a, r) = (i as f32 * 2.4, 0.2 * ((i % 40) as f32 / 40.0).sqrt());
                [c + r * a.cos(), c + r * a.sin()]
            })
            .collect();
        scene.grid = Some(GridCells {
            cols: 9,
            rows: 9,
            cells: (0..n as u32).map(|i| [i % 9, i / 9]).collect(),
        });
        s.current = Some(scene);
        s.fit_camera(false);
        s
    }
}
