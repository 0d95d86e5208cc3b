//! Actions: what the user asks for (keys, mouse, the GUI panel) and how the state carries it out.

use super::{AppState, Effect, PathPrompt, STILL_COMPUTING};
use crate::app::protocol::{DialogKind, Msg};
use std::path::{Path, PathBuf};

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
    /// Analyze the bundled demo set (unpacked into the cache by the job, off the render thread).
    AnalyzeDemo,
    /// A dropped or given path: a folder is analyzed, a file loaded (decided off the render
    /// thread, which never touches the disk).
    Open(PathBuf),
    LoadDialog,
    Load(PathBuf),
    SaveDialog,
    Save(PathBuf),
    ScreenshotDialog,
    /// Perplexity or theta changed (slider released): re-run t-SNE on the kept features.
    TsneParamsChanged,
    /// Enable the perplexity/theta sliders on a loaded layout whose t-SNE settings are unknown
    /// (a change then re-extracts the features before it replaces the loaded map).
    UnlockTsneSettings,
    /// Zoom by a factor around a screen point (pixels, y down), or the centre.
    Zoom(f32, Option<[f32; 2]>),
    /// Pan by a pixel delta.
    Pan([f32; 2]),
    /// Open image i larger.
    OpenLightbox(usize),
    /// Watch the map's folder for new and removed images, or stop.
    ToggleWatch,
    /// Fly to cluster c (the panel's list).
    GotoCluster(usize),
    /// A curator names cluster c (empty: its automatic name again).
    RenameCluster(usize, String),
    /// Cluster names over the map on / off.
    ToggleClusterLabels,
    /// Shift-press: a lasso starts here (screen pixels, y down).
    LassoStart([f32; 2]),
    /// The lasso goes on to here.
    LassoTo([f32; 2]),
    /// The lasso closes: the images inside join the selection (a tiny one is a shift-click:
    /// the image under it joins or leaves).
    LassoEnd,
    /// Image i joins the selection, or leaves it.
    ToggleSelect(usize),
    /// Select cluster c (instead of what was selected).
    SelectCluster(usize),
    /// Select the filter's matches.
    SelectMatches,
    ClearSelection,
    /// Write the selected paths here (`.json`: a JSON array; else CSV).
    ExportSelection(PathBuf),
    ExportSelectionDialog,
    /// Copy the selected files into this folder (never overwriting).
    CopySelection(PathBuf),
    CopySelectionDialog,
    /// Analyze just the selected images: a new map of them.
    NewMapFromSelection,
    /// Read a metadata CSV (captions, filter, numeric columns).
    LoadMetadata(PathBuf),
    LoadMetadataDialog,
    /// The filter box's text.
    SetFilter(String),
    /// Order the grid by metadata column c (`None`: the t-SNE grid).
    SortGrid(Option<usize>),
    Quit,
}

impl AppState {
    /// Any direct input from the user: the gallery tour hands control back.
    pub fn user_input(&mut self) {
        self.gallery.interrupt(self.now);
        self.tour_arrival = None;
        self.last_input = self.now;
    }

    /// Carry out a user intent.
    pub fn act(&mut self, action: Action) {
        match action {
            Action::ToggleGrid => {
                self.view.held_blend = None;
                if self.grid_available() {
                    self.view.view_as_grid = !self.view.view_as_grid;
                    if self.framing.fitted {
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
                if self.job.is_some() {
                    // its tiles are drawn over many frames: a layout still moving would tear
                    return self.error(STILL_COMPUTING);
                }
                // its tiles take several frames: the settling map jumps to where it ends
                if let Some((id, _)) = self.playback.take() {
                    self.effects.push(Effect::Positions { scene: id });
                }
                let path = path.unwrap_or_else(|| {
                    self.captures.screenshot_count += 1;
                    self.captures
                        .screenshot_dir
                        .join(timestamped("layout", self.captures.screenshot_count))
                });
                self.effects.push(Effect::Screenshot { path });
            }
            Action::CaptureFrame => {
                self.captures.capture_count += 1;
                let path = self
                    .captures
                    .screenshot_dir
                    .join(timestamped("frame", self.captures.capture_count));
                self.capture(path);
            }
            Action::ToggleGui => {
                self.overlays.gui_visible = !self.overlays.gui_visible;
                if self.framing.fitted {
                    self.fit_camera(true);
                }
            }
            Action::ToggleHelp => self.overlays.help_visible = !self.overlays.help_visible,
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
                self.overlays.fullscreen = !self.overlays.fullscreen;
                self.effects
                    .push(Effect::SetFullscreen(self.overlays.fullscreen));
            }
            Action::Escape => {
                if self.overlays.lightbox.is_some() {
                    self.overlays.lightbox = None;
                } else if self.overlays.help_visible {
                    self.overlays.help_visible = false;
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
            Action::Analyze(dir) => {
                // `--watch DIR` names the folder of the map it started with, not of others
                if self.growing.watch_dir.as_ref().is_some_and(|d| d != &dir) {
                    self.growing.watch_dir = None;
                }
                self.start_analyze(Some(dir))
            }
            Action::AnalyzeDemo => self.start_analyze(None),
            Action::Open(path) => self.effects.push(Effect::Open(path)),
            Action::UnlockTsneSettings => self.unlock_tsne_settings(),
            Action::Load(path) => {
                if self.growing.autosave.as_ref() != Some(&path) {
                    self.growing.watch_dir = None;
                }
                self.start_load(path)
            }
            Action::Save(path) => self.save_json(path),
            Action::TsneParamsChanged => self.start_retsne(),
            Action::Zoom(factor, at) => {
                let at =
                    at.unwrap_or([self.camera.viewport[0] / 2.0, self.camera.viewport[1] / 2.0]);
                self.framing.glide = None;
                self.camera.zoom_around(factor, at);
                self.framing.fitted = false;
            }
            Action::Pan(delta) => {
                self.framing.glide = None;
                self.camera.pan_pixels(delta);
                self.framing.fitted = false;
            }
            Action::OpenLightbox(i) => {
                if let Some(path) = self.shown().and_then(|s| s.paths.get(i).cloned()) {
                    self.overlays.lightbox = Some(i);
                    self.effects.push(Effect::LoadLightbox { index: i, path });
                }
            }
            Action::ToggleWatch => {
                let on = !self.growing.watch_wanted;
                self.set_watch(on);
            }
            Action::GotoCluster(c) => {
                if let Err(why) = self.goto_cluster(c) {
                    self.notify(why.0);
                }
            }
            Action::RenameCluster(c, name) => self.rename_cluster(c, &name),
            a @ (Action::LassoStart(_)
            | Action::LassoTo(_)
            | Action::LassoEnd
            | Action::ToggleSelect(_)
            | Action::SelectCluster(_)
            | Action::ClearSelection
            | Action::ExportSelection(_)
            | Action::CopySelection(_)
            | Action::NewMapFromSelection) => self.act_selection(a),
            a @ (Action::LoadMetadata(_)
            | Action::SetFilter(_)
            | Action::SelectMatches
            | Action::SortGrid(_)) => self.act_metadata(a),
            Action::ExportSelectionDialog => self
                .effects
                .push(Effect::Dialog(DialogKind::ExportSelection)),
            Action::CopySelectionDialog => {
                self.effects.push(Effect::Dialog(DialogKind::CopySelection))
            }
            Action::LoadMetadataDialog => {
                self.effects.push(Effect::Dialog(DialogKind::LoadMetadata))
            }
            Action::ToggleClusterLabels => {
                self.clusters.labels_visible = !self.clusters.labels_visible;
            }
            Action::Quit => {
                self.cancel_job();
                self.effects.push(Effect::Quit);
            }
        }
    }

    /// The path typed into the fallback field was confirmed.
    pub fn submit_path_prompt(&mut self) {
        let Some(PathPrompt { kind, text }) = self.overlays.path_prompt.take() else {
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

/// Where a dialog opens: the folder of the shown scene's first image (no disk access: this
/// runs on the render thread).
pub fn dialog_location(image: Option<&Path>) -> Option<PathBuf> {
    image?.parent().map(Path::to_path_buf)
}
