//! Growing the shown map live: the watched folder's changes are queued and applied by a grow
//! job when no other job runs; the grown map's new images fly in from the edge (played back
//! like a t-SNE run), are highlighted for a while and visited next by the gallery tour;
//! removed images leave (hidden, their cells freed). Every change is autosaved (on a worker).

use super::{AppState, Effect, Highlight, JobKind, Scene};
use crate::app::protocol::GridCells;
use crate::app::protocol::{atlas_plan, AutosaveRequest, GrowJob, JobRequest};
use crate::map::MapState;
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
        self.growing.watch_wanted = on;
        if on {
            self.maybe_start_watch();
        } else if self.growing.watch.take().is_some() {
            self.notify("stopped watching the folder");
        }
    }

    /// Start watching once a map is shown and no job builds one (the folder: `--watch`'s path,
    /// else the analysed folder, else the folder holding the layout's images).
    pub(super) fn maybe_start_watch(&mut self) {
        if !self.growing.watch_wanted || self.growing.watch.is_some() {
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
        let dir = self
            .growing
            .watch_dir
            .clone()
            .or_else(|| match &scene.source {
                super::Source::Folder(d) => Some(d.clone()),
                super::Source::Json(_) => crate::input::watch::common_folder(&scene.paths),
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
        self.growing.watch = Some(WatchState {
            dir,
            stop,
            queued_add: vec![],
            queued_remove: vec![],
        });
    }

    /// The watched folder changed: queue it (a grow job takes the queue when no job runs).
    pub(super) fn on_watched(&mut self, added: Vec<PathBuf>, removed: Vec<PathBuf>) {
        let Some(w) = self.growing.watch.as_mut() else {
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
        let Some(w) = self.growing.watch.as_mut() else {
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
        self.effects
            .push(Effect::StartJob(JobRequest::Grow(GrowJob {
                job,
                map,
                layout,
                grid_size,
                add,
                remove,
                cancel,
            })));
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
        let Some(scene) = self.job_scene() else {
            return;
        };
        let used = scene.used_indices();
        if used.len() < removed.len() || used.len() - removed.len() + added != map.len() {
            let n = used.len();
            return self.mismatch("a grown map", n, map.len());
        }
        let change = take_grown_map(scene, map, &removed, added, settle);
        if let Err(e) = self.load_newcomers(&change) {
            return self.error(format!("no room for the new images: {e}"));
        }
        self.animate_change(&change, settle);
        self.report_change(&change, removed.len(), moved);
        if self.framing.fitted {
            self.fit_camera(true);
        }
        self.autosave_now();
    }

    /// The atlas cells of the newcomers (a larger atlas, every cell loaded again, when the
    /// scene's is full), and who is visible now.
    fn load_newcomers(&mut self, change: &GrownScene) -> Result<(), String> {
        let id = change.id;
        let Some(scene) = self.job_scene() else {
            return Ok(());
        };
        let paths = scene.paths.clone();
        let hide = |indices: &[usize]| {
            indices
                .iter()
                .map(|&index| Effect::Visibility {
                    scene: id,
                    index,
                    visible: false,
                })
                .collect::<Vec<_>>()
        };
        let mut effects = vec![];
        if scene.len() > scene.capacity {
            // no room left in the atlas: a larger one, every cell loaded again
            let plan = atlas_plan(crate::app::protocol::capacity_with_headroom(scene.len()))
                .map_err(|e| e.to_string())?;
            scene.capacity = plan.count;
            let hidden: Vec<usize> = (0..scene.len()).filter(|&i| !scene.used[i]).collect();
            effects.push(Effect::CreateScene { scene: id, plan });
            effects.push(Effect::LoadCells {
                scene: id,
                cells: paths.iter().cloned().enumerate().collect(),
            });
            effects.extend(hide(&change.hidden_now));
            effects.extend(hide(&hidden));
        } else {
            if !change.new.is_empty() {
                effects.push(Effect::LoadCells {
                    scene: id,
                    cells: change.new.iter().map(|&i| (i, paths[i].clone())).collect(),
                });
            }
            effects.extend(hide(&change.hidden_now));
        }
        effects.extend(change.new.iter().map(|&index| Effect::Visibility {
            scene: id,
            index,
            visible: true,
        }));
        effects.push(Effect::Grid { scene: id });
        self.effects.extend(effects);
        Ok(())
    }

    /// Newcomers fly in from the edge of the map along the line from its centre, leavers fly
    /// out; grid cells glide; the newcomers are highlighted (and visited in gallery mode).
    fn animate_change(&mut self, change: &GrownScene, settle: f64) {
        let (id, now) = (change.id, self.now);
        let mut from = self
            .displayed_points(id)
            .unwrap_or_else(|| change.before.clone());
        from.truncate(change.first_new);
        for &i in &change.new {
            let p = self.current.as_ref().map_or([0.5, 0.5], |s| s.points[i]);
            from.push(towards_edge(p));
        }
        let target = self
            .current
            .as_ref()
            .map(|s| s.points.clone())
            .unwrap_or_default();
        self.glide_cells(id, change.old_grid.clone(), &change.new, &change.gone);
        self.playback = None;
        let moving = !change.new.is_empty() || !change.gone.is_empty();
        if settle > 0.0 && moving && from.len() == target.len() {
            self.play_frame(id, from, target, None);
        } else {
            self.effects.push(Effect::Positions { scene: id });
        }
        self.growing.highlights.retain(|h| h.until > now);
        self.growing
            .highlights
            .extend(change.new.iter().map(|&index| Highlight {
                index,
                until: now + HIGHLIGHT_SECONDS,
            }));
        if self.gallery.enabled && !change.new.is_empty() {
            self.gallery.visit(&change.new, now);
        }
        for &index in &change.new {
            if let Some(path) = self.shown().and_then(|s| s.paths.get(index).cloned()) {
                self.tell_remote(super::RemoteEvent::Joined { path, index });
            }
        }
    }

    /// Say what changed (status line, notice, log).
    fn report_change(&mut self, change: &GrownScene, removed: usize, moved: usize) {
        let new = change.new.len();
        let mut text = vec![];
        if new > 0 {
            text.push(format!("{new} new image{} joined the map", plural(new)));
        }
        if removed > 0 {
            text.push(format!("{removed} removed"));
        }
        text.push(format!("{moved} moved cell"));
        let old_shape = change.old_grid.as_ref().map(|g| (g.cols, g.rows));
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
        self.growing.last_change = Some(text.clone());
        self.notify(text);
    }

    /// Write the shown map to the `--autosave` file (on a worker), if one is set.
    pub(super) fn autosave_now(&mut self) {
        let Some(path) = self.growing.autosave.clone() else {
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
            clusters: self.clusters_to_save(),
        }));
    }

    /// The image to outline now as newly arrived, and the pulse (0–1) of its outline.
    pub fn highlighted(&self) -> Option<(usize, f32)> {
        let live: Vec<usize> = self
            .growing
            .highlights
            .iter()
            .filter(|h| h.until > self.now)
            .map(|h| h.index)
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
        self.growing
            .highlights
            .iter()
            .filter(|h| h.until > self.now)
            .map(|h| h.index)
            .collect()
    }

    /// Status of the watch for the status line.
    pub(super) fn watch_status(&self) -> Option<String> {
        let w = self.growing.watch.as_ref()?;
        let queued = w.queued_add.len() + w.queued_remove.len();
        let mut s = "watching".to_string();
        if queued > 0 {
            s.push_str(&format!(" ({queued} waiting)"));
        }
        if let Some(c) = &self.growing.last_change {
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

/// What a grown map changed in its scene.
struct GrownScene {
    id: u64,
    /// The points before the change.
    before: Vec<[f32; 2]>,
    old_grid: Option<GridCells>,
    /// Index of the first newcomer.
    first_new: usize,
    /// The newcomers' and the leavers' image indices.
    new: Vec<usize>,
    gone: Vec<usize>,
    /// Leavers hidden at once (no playback).
    hidden_now: Vec<usize>,
}

/// Take a grown map into its scene: the removed images leave (towards the edge, or hidden at
/// once without playback), the new ones are appended, and the grid, features and map are the
/// map's.
fn take_grown_map(
    scene: &mut Scene,
    map: Arc<MapState>,
    removed: &[usize],
    added: usize,
    settle: f64,
) -> GrownScene {
    let id = scene.id;
    let used = scene.used_indices();
    let before = scene.points.clone();
    let old_grid = scene.grid.clone();
    let mut hidden_now = vec![];
    let mut gone = vec![];
    for &row in removed {
        if let Some(&i) = used.get(row) {
            scene.used[i] = false;
            gone.push(i);
            if settle > 0.0 {
                // it leaves the map towards the edge (hidden once out)
                scene.points[i] = towards_edge(scene.points[i]);
            } else {
                hidden_now.push(i);
            }
        }
    }
    let first_new = scene.len();
    for row in map.len() - added..map.len() {
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
    GrownScene {
        id,
        before,
        old_grid,
        first_new,
        new,
        gone,
        hidden_now,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AppState, Effect, Scene, Source};
    use crate::app::protocol::{GrowJob, JobRequest};
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
                Effect::StartJob(JobRequest::Grow(GrowJob { add, remove, .. })) => {
                    Some((add, remove))
                }
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
