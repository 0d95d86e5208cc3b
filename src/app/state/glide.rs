//! Grid moves of a growing map, shown: cells glide (fractional cells uploaded per frame) from
//! where images were in the old grid to their new cells, newcomers come in from outside the
//! grid, removed images leave it and are hidden when they are out.

use super::{AppState, Effect, GridCells, Leaving};
use crate::app::playback::CellGlide;
use crate::render::LayoutGeometry;
use std::collections::HashSet;

/// Distance (in cells, from the grid's centre) from which newcomers arrive and to which
/// removed images leave, as a multiple of the grid's larger side.
const OUTSIDE: f32 = 0.8;

impl AppState {
    /// Glide the scene's cells from `old` (the grid before, `None`: none) to its grid now.
    /// `new`: newcomers (from outside), `removed`: images leaving (to outside, then hidden).
    pub(super) fn glide_cells(
        &mut self,
        id: u64,
        old: Option<GridCells>,
        new: &[usize],
        removed: &[usize],
    ) {
        let duration = self.settle_seconds;
        let now = self.now;
        let Some(scene) = self.scene_mut(id) else {
            return;
        };
        let (Some(old), Some(grid)) = (old, scene.grid.clone()) else {
            return;
        };
        if duration <= 0.0 {
            return;
        }
        let g0 = LayoutGeometry::new(old.cols, old.rows);
        let g1 = LayoutGeometry::new(grid.cols, grid.rows);
        let (o1, p1) = (g1.grid_origin(), g1.pitch());
        // an old cell as a fractional cell of the new grid (same place in the world)
        let carry = |c: [u32; 2]| {
            let w = g0.grid_center(c);
            [(w[0] - o1[0]) / p1 - 0.5, (w[1] - o1[1]) / p1 - 0.5]
        };
        let centre = [grid.cols as f32 / 2.0 - 0.5, grid.rows as f32 / 2.0 - 0.5];
        let reach = grid.cols.max(grid.rows) as f32 * OUTSIDE;
        let outside = |c: [f32; 2]| {
            let d = [c[0] - centre[0], c[1] - centre[1]];
            let len = d[0].hypot(d[1]);
            let u = if len > 1e-3 {
                [d[0] / len, d[1] / len]
            } else {
                [0.0, -1.0]
            };
            [centre[0] + u[0] * reach, centre[1] + u[1] * reach]
        };
        // sets: a grown 50 000-image map with 1 000 newcomers would otherwise compare every
        // image with every newcomer on the render thread
        let new: HashSet<usize> = new.iter().copied().collect();
        let leaving: HashSet<usize> = removed.iter().copied().collect();
        let n = scene.len();
        let mut from = Vec::with_capacity(n);
        let mut to = Vec::with_capacity(n);
        for i in 0..n {
            let now_cell = grid.cells.get(i).copied().unwrap_or([0, 0]);
            let now_f = [now_cell[0] as f32, now_cell[1] as f32];
            let before = old.cells.get(i).copied().map(carry);
            if new.contains(&i) {
                from.push(outside(now_f));
                to.push(now_f);
            } else if leaving.contains(&i) {
                let b = before.unwrap_or(now_f);
                from.push(b);
                to.push(outside(b));
            } else {
                from.push(before.unwrap_or(now_f));
                to.push(now_f);
            }
        }
        self.growing.glide = Some((id, CellGlide::new(from, to, now, duration)));
        self.effects.push(Effect::Grid { scene: id });
        for &i in removed {
            self.growing.leaving.push(Leaving {
                scene: id,
                index: i,
                start: now,
                end: now + duration,
            });
        }
    }

    /// The fractional cells to draw for scene `id` while its cells glide.
    pub fn displayed_cells(&self, id: u64) -> Option<Vec<[f32; 2]>> {
        match &self.growing.glide {
            Some((gid, g)) if *gid == id => Some(g.sample(self.now)),
            _ => None,
        }
    }

    /// Per frame: upload the gliding cells, fade out the images leaving and hide those that
    /// have left, end the glide.
    pub(super) fn advance_glide(&mut self, now: f64) {
        let due: Vec<(u64, usize)> = self
            .growing
            .leaving
            .iter()
            .filter(|l| l.end <= now)
            .map(|l| (l.scene, l.index))
            .collect();
        self.growing.leaving.retain(|l| l.end > now);
        for &Leaving {
            scene,
            index,
            start,
            end,
        } in &self.growing.leaving
        {
            let left = ((end - now) / (end - start).max(1e-6)).clamp(0.0, 1.0) as f32;
            self.effects.push(Effect::Opacity {
                scene,
                index,
                opacity: left * left * (3.0 - 2.0 * left),
            });
        }
        for (scene, index) in due {
            // still removed (not back meanwhile)
            if self
                .scene_mut(scene)
                .is_some_and(|s| !s.used.get(index).copied().unwrap_or(true))
            {
                self.effects.push(Effect::Visibility {
                    scene,
                    index,
                    visible: false,
                });
            }
        }
        let Some((id, g)) = &self.growing.glide else {
            return;
        };
        let (id, done) = (*id, g.finished(now));
        self.effects.push(Effect::Grid { scene: id });
        if done {
            self.growing.glide = None;
        }
    }
}
