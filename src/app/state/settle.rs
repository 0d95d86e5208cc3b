//! Settle pacing in the state: optimizer frames go into a [`Playback`] and the positions shown
//! (uploaded to the GPU) are its samples, one per frame, until it has caught up. The scene's own
//! points are always the latest computed ones (what is saved and fitted).

use super::{AppState, Effect};
use crate::app::playback::Playback;

impl AppState {
    /// The positions to draw for scene `id` now: the playback's sample while one runs, else
    /// the scene's points.
    pub fn displayed_points(&self, id: u64) -> Option<Vec<[f32; 2]>> {
        if let Some((pid, p)) = &self.playback {
            if *pid == id {
                return Some(p.current().to_vec());
            }
        }
        self.scene_by_id(id).map(|s| s.points.clone())
    }

    /// Whether an optimizer run is being played back.
    pub fn settling(&self) -> bool {
        self.playback.is_some()
    }

    fn scene_by_id(&self, id: u64) -> Option<&super::Scene> {
        self.pending
            .iter()
            .chain(self.current.iter())
            .find(|s| s.id == id)
    }

    /// A new frame of scene `id` (`before`: its points until now); `progress`: fraction of the
    /// run computed, `None` for the last frame. Without pacing it is shown at once.
    pub(super) fn play_frame(
        &mut self,
        id: u64,
        before: Vec<[f32; 2]>,
        frame: Vec<[f32; 2]>,
        progress: Option<f64>,
    ) {
        if self.settle_seconds <= 0.0 {
            self.playback = None;
            self.effects.push(Effect::Positions { scene: id });
            return;
        }
        let fresh = match &self.playback {
            Some((pid, p)) => *pid != id || p.len() != frame.len() || p.finished(),
            None => true,
        };
        if fresh {
            // start from what is on screen (the spiral, the previous map, a playback's sample)
            let from = match &self.playback {
                Some((pid, p)) if *pid == id && p.len() == frame.len() => p.current().to_vec(),
                _ => before,
            };
            self.playback = Some((id, Playback::new(from, self.settle_seconds)));
        }
        if let Some((_, p)) = self.playback.as_mut() {
            p.push(frame, progress.unwrap_or(1.0));
            if progress.is_none() {
                p.finish();
            }
        }
    }

    /// Advance the playback to `now`: upload its sample; drop it once it has caught up.
    pub(super) fn advance_playback(&mut self, now: f64) {
        let Some((id, p)) = self.playback.as_mut() else {
            return;
        };
        let id = *id;
        p.sample(now);
        let done = p.finished();
        if self.scene_by_id(id).is_none() {
            self.playback = None;
            return;
        }
        self.effects.push(Effect::Positions { scene: id });
        if done {
            self.playback = None;
        }
    }
}
