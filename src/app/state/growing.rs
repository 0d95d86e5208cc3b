//! Growing the shown map live: the watched folder's changes are queued and applied by a grow
//! job when no other job runs; the grown map's new images fly in from the edge (played back
//! like a t-SNE run), are highlighted for a while and visited next by the gallery tour;
//! removed images leave (hidden, their cells freed). Every change is autosaved (on a worker).

use super::scene::GridCells;
use super::{AppState, Effect, JobKind};
use crate::app::worker::{atlas_plan, AutosaveRequest, JobRequest};
use crate::grow::MapState;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Seconds a new image stays highlighted.
pub const HIGHLIGHT_SECONDS: f64 = 8.0;
/// Seconds each highlighted image of a batch is outlined in turn.
const HIGHLIGHT_TURN: f64 = 1.0;

/// A running folder watch and the changes waiting for a grow job.
#[derive(Debug)]
pub struct WatchState {
    pub dir: PathBuf,
    stop: Arc<AtomicBool>,
    pub queued_add: Vec<PathBuf>,
    pub queued_remove: Vec<PathBuf>,
}

impl Drop for WatchState {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl AppState {
    /// Turn the folder watch on or off (`--watch`, the panel's checkbox, `W`).
    pub fn set_watch(&mut self, on: bool) {
        self.watch_wanted = on;
        if on {
            self.maybe_start_watch();
        } else if self.watch.take().is_some() {
            self.notify("stopped watching the folder");
        }
    }

    /// Start watching once a map is shown and no job builds one (the folder: `--watch`'s path,
    /// else the analysed folder, else the folder holding the layout's images).
    pub(super) fn maybe_start_watch(&mut self) {
        if !self.watch_wanted || self.watch.is_some() {
            return;
        }
        if self
            .job
            .as_ref()
            .is_some_and(|j| matches!(j.kind, JobKind::Analyze | JobKind::Load))
        {
            return;
        }
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        let dir = self.watch_dir.clone().or_else(|| match &scene.source {
            super::Source::Folder(d) => Some(d.clone()),
            super::Source::Json(_) => crate::app::worker::common_folder(&scene.paths),
        });
        let Some(dir) = dir else {
            return self.error("nothing to watch: the map has no folder");
        };
        let known: Vec<PathBuf> = scene
            .used_indices()
            .iter()
            .map(|&i| scene.paths[i].clone())
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        self.effects.push(Effect::StartWatch {
            dir: dir.clone(),
            known,
            stop: stop.clone(),
        });
        self.notify(format!("watching {} for new images", dir.display()));
        self.watch = Some(WatchState {
            dir,
            stop,
            queued_add: vec![],
            queued_remove: vec![],
        });
    }

    /// The watched folder changed: queue it (a grow job takes the queue when no job runs).
    pub(super) fn on_watched(&mut self, added: Vec<PathBuf>, removed: Vec<PathBuf>) {
        let Some(w) = self.watch.as_mut() else {
            return;
        };
        for p in removed {
            w.queued_add.retain(|q| q != &p);
            w.queued_remove.push(p);
        }
        for p in added {
            w.queued_remove.retain(|q| q != &p);
            w.queued_add.push(p);
        }
    }

    /// Start a grow job for the queued changes when nothing else runs.
    pub(super) fn maybe_start_grow(&mut self) {
        if self.job.is_some() {
            return;
        }
        let Some(w) = self.watch.as_mut() else {
            return;
        };
        if w.queued_add.is_empty() && w.queued_remove.is_empty() {
            return;
        }
        let add = std::mem::take(&mut w.queued_add);
        let gone = std::mem::take(&mut w.queued_remove);
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        let used = scene.used_indices();
        // hash sets, not nested scans: a 50 000-image map with 1 000 changes is a frame's work
        let gone: HashSet<&PathBuf> = gone.iter().collect();
        let on_map: HashSet<&PathBuf> = used.iter().map(|&i| &scene.paths[i]).collect();
        // rows of the map: the used images in order
        let remove: Vec<usize> = used
            .iter()
            .enumerate()
            .filter(|(_, &i)| gone.contains(&scene.paths[i]))
            .map(|(row, _)| row)
            .collect();
        let add: Vec<PathBuf> = add.into_iter().filter(|p| !on_map.contains(p)).collect();
        if add.is_empty() && remove.is_empty() {
            return;
        }
        let map = scene.map.clone();
        let layout = scene.entries_with_grid();
        let grid_size = scene.grid.as_ref().map(|g| [g.cols, g.rows]);
        let id = scene.id;
        let (job, cancel, _) = self.new_job(JobKind::Grow, id);
        self.effects.push(Effect::StartJob(JobRequest::Grow {
            job,
            map,
            layout,
            grid_size,
            add,
            remove,
            cancel,
        }));
    }

    /// The growing map of the scene a job built or re-ran.
    pub(super) fn on_map(&mut self, map: Arc<MapState>) {
        let Some(scene) = self.job_scene() else {
            return;
        };
        if map.len() != scene.used_count() {
            let n = scene.used_count();
            return self.mismatch("a map", n, map.len());
        }
        scene.map = Some(map);
    }

    /// A grow job's result: hide the removed images, append the new ones (flying in from the
    /// edge), take the grid, highlight and visit the newcomers, autosave.
    pub(super) fn on_grown(
        &mut self,
        map: Arc<MapState>,
        removed: Vec<usize>,
        added: usize,
        moved: usize,
    ) {
        let settle = self.settle_seconds;
        let now = self.now;
        let Some(scene) = self.job_scene() else {
            return;
        };
        let used = scene.used_indices();
        if used.len() < removed.len() || used.len() - removed.len() + added != map.len() {
            let n = used.len();
            return self.mismatch("a grown map", n, map.len());
        }
        let id = scene.id;
        let before = scene.points.clone();
        let old_grid = scene.grid.clone();
        let old_shape = old_grid.as_ref().map(|g| (g.cols, g.rows));
        let mut effects = vec![];
        let mut gone = vec![];
        for &row in &removed {
            if let Some(&i) = used.get(row) {
                scene.used[i] = false;
                gone.push(i);
                if settle > 0.0 {
                    // it leaves the map towards the edge (hidden once out)
                    scene.points[i] = towards_edge(scene.points[i]);
                } else {
                    effects.push(Effect::Visibility {
                        scene: id,
                        index: i,
                        visible: false,
                    });
                }
            }
        }
        let first_new = scene.len();
        let start = map.len() - added;
        for row in start..map.len() {
            scene.paths.push(map.paths[row].clone());
            scene.used.push(true);
            scene.points.push(map.points[row]);
            scene.aspects.push(1.0);
        }
        let new: Vec<usize> = (first_new..scene.len()).collect();
        let used = scene.used_indices();
        if let Some(g) = &map.grid {
            let mut cells = vec![[0, 0]; scene.len()];
            for (row, &i) in used.iter().enumerate() {
                cells[i] = g.cells.get(row).copied().unwrap_or([0, 0]);
            }
            scene.grid = Some(GridCells {
                cols: g.shape.cols as u32,
                rows: g.shape.rows as u32,
                cells,
            });
        }
        scene.features = Some(Arc::new(map.reduced.clone()));
        scene.reduced_rows = used;
        scene.map = Some(map);
        let grown_atlas = scene.len() > scene.capacity;
        let paths = scene.paths.clone();
        if grown_atlas {
            // no room left in the atlas: a larger one, every cell loaded again
            match atlas_plan(crate::app::worker::capacity_with_headroom(scene.len())) {
                Ok(plan) => {
                    scene.capacity = plan.count;
                    let hidden: Vec<usize> = (0..scene.len()).filter(|&i| !scene.used[i]).collect();
                    self.effects.push(Effect::CreateScene { scene: id, plan });
                    self.effects.push(Effect::LoadCells {
                        scene: id,
                        cells: paths.iter().cloned().enumerate().collect(),
                    });
                    for index in hidden {
                        effects.push(Effect::Visibility {
                            scene: id,
                            index,
                            visible: false,
                        });
                    }
                }
                Err(e) => return self.error(format!("no room for the new images: {e}")),
            }
        } else if !new.is_empty() {
            self.effects.push(Effect::LoadCells {
                scene: id,
                cells: new.iter().map(|&i| (i, paths[i].clone())).collect(),
            });
        }
        self.effects.extend(effects);
        for &index in &new {
            self.effects.push(Effect::Visibility {
                scene: id,
                index,
                visible: true,
            });
        }
        self.effects.push(Effect::Grid { scene: id });
        // the newcomers fly in from the edge of the map, along the line from its centre
        let mut from = self.displayed_points(id).unwrap_or(before);
        from.truncate(first_new);
        for &i in &new {
            let p = self.current.as_ref().map_or([0.5, 0.5], |s| s.points[i]);
            from.push(towards_edge(p));
        }
        let target = self
            .current
            .as_ref()
            .map(|s| s.points.clone())
            .unwrap_or_default();
        self.glide_cells(id, old_grid, &new, &gone);
        if settle > 0.0 && (!new.is_empty() || !gone.is_empty()) && from.len() == target.len() {
            self.playback = None;
            self.play_frame(id, from, target, None);
        } else {
            self.playback = None;
            self.effects.push(Effect::Positions { scene: id });
        }
        self.highlights.retain(|(_, until)| *until > now);
        self.highlights
            .extend(new.iter().map(|&i| (i, now + HIGHLIGHT_SECONDS)));
        if self.gallery.enabled && !new.is_empty() {
            self.gallery.visit(&new, now);
        }
        let mut text = vec![];
        if !new.is_empty() {
            text.push(format!(
                "{} new image{} joined the map",
                new.len(),
                plural(new.len())
            ));
        }
        if !removed.is_empty() {
            text.push(format!("{} removed", removed.len()));
        }
        text.push(format!("{moved} moved cell"));
        let new_shape = self
            .job_scene()
            .and_then(|s| s.grid.as_ref().map(|g| (g.cols, g.rows)))
            .filter(|&now| Some(now) != old_shape);
        if let (Some((cols, rows)), Some(_)) = (new_shape, old_shape) {
            // Everything glides to the larger grid, though no image changed place in it.
            text.push(format!("the grid grew to {cols}×{rows}"));
        }
        let text = text.join(", ");
        log::info!("{text}");
        self.last_change = Some(text.clone());
        self.notify(text);
        if self.camera_fitted {
            self.fit_camera(true);
        }
        self.autosave_now();
    }

    /// Write the shown map to the `--autosave` file (on a worker), if one is set.
    pub(super) fn autosave_now(&mut self) {
        let Some(path) = self.autosave.clone() else {
            return;
        };
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        let tsne = scene.tsne_known.then_some(crate::layout_io::TsneSettings {
            perplexity: scene.perplexity,
            theta: scene.theta,
        });
        let (entries, grid_size) = match &scene.map {
            Some(m) => (
                m.entries(),
                m.grid
                    .as_ref()
                    .map(|g| [g.shape.cols as u32, g.shape.rows as u32]),
            ),
            None => (
                scene.entries_with_grid(),
                scene.grid.as_ref().map(|g| [g.cols, g.rows]),
            ),
        };
        self.effects.push(Effect::Autosave(AutosaveRequest {
            path,
            entries,
            grid_size,
            tsne,
            map: scene.map.clone(),
        }));
    }

    /// The image to outline now as newly arrived, and the pulse (0–1) of its outline.
    pub fn highlighted(&self) -> Option<(usize, f32)> {
        let live: Vec<usize> = self
            .highlights
            .iter()
            .filter(|(_, until)| *until > self.now)
            .map(|(i, _)| *i)
            .collect();
        if live.is_empty() {
            return None;
        }
        let turn = (self.now / HIGHLIGHT_TURN).max(0.0) as usize % live.len();
        let pulse = 0.5 + 0.5 * (self.now * std::f64::consts::TAU * 1.5).sin();
        Some((live[turn], pulse as f32))
    }

    /// Images highlighted as new right now.
    pub fn highlights(&self) -> Vec<usize> {
        self.highlights
            .iter()
            .filter(|(_, until)| *until > self.now)
            .map(|(i, _)| *i)
            .collect()
    }

    /// Status of the watch for the status line.
    pub(super) fn watch_status(&self) -> Option<String> {
        let w = self.watch.as_ref()?;
        let queued = w.queued_add.len() + w.queued_remove.len();
        let mut s = "watching".to_string();
        if queued > 0 {
            s.push_str(&format!(" ({queued} waiting)"));
        }
        if let Some(c) = &self.last_change {
            s.push_str(&format!(": last {c}"));
        }
        Some(s)
    }
}

/// A point just outside the map, on the line from the map's centre through `p`: where
/// newcomers fly in from and removed images leave to.
fn towards_edge(p: [f32; 2]) -> [f32; 2] {
    let d = [p[0] - 0.5, p[1] - 0.5];
    let len = d[0].hypot(d[1]);
    let dir = if len > 1e-3 && len.is_finite() {
        [d[0] / len, d[1] / len]
    } else {
        [1.0, 0.0]
    };
    [0.5 + dir[0] * 0.9, 0.5 + dir[1] * 0.9]
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AppState, Effect, Scene, Source};
    use crate::app::worker::JobRequest;
    use std::path::PathBuf;

    /// A 50 000-image map told of 1 000 new files (a tenth of them already on it) and 500
    /// removed ones: the grow job gets exactly the new files, in order, and the removed
    /// images' rows (hash lookups; the nested scans this replaced made 75 million path
    /// comparisons on the render thread).
    #[test]
    fn a_large_map_queues_exactly_the_new_and_removed_images() {
        let n = 50_000;
        let path = |i: usize| PathBuf::from(format!("/imgs/{i:06}.png"));
        let mut s = AppState::new([800.0, 600.0]);
        let mut scene = Scene::new(
            1,
            Source::Folder("/imgs".into()),
            (0..n).map(path).collect(),
        );
        // images 0, 7, 14, … are not on the map (skipped): their rows are not counted
        for i in (0..n).step_by(7) {
            scene.used[i] = false;
        }
        s.current = Some(scene);
        s.set_watch(true);
        s.drain_effects();
        let mut added: Vec<PathBuf> = (0..900).map(|k| path(n + k)).collect();
        // on the map already (not added again), and a skipped one (added: it is not on the map)
        added.extend((1..=99).map(|k| path(k * 50 + 1)));
        added.push(path(7));
        let removed: Vec<PathBuf> = (0..500).map(|k| path(k * 97 + 3)).collect();
        s.on_watched(added.clone(), removed.clone());
        s.maybe_start_grow();
        let (add, remove) = s
            .drain_effects()
            .into_iter()
            .find_map(|e| match e {
                Effect::StartJob(JobRequest::Grow { add, remove, .. }) => Some((add, remove)),
                _ => None,
            })
            .expect("a grow job starts");
        // new files, then those of the others that are not on the map (skipped), in order
        let mut want_add: Vec<PathBuf> = (0..900).map(|k| path(n + k)).collect();
        want_add.extend(
            (1..=99)
                .map(|k| k * 50 + 1)
                .filter(|i| i % 7 == 0)
                .map(path),
        );
        want_add.push(path(7));
        assert_eq!(add, want_add);
        let used: Vec<usize> = (0..n).filter(|i| i % 7 != 0).collect();
        // a file reported removed and then added again (e.g. 3301) stays
        let removed: std::collections::HashSet<PathBuf> =
            removed.into_iter().filter(|p| !added.contains(p)).collect();
        let want_remove: Vec<usize> = used
            .iter()
            .enumerate()
            .filter(|(_, &i)| removed.contains(&path(i)))
            .map(|(row, _)| row)
            .collect();
        assert_eq!(remove, want_remove);
        assert!(!remove.is_empty());
    }
}
