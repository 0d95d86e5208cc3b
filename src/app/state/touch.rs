//! Touch: visitors' fingers on a touch screen, turned into the same camera moves as the mouse.
//! One finger drags (pan); two pinch (zoom around their midpoint, and pan with it); a tap
//! opens the lightbox on the image under it, a tap anywhere while the lightbox is open closes
//! it, a double tap fits the map. A touch that starts on the panel belongs to the panel (egui)
//! until it is lifted. Every touch hands control back from the tour, like the mouse.

use super::{Action, AppState};
use std::collections::BTreeMap;

/// A touch moving less than this (pixels) from where it started is a tap, not a drag.
pub const TAP_SLOP: f32 = 12.0;
/// A touch held longer than this is not a tap.
pub const TAP_SECONDS: f64 = 0.5;
/// Two taps closer in time (s) and place (px) than this are a double tap.
pub const DOUBLE_TAP_SECONDS: f64 = 0.35;
pub const DOUBLE_TAP_SLOP: f32 = 40.0;

/// Where a touch is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TouchPhase {
    Start,
    Move,
    End,
    Cancel,
}

/// One finger's report: its id, phase and position in window pixels (y down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TouchPoint {
    pub id: u64,
    pub phase: TouchPhase,
    pub at: [f32; 2],
}

#[derive(Clone, Copy, Debug)]
struct Finger {
    start: [f32; 2],
    at: [f32; 2],
    since: f64,
    /// Started on the panel: the panel's, not ours.
    on_gui: bool,
}

/// The fingers down and the taps in flight.
#[derive(Debug, Default)]
pub struct Touches {
    fingers: BTreeMap<u64, Finger>,
    /// More than one finger was down since the last time none was: no tap.
    multi: bool,
    /// The last tap, waiting to see whether a second makes it a double tap: where, when, and
    /// the image under it.
    pending_tap: Option<([f32; 2], f64, Option<usize>)>,
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

fn mid(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]
}

impl AppState {
    /// A finger's report. `on_gui`: the panel (or lightbox) is under a starting touch;
    /// `hit`: the image under a point, if any (the renderer's hit test).
    pub fn touch(&mut self, t: TouchPoint, on_gui: bool, hit: &dyn Fn([f32; 2]) -> Option<usize>) {
        let now = self.now;
        match t.phase {
            TouchPhase::Start => {
                if !on_gui {
                    self.user_input();
                }
                if !self.touches.fingers.is_empty() {
                    self.touches.multi = true;
                }
                self.touches.fingers.insert(
                    t.id,
                    Finger {
                        start: t.at,
                        at: t.at,
                        since: now,
                        on_gui,
                    },
                );
            }
            TouchPhase::Move => {
                let Some(before) = self.touches.fingers.get(&t.id).copied() else {
                    return;
                };
                if before.on_gui {
                    return;
                }
                // the two fingers that steer: this one and the first other one on the map
                let other = self
                    .touches
                    .fingers
                    .iter()
                    .find(|(id, f)| **id != t.id && !f.on_gui)
                    .map(|(_, f)| f.at);
                // a lone finger still within the tap slop stays where it started (so the
                // drag, once it is one, moves the map by all of the way)
                let lone_still =
                    other.is_none() && !self.touches.multi && dist(t.at, before.start) <= TAP_SLOP;
                if lone_still {
                    return;
                }
                if let Some(f) = self.touches.fingers.get_mut(&t.id) {
                    f.at = t.at;
                }
                self.user_input();
                match other {
                    None => {
                        self.act(Action::Pan([
                            t.at[0] - before.at[0],
                            t.at[1] - before.at[1],
                        ]));
                    }
                    Some(o) => {
                        let (d0, d1) = (dist(before.at, o), dist(t.at, o));
                        let (m0, m1) = (mid(before.at, o), mid(t.at, o));
                        self.act(Action::Pan([m1[0] - m0[0], m1[1] - m0[1]]));
                        if d0 > 1.0 && d1 > 1.0 {
                            self.act(Action::Zoom(d1 / d0, Some(m1)));
                        }
                    }
                }
            }
            TouchPhase::End | TouchPhase::Cancel => {
                let Some(f) = self.touches.fingers.remove(&t.id) else {
                    return;
                };
                let tap = t.phase == TouchPhase::End
                    && !f.on_gui
                    && !self.touches.multi
                    && dist(t.at, f.start) <= TAP_SLOP
                    && now - f.since <= TAP_SECONDS;
                if self.touches.fingers.is_empty() {
                    self.touches.multi = false;
                }
                if tap {
                    self.tap(t.at, hit(t.at));
                }
            }
        }
    }

    /// A tap: closes an open lightbox; a second tap close by is a double tap (fit); else it
    /// opens the lightbox on its image once no second tap came ([`AppState::touch_tick`]).
    fn tap(&mut self, at: [f32; 2], image: Option<usize>) {
        if self.overlays.lightbox.is_some() {
            self.overlays.lightbox = None;
            self.touches.pending_tap = None;
            return;
        }
        let now = self.now;
        match self.touches.pending_tap.take() {
            Some((p, t, _)) if now - t <= DOUBLE_TAP_SECONDS && dist(p, at) <= DOUBLE_TAP_SLOP => {
                self.act(Action::Fit);
            }
            _ => self.touches.pending_tap = Some((at, now, image)),
        }
    }

    /// Per frame: a tap that stayed single opens the lightbox on its image.
    pub(super) fn touch_tick(&mut self) {
        if let Some((_, t, image)) = self.touches.pending_tap {
            if self.now - t > DOUBLE_TAP_SECONDS {
                self.touches.pending_tap = None;
                if let Some(i) = image {
                    self.act(Action::OpenLightbox(i));
                }
            }
        }
    }

    /// Fingers down on the map now.
    pub fn fingers_down(&self) -> usize {
        self.touches.fingers.values().filter(|f| !f.on_gui).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::Source;
    use crate::app::state::Scene;
    use std::path::PathBuf;

    fn shown(n: usize) -> AppState {
        let mut s = AppState::new([800.0, 600.0]);
        let paths = (0..n)
            .map(|i| PathBuf::from(format!("/imgs/{i}.png")))
            .collect();
        s.current = Some(Scene::new(1, Source::Folder("/imgs".into()), paths));
        s.fit_camera(false);
        s
    }

    fn tp(id: u64, phase: TouchPhase, at: [f32; 2]) -> TouchPoint {
        TouchPoint { id, phase, at }
    }

    /// The image under any point is image 3 (the renderer's job, not this test's).
    fn on_3(_: [f32; 2]) -> Option<usize> {
        Some(3)
    }
    fn nothing(_: [f32; 2]) -> Option<usize> {
        None
    }

    #[test]
    fn one_finger_pans_and_two_pinch_around_their_midpoint() {
        let mut s = shown(10);
        let c0 = s.camera;
        s.touch(tp(1, TouchPhase::Start, [400.0, 300.0]), false, &nothing);
        for k in 1..=10 {
            s.touch(
                tp(1, TouchPhase::Move, [400.0 + 10.0 * k as f32, 300.0]),
                false,
                &nothing,
            );
        }
        // dragged 100 px right: the world under the finger followed it
        let moved = (s.camera.center[0] - c0.center[0]) * s.camera.zoom;
        assert!((moved + 100.0).abs() < 1.0, "panned {moved} px");
        s.touch(tp(1, TouchPhase::End, [500.0, 300.0]), false, &nothing);
        assert_eq!(s.overlays.lightbox, None, "a drag is no tap");
        // pinch: fingers 200 px apart spread to 400 around (400, 300)
        let z0 = s.camera.zoom;
        let world_mid = s.camera.screen_to_world([400.0, 300.0]);
        s.touch(tp(2, TouchPhase::Start, [300.0, 300.0]), false, &nothing);
        s.touch(tp(3, TouchPhase::Start, [500.0, 300.0]), false, &nothing);
        for k in 1..=10 {
            let d = 10.0 * k as f32;
            s.touch(tp(2, TouchPhase::Move, [300.0 - d, 300.0]), false, &nothing);
            s.touch(tp(3, TouchPhase::Move, [500.0 + d, 300.0]), false, &nothing);
        }
        let z = s.camera.zoom / z0;
        assert!((z - 2.0).abs() < 0.05, "zoomed ×{z}");
        let after = s.camera.screen_to_world([400.0, 300.0]);
        assert!(
            (after[0] - world_mid[0]).abs() * s.camera.zoom < 2.0
                && (after[1] - world_mid[1]).abs() * s.camera.zoom < 2.0,
            "the midpoint stays under the fingers"
        );
        // one finger lifts: the other pans on, and no tap comes of the pinch
        s.touch(tp(3, TouchPhase::End, [600.0, 300.0]), false, &on_3);
        let c1 = s.camera.center;
        s.touch(tp(2, TouchPhase::Move, [200.0, 350.0]), false, &on_3);
        assert!(s.camera.center != c1, "the remaining finger pans");
        s.touch(tp(2, TouchPhase::End, [200.0, 350.0]), false, &on_3);
        s.update(s.now + 1.0);
        assert_eq!(s.overlays.lightbox, None);
        assert_eq!(s.fingers_down(), 0);
    }

    #[test]
    fn taps_open_and_close_the_lightbox_and_a_double_tap_fits() {
        let mut s = shown(10);
        s.touch(tp(1, TouchPhase::Start, [100.0, 100.0]), false, &on_3);
        s.touch(tp(1, TouchPhase::End, [103.0, 101.0]), false, &on_3);
        assert_eq!(s.overlays.lightbox, None, "waits for a second tap");
        s.update(s.now + 0.5);
        assert_eq!(s.overlays.lightbox, Some(3));
        // a tap anywhere closes it at once
        s.touch(tp(2, TouchPhase::Start, [700.0, 500.0]), false, &nothing);
        s.touch(tp(2, TouchPhase::End, [700.0, 500.0]), false, &nothing);
        assert_eq!(s.overlays.lightbox, None);
        // zoomed in, then a double tap fits (and opens nothing)
        s.act(Action::Zoom(4.0, None));
        let fitted_zoom = {
            let mut t = shown(10);
            t.fit_camera(false);
            t.camera.zoom
        };
        let now = s.now;
        s.touch(tp(3, TouchPhase::Start, [300.0, 300.0]), false, &on_3);
        s.touch(tp(3, TouchPhase::End, [300.0, 300.0]), false, &on_3);
        s.update(now + 0.1);
        s.touch(tp(4, TouchPhase::Start, [305.0, 298.0]), false, &on_3);
        s.touch(tp(4, TouchPhase::End, [305.0, 298.0]), false, &on_3);
        s.update(now + 2.0);
        assert_eq!(s.overlays.lightbox, None);
        assert!((s.camera.zoom - fitted_zoom).abs() < 1e-3 * fitted_zoom);
        // a long press is no tap
        s.touch(tp(5, TouchPhase::Start, [300.0, 300.0]), false, &on_3);
        s.update(s.now + 1.0);
        s.touch(tp(5, TouchPhase::End, [300.0, 300.0]), false, &on_3);
        s.update(s.now + 1.0);
        assert_eq!(s.overlays.lightbox, None);
    }

    #[test]
    fn touches_on_the_panel_are_the_panels_and_touch_pauses_the_tour() {
        let mut s = shown(10);
        s.gallery.set_enabled(true, 0.0);
        s.gallery.resume_after = 60.0;
        let c0 = s.camera;
        s.touch(tp(1, TouchPhase::Start, [10.0, 10.0]), true, &on_3);
        s.touch(tp(1, TouchPhase::Move, [200.0, 10.0]), true, &on_3);
        s.touch(tp(1, TouchPhase::End, [200.0, 10.0]), true, &on_3);
        s.update(s.now + 1.0);
        assert_eq!(s.camera.center, c0.center, "the panel's drag moves no map");
        assert_eq!(s.overlays.lightbox, None);
        assert!(
            !s.gallery.paused(s.now),
            "the panel's touch leaves the tour"
        );
        // a touch on the map hands control back; the tour resumes after --gallery-resume
        let t0 = s.now;
        s.touch(tp(2, TouchPhase::Start, [400.0, 300.0]), false, &nothing);
        assert!(s.gallery.paused(t0 + 1.0));
        s.touch(tp(2, TouchPhase::Cancel, [400.0, 300.0]), false, &nothing);
        assert!(!s.gallery.paused(t0 + 61.0));
        // a cancelled touch is no tap; an end without a start is ignored
        s.touch(tp(9, TouchPhase::End, [1.0, 1.0]), false, &on_3);
        s.update(s.now + 1.0);
        assert_eq!(s.overlays.lightbox, None);
    }
}
