//! Remote control: what a show-control system (QLab, Companion, TouchDesigner, Max — over OSC,
//! see [`crate::app::osc`]) asks of the viewer, and what the viewer tells it back. The commands
//! are carried out here, in the window-free state, like the keyboard's actions; set values
//! (grid on, tour off, GUI hidden) rather than toggles, so a controller that sends its state
//! twice changes nothing the second time.

use super::{gallery, AppState, CameraGlide};
use crate::app::state::Action;
use std::path::PathBuf;

/// A command from a remote controller.
#[derive(Clone, Debug, PartialEq)]
pub enum Remote {
    /// Grid (`true`) or t-SNE layout.
    Grid(bool),
    /// Hold the layout blend at this point (0 t-SNE … 1 grid), for a fader; `Grid` or the
    /// grid key let go of it.
    Blend(f32),
    /// The gallery tour on or off.
    Tour(bool),
    /// Glide to a close-up of image i.
    GotoIndex(usize),
    /// Glide to a close-up of the image with this path (or, when none has it, file name).
    GotoPath(String),
    /// Open image i in the lightbox (on every output), or close it (`None`).
    Lightbox(Option<usize>),
    /// Fly to cluster c (its number in the panel and in `clusters`' CSV), or back to the whole
    /// map (`None`).
    Cluster(Option<usize>),
    /// The filter box's text (empty: no filter): images that do not match dim, the tour keeps
    /// to the matches.
    Filter(String),
    /// Zoom by a factor (> 1: closer) around the window's centre.
    Zoom(f32),
    /// Pan by fractions of the window's width and height.
    Pan(f32, f32),
    /// Fit the layout into the window.
    Fit,
    /// Write the window's next frame as PNG here.
    Capture(PathBuf),
    /// Render the whole layout as PNG here.
    Screenshot(PathBuf),
    /// Open a layout JSON.
    Load(PathBuf),
    /// Analyze a folder.
    Analyze(PathBuf),
    /// Watch the map's folder for new images, or stop.
    Watch(bool),
    /// Show or hide the panel.
    Gui(bool),
    Quit,
}

/// Why a remote command was not carried out (the value was fine, the state was not ready or
/// the target does not exist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

/// What the viewer tells a remote controller.
#[derive(Clone, Debug, PartialEq)]
pub enum RemoteEvent {
    /// A watched image joined the map (its path and index).
    Joined { path: PathBuf, index: usize },
    /// The tour settled on an image.
    TourAt { path: PathBuf, index: usize },
    /// The layout switched (`true`: grid).
    Layout(bool),
    /// The tour flew to a cluster (its number and name).
    TourCluster { index: usize, label: String },
}

/// How many images across the shorter side a `goto` close-up shows.
const GOTO_ACROSS: f32 = 4.0;

impl AppState {
    /// Carry out a remote command; `Err` says why it was not.
    pub fn remote(&mut self, cmd: Remote) -> Result<(), Refusal> {
        let refuse = |s: &str| Err(Refusal(s.to_string()));
        match cmd {
            Remote::Grid(on) => {
                self.view.held_blend = None;
                if on && !self.grid_available() {
                    return refuse("no grid yet");
                }
                if self.view.view_as_grid != on {
                    self.act(Action::ToggleGrid);
                }
            }
            Remote::Blend(b) => {
                if !self.grid_available() {
                    return refuse("no grid yet");
                }
                self.view.held_blend = Some(b.clamp(0.0, 1.0));
            }
            Remote::Tour(on) => {
                if self.gallery.enabled != on {
                    self.act(Action::ToggleGallery);
                }
            }
            Remote::GotoIndex(i) => return self.goto(i),
            Remote::GotoPath(p) => {
                let Some(scene) = self.shown() else {
                    return refuse("no map yet");
                };
                let want = std::path::Path::new(&p);
                let found = scene.paths.iter().position(|q| q == want).or_else(|| {
                    scene
                        .paths
                        .iter()
                        .position(|q| q.file_name().is_some_and(|n| Some(n) == want.file_name()))
                });
                match found {
                    Some(i) => return self.goto(i),
                    None => return refuse("no image with that path or file name"),
                }
            }
            Remote::Lightbox(None) => self.overlays.lightbox = None,
            Remote::Lightbox(Some(i)) => {
                let Some(scene) = self.shown() else {
                    return refuse("no map yet");
                };
                if !scene.used.get(i).copied().unwrap_or(false) {
                    return Err(Refusal(format!(
                        "no image {i} on the map (it has {})",
                        scene.paths.len()
                    )));
                }
                self.user_input();
                self.act(Action::OpenLightbox(i));
            }
            Remote::Cluster(None) => {
                self.user_input();
                self.act(Action::Fit);
            }
            Remote::Cluster(Some(c)) => return self.goto_cluster(c),
            Remote::Filter(text) => {
                if self.shown().is_none() {
                    return refuse("no map yet");
                }
                self.act(Action::SetFilter(text));
            }
            Remote::Zoom(f) => {
                self.user_input();
                self.act(Action::Zoom(f, None));
            }
            Remote::Pan(x, y) => {
                self.user_input();
                let [w, h] = self.camera.viewport;
                self.act(Action::Pan([x * w, y * h]));
            }
            Remote::Fit => self.act(Action::Fit),
            Remote::Capture(path) => self.capture(path),
            Remote::Screenshot(path) => {
                if self.shown().is_none() {
                    return refuse("no map yet");
                }
                self.act(Action::SaveScreenshot(Some(path)));
            }
            Remote::Load(path) => self.act(Action::Load(path)),
            Remote::Analyze(path) => self.act(Action::Analyze(path)),
            Remote::Watch(on) => {
                if self.growing.watch_wanted != on {
                    self.act(Action::ToggleWatch);
                }
            }
            Remote::Gui(on) => {
                if self.overlays.gui_visible != on {
                    self.act(Action::ToggleGui);
                }
            }
            Remote::Quit => self.act(Action::Quit),
        }
        Ok(())
    }

    /// Glide to a close-up of image `i` (control is handed back from the tour, as for a
    /// visitor's input).
    fn goto(&mut self, i: usize) -> Result<(), Refusal> {
        let params = self.layout_params().with_t(self.target_t());
        let Some(scene) = self.shown() else {
            return Err(Refusal("no map yet".into()));
        };
        if !scene.used.get(i).copied().unwrap_or(false) {
            return Err(Refusal(format!(
                "no image {i} on the map (it has {})",
                scene.paths.len()
            )));
        }
        let to = gallery::close_up(&self.camera, scene, &params, i, GOTO_ACROSS);
        self.user_input();
        self.framing.glide = Some(CameraGlide {
            from: self.camera,
            to,
            start: self.now,
            duration: gallery::MOVE_SECONDS.min(2.0),
        });
        self.framing.fitted = false;
        Ok(())
    }

    /// Events for a remote controller since the last call.
    pub fn take_remote_events(&mut self) -> Vec<RemoteEvent> {
        std::mem::take(&mut self.remote_events)
    }

    /// Queue an event for a remote controller (only when one listens: nothing piles up).
    pub(super) fn tell_remote(&mut self, event: RemoteEvent) {
        if self.remote_listening {
            self.remote_events.push(event);
        }
    }

    /// Per frame: the layout switch and the tour's arrival, told to the controller.
    pub(super) fn remote_tick(&mut self) {
        let grid = self.target_t() >= 0.5;
        if self.last_layout_told != Some(grid) {
            if self.last_layout_told.is_some() {
                self.tell_remote(RemoteEvent::Layout(grid));
            }
            self.last_layout_told = Some(grid);
        }
        if let Some((index, at)) = self.tour_arrival {
            if !self.gallery.enabled {
                self.tour_arrival = None;
            } else if self.now >= at {
                self.tour_arrival = None;
                if let Some(path) = self.shown().and_then(|s| s.paths.get(index).cloned()) {
                    self.tell_remote(RemoteEvent::TourAt { path, index });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::{GridCells, Source};
    use crate::app::state::Scene;

    /// A shown map of `n` images with a grid.
    fn state_with_grid(n: usize) -> AppState {
        let mut s = AppState::new([800.0, 600.0]);
        let paths = (0..n)
            .map(|i| PathBuf::from(format!("/imgs/{i:03}.png")))
            .collect();
        let mut scene = Scene::new(1, Source::Folder("/imgs".into()), paths);
        let cols = (n as f64).sqrt().ceil() as u32;
        scene.grid = Some(GridCells {
            cols,
            rows: (n as u32).div_ceil(cols),
            cells: (0..n as u32).map(|i| [i % cols, i / cols]).collect(),
        });
        s.current = Some(scene);
        s.fit_camera(false);
        s
    }

    #[test]
    fn commands_set_values_and_refuse_what_cannot_be_done() {
        let mut s = AppState::new([800.0, 600.0]);
        // nothing shown yet
        assert!(s.remote(Remote::Grid(true)).is_err());
        assert!(s.remote(Remote::GotoIndex(0)).is_err());
        assert!(s.remote(Remote::Blend(0.5)).is_err());
        let mut s = state_with_grid(30);
        s.remote(Remote::Grid(true)).unwrap();
        assert!(s.view.view_as_grid);
        // set, not toggled: the same command twice keeps the grid
        s.remote(Remote::Grid(true)).unwrap();
        assert!(s.view.view_as_grid);
        s.remote(Remote::Blend(0.25)).unwrap();
        s.update(s.now + 0.1);
        assert_eq!(s.t, 0.25, "a held blend is shown at once");
        s.update(s.now + 2.0);
        assert_eq!(s.t, 0.25, "and held");
        s.remote(Remote::Grid(false)).unwrap();
        s.update(s.now + 2.0);
        assert_eq!(s.t, 0.0, "/grid lets go of the fader");
        s.remote(Remote::Gui(false)).unwrap();
        s.remote(Remote::Gui(false)).unwrap();
        assert!(!s.overlays.gui_visible);
        s.remote(Remote::Tour(true)).unwrap();
        assert!(s.gallery.enabled);
        assert!(s.remote(Remote::GotoIndex(30)).is_err());
        // the lightbox opens on an image of the map (its larger version is asked for) and closes
        assert!(s.remote(Remote::Lightbox(Some(30))).is_err());
        s.remote(Remote::Lightbox(Some(4))).unwrap();
        assert_eq!(s.overlays.lightbox, Some(4));
        assert!(s
            .drain_effects()
            .iter()
            .any(|e| matches!(e, crate::app::state::Effect::LoadLightbox { index: 4, .. })));
        s.remote(Remote::Lightbox(None)).unwrap();
        s.remote(Remote::Lightbox(None)).unwrap();
        assert_eq!(s.overlays.lightbox, None);
        let before = s.camera;
        s.remote(Remote::GotoIndex(7)).unwrap();
        s.update(s.now + 5.0);
        assert!(s.camera.zoom > before.zoom, "a close-up");
        assert!(
            s.gallery.paused(s.now),
            "control is handed back from the tour"
        );
        let name = s.shown().unwrap().paths[3]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        s.remote(Remote::GotoPath(name)).unwrap();
        assert!(s.remote(Remote::GotoPath("nowhere.png".into())).is_err());
        s.remote(Remote::Capture("/tmp/x/frame.png".into()))
            .unwrap();
        assert!(s
            .effects
            .iter()
            .any(|e| matches!(e, crate::app::state::Effect::CaptureFrame { path } if path == std::path::Path::new("/tmp/x/frame.png"))));
    }

    #[test]
    fn the_tour_starts_after_the_attract_time_without_input() {
        let mut s = state_with_grid(20);
        s.attract_after = 30.0;
        s.update(10.0);
        s.user_input();
        s.update(39.0);
        assert!(!s.gallery.enabled, "29 s after the last input");
        s.update(40.5);
        assert!(s.gallery.enabled, "30 s after it");
        // turned off, it comes back after another quiet spell
        s.act(Action::ToggleGallery);
        s.user_input();
        s.update(50.0);
        assert!(!s.gallery.enabled);
        s.update(71.0);
        assert!(s.gallery.enabled);
        let mut quiet = state_with_grid(20);
        quiet.update(1000.0);
        assert!(!quiet.gallery.enabled, "no attract unless asked");
    }

    #[test]
    fn layout_switches_are_told_only_to_a_listener() {
        let mut s = state_with_grid(20);
        s.update(s.now + 0.1);
        s.remote(Remote::Grid(true)).unwrap();
        s.update(s.now + 0.1);
        assert!(s.take_remote_events().is_empty(), "nobody listens");
        s.remote_listening = true;
        s.remote(Remote::Grid(false)).unwrap();
        s.update(s.now + 0.1);
        s.remote(Remote::Grid(false)).unwrap();
        s.update(s.now + 0.1);
        assert_eq!(s.take_remote_events(), vec![RemoteEvent::Layout(false)]);
        s.remote(Remote::Blend(0.9)).unwrap();
        s.update(s.now + 0.1);
        assert_eq!(s.take_remote_events(), vec![RemoteEvent::Layout(true)]);
    }
}
