//! Gallery mode: an unattended tour for installations — slow eased camera moves between an
//! overview and close-ups of random images (near enough to see them), and a t-SNE ⇄ grid toggle
//! every few seconds. Any input hands control back to the visitor; the tour resumes after a
//! while without input.

use super::scene::Scene;
use crate::render::{Camera, LayoutParams};

/// Seconds a camera move takes in the tour.
pub const MOVE_SECONDS: f64 = 5.0;
/// Seconds the camera rests between moves.
pub const HOLD_SECONDS: f64 = 4.0;

/// The tour's settings and clock.
#[derive(Clone, Debug)]
pub struct Gallery {
    pub enabled: bool,
    /// Toggle between t-SNE and grid every this many seconds (0 = never).
    pub toggle_every: f64,
    /// Resume the tour after this many seconds without input (0 = stay off after input).
    pub resume_after: f64,
    paused_until: Option<f64>,
    next_move: f64,
    next_toggle: f64,
    step: u64,
    rng: u64,
    /// Images to visit next (new arrivals), in order.
    visit: std::collections::VecDeque<usize>,
    /// The filter's matches: close-ups keep to these (`None`: any image).
    pub keep_to: Option<Vec<usize>>,
}

impl Default for Gallery {
    fn default() -> Self {
        Gallery {
            enabled: false,
            toggle_every: 30.0,
            resume_after: 60.0,
            paused_until: None,
            next_move: 0.0,
            next_toggle: 0.0,
            step: 0,
            rng: 0x2545_F491_4F6C_DD1D,
            visit: Default::default(),
            keep_to: None,
        }
    }
}

/// What the tour wants done this frame.
#[derive(Debug, Default, PartialEq)]
pub struct Tick {
    /// Glide the camera here (over [`MOVE_SECONDS`]).
    pub camera: Option<Camera>,
    pub toggle_grid: bool,
    /// The move goes to this new arrival (for a caption).
    pub visiting: Option<usize>,
    /// The move is a close-up of this image (a new arrival or a random one).
    pub close_up: Option<usize>,
    /// The move may visit a cluster instead (every third move, when the map has clusters).
    pub may_visit_cluster: bool,
}

impl Gallery {
    pub fn set_enabled(&mut self, on: bool, now: f64) {
        self.enabled = on;
        self.paused_until = None;
        self.next_move = now;
        self.next_toggle = now + self.toggle_every;
    }

    /// New images joined: the tour visits them next, one per move, starting soon.
    pub fn visit(&mut self, indices: &[usize], now: f64) {
        self.visit.extend(indices.iter().copied());
        self.next_move = self.next_move.min(now + 0.5);
    }

    /// Images still to be visited.
    pub fn to_visit(&self) -> usize {
        self.visit.len()
    }

    /// The visitor touched something: stop touring for a while (or for good).
    pub fn interrupt(&mut self, now: f64) {
        if !self.enabled {
            return;
        }
        if self.resume_after > 0.0 {
            self.paused_until = Some(now + self.resume_after);
        } else {
            self.enabled = false;
        }
    }

    /// Whether the tour is waiting for the visitor to leave.
    pub fn paused(&self, now: f64) -> bool {
        self.paused_until.is_some_and(|t| now < t)
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Advance the tour. `params` should be the layout the view is heading to (target blend);
    /// `can_toggle`: whether the grid is available to toggle to.
    pub fn tick(
        &mut self,
        now: f64,
        camera: &Camera,
        scene: Option<&Scene>,
        params: &LayoutParams,
        can_toggle: bool,
    ) -> Tick {
        let mut tick = Tick::default();
        if !self.enabled {
            return tick;
        }
        if let Some(until) = self.paused_until {
            if now < until {
                return tick;
            }
            self.paused_until = None;
            self.next_move = now;
            self.next_toggle = now + self.toggle_every;
        }
        let Some(scene) = scene.filter(|s| s.used_count() > 0) else {
            return tick;
        };
        if self.toggle_every > 0.0 && now >= self.next_toggle {
            self.next_toggle = now + self.toggle_every;
            if can_toggle {
                tick.toggle_grid = true;
                // After a toggle, start with an overview of the new layout.
                self.step = 0;
                self.next_move = now;
            }
        }
        if now >= self.next_move {
            let mut params = *params;
            if tick.toggle_grid {
                params.t = 1.0 - params.t.round();
            }
            tick.camera = match self.visit_next(camera, scene, &params) {
                Some((i, cam)) => {
                    tick.visiting = Some(i);
                    tick.close_up = Some(i);
                    Some(cam)
                }
                None => {
                    tick.may_visit_cluster = self.step % 3 == 1;
                    self.next_view(camera, scene, &params).map(|(cam, pick)| {
                        tick.close_up = pick;
                        cam
                    })
                }
            };
            self.next_move = now + MOVE_SECONDS + HOLD_SECONDS;
            self.step += 1;
        }
        tick
    }

    /// A close-up of the next new arrival still on the map.
    fn visit_next(
        &mut self,
        camera: &Camera,
        scene: &Scene,
        params: &LayoutParams,
    ) -> Option<(usize, Camera)> {
        while let Some(i) = self.visit.pop_front() {
            if scene.used.get(i).copied().unwrap_or(false) {
                return Some((i, close_up(camera, scene, params, i, 4.0)));
            }
        }
        None
    }

    /// Every third view is the overview; the others are close-ups of random images, near enough
    /// that a few images fill the screen.
    fn next_view(
        &mut self,
        camera: &Camera,
        scene: &Scene,
        params: &LayoutParams,
    ) -> Option<(Camera, Option<usize>)> {
        let bounds = scene.bounds(params)?;
        let mut target = *camera;
        if self.step.is_multiple_of(3) {
            target.fit(&bounds, 24.0);
            return Some((target, None));
        }
        let used: Vec<usize> = match &self.keep_to {
            // the filter's matches, when any is on the map
            Some(keep)
                if keep
                    .iter()
                    .any(|&i| scene.used.get(i).copied().unwrap_or(false)) =>
            {
                keep.iter()
                    .copied()
                    .filter(|&i| scene.used.get(i).copied().unwrap_or(false))
                    .collect()
            }
            _ => scene.used_indices(),
        };
        let pick = used[(self.random() % used.len() as u64) as usize];
        // About 5–8 images across the shorter side of the screen.
        let across = 5.0 + (self.random() % 4) as f32;
        Some((close_up(camera, scene, params, pick, across), Some(pick)))
    }
}

/// The camera centred on image `pick` with about `across` images across the shorter side.
pub(crate) fn close_up(
    camera: &Camera,
    scene: &Scene,
    params: &LayoutParams,
    pick: usize,
    across: f32,
) -> Camera {
    let mut target = *camera;
    let geom = scene.geometry();
    let cell = scene
        .grid
        .as_ref()
        .and_then(|g| g.cells.get(pick).copied())
        .unwrap_or([0, 0]);
    let point = scene.points.get(pick).copied().unwrap_or([0.5, 0.5]);
    let center = geom.instance_center(point, cell, params);
    let short = camera.viewport[0].min(camera.viewport[1]).max(1.0);
    target.center = center;
    target.zoom = (short / (across * geom.pitch())).clamp(camera.min_zoom, camera.max_zoom);
    target
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::Source;
    use std::path::PathBuf;

    fn scene(n: usize) -> Scene {
        Scene::new(
            1,
            Source::Folder(PathBuf::from("/x")),
            (0..n).map(|i| PathBuf::from(format!("{i}.png"))).collect(),
        )
    }

    #[test]
    fn tours_overview_then_closeups_and_toggles() {
        let mut g = Gallery {
            toggle_every: 20.0,
            ..Gallery::default()
        };
        g.set_enabled(true, 0.0);
        let cam = Camera::new([800.0, 600.0]);
        let s = scene(100);
        let p = LayoutParams::default();
        let first = g.tick(0.0, &cam, Some(&s), &p, true);
        let overview = first.camera.expect("moves at once");
        assert!(!first.toggle_grid);
        // nothing until the hold is over
        assert_eq!(g.tick(1.0, &cam, Some(&s), &p, true), Tick::default());
        let second = g
            .tick(MOVE_SECONDS + HOLD_SECONDS, &cam, Some(&s), &p, true)
            .camera
            .expect("second move");
        assert!(
            second.zoom > overview.zoom * 1.5,
            "close-up zooms in: {} vs {}",
            second.zoom,
            overview.zoom
        );
        let t = g.tick(20.0, &cam, Some(&s), &p, true);
        assert!(t.toggle_grid);
        assert!(t.camera.is_some(), "overview of the new layout");
    }

    #[test]
    fn input_pauses_then_resumes() {
        let mut g = Gallery {
            resume_after: 10.0,
            ..Gallery::default()
        };
        g.set_enabled(true, 0.0);
        let cam = Camera::new([800.0, 600.0]);
        let s = scene(10);
        let p = LayoutParams::default();
        g.interrupt(1.0);
        assert!(g.paused(5.0));
        assert_eq!(g.tick(5.0, &cam, Some(&s), &p, true), Tick::default());
        assert!(g.tick(11.5, &cam, Some(&s), &p, true).camera.is_some());
        // with resume_after = 0, input ends the tour
        let mut g = Gallery {
            resume_after: 0.0,
            ..Gallery::default()
        };
        g.set_enabled(true, 0.0);
        g.interrupt(1.0);
        assert!(!g.enabled);
    }

    #[test]
    fn empty_scene_is_harmless() {
        let mut g = Gallery::default();
        g.set_enabled(true, 0.0);
        assert_eq!(
            g.tick(
                0.0,
                &Camera::new([10.0, 10.0]),
                None,
                &LayoutParams::default(),
                true
            ),
            Tick::default()
        );
    }

    #[test]
    fn no_toggle_without_a_grid() {
        let mut g = Gallery {
            toggle_every: 5.0,
            ..Gallery::default()
        };
        g.set_enabled(true, 0.0);
        let cam = Camera::new([800.0, 600.0]);
        let s = scene(10);
        let t = g.tick(6.0, &cam, Some(&s), &LayoutParams::default(), false);
        assert!(!t.toggle_grid);
    }
}
