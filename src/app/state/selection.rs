//! Selections on the map: a shift-drag lasso (its polygon in screen pixels, tested against
//! every image's centre when it closes), shift-click to add or remove one image, a cluster or
//! the filter's matches taken whole; the selected images are outlined. What the panel offers
//! for them: export their paths (CSV or JSON), copy their files to a folder, a new map of
//! just them.

use super::{Action, AppState, Effect, Scene};
use crate::selection::{lasso_area, lasso_contains};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A lasso smaller than this (pixels²) is a click: it picks the image under it.
const CLICK_AREA: f32 = 36.0;

/// The images a curator picked on the shown map.
#[derive(Debug, Default)]
pub struct Selection {
    /// The scene the indices belong to.
    pub scene: u64,
    pub members: BTreeSet<usize>,
    /// The lasso being drawn (screen pixels, y down), from the shift-press on.
    pub lasso: Option<Vec<[f32; 2]>>,
}

impl AppState {
    /// The selected images of the shown map (indices, ascending; an image that left the map
    /// is not selected any more).
    pub fn selected(&self) -> Vec<usize> {
        match self.shown() {
            Some(s) if s.id == self.selection.scene => self
                .selection
                .members
                .iter()
                .copied()
                .filter(|&i| s.used.get(i).copied().unwrap_or(false))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The selection's paths, in map order.
    pub fn selected_paths(&self) -> Vec<PathBuf> {
        let Some(scene) = self.shown() else {
            return Vec::new();
        };
        self.selected()
            .into_iter()
            .filter_map(|i| scene.paths.get(i).cloned())
            .collect()
    }

    /// The selection changes: the outlines are drawn anew.
    fn selection_changed(&mut self) {
        if let Some(id) = self.shown().map(|s| s.id) {
            self.effects.push(Effect::Marks { scene: id });
        }
    }

    /// Start the selection afresh on the shown scene when it is another one.
    fn selection_for_shown(&mut self) -> Option<u64> {
        let id = self.shown()?.id;
        if self.selection.scene != id {
            self.selection.scene = id;
            self.selection.members.clear();
        }
        Some(id)
    }

    /// Carry out a selection action (see [`Action`]).
    pub(super) fn act_selection(&mut self, action: Action) {
        match action {
            Action::LassoStart(p) if self.selection_for_shown().is_some() => {
                self.selection.lasso = Some(vec![p]);
            }
            Action::LassoTo(p) => {
                if let Some(l) = self.selection.lasso.as_mut() {
                    // a point per 2 px of movement is plenty
                    if l.last()
                        .is_none_or(|q| (q[0] - p[0]).hypot(q[1] - p[1]) >= 2.0)
                    {
                        l.push(p);
                    }
                }
            }
            Action::LassoEnd => {
                let Some(lasso) = self.selection.lasso.take() else {
                    return;
                };
                if self.selection_for_shown().is_none() {
                    return;
                }
                if lasso_area(&lasso) < CLICK_AREA {
                    // a shift-click: the image under it joins, or leaves
                    if let Some(i) = lasso.first().and_then(|&p| self.image_at(p)) {
                        if !self.selection.members.remove(&i) {
                            self.selection.members.insert(i);
                        }
                    }
                } else {
                    let inside = self.images_in(&lasso);
                    let n = inside.len();
                    self.selection.members.extend(inside);
                    self.notify(format!(
                        "{n} images lassoed, {} selected",
                        self.selection.members.len()
                    ));
                }
                self.selection_changed();
            }
            Action::ToggleSelect(i)
                if self.selection_for_shown().is_some()
                    && self
                        .shown()
                        .is_some_and(|s| s.used.get(i).copied().unwrap_or(false)) =>
            {
                if !self.selection.members.remove(&i) {
                    self.selection.members.insert(i);
                }
                self.selection_changed();
            }
            Action::SelectCluster(c) => {
                let Some(members) = self
                    .shown_clusters()
                    .filter(|f| c < f.len())
                    .map(|f| f.members(c).collect::<Vec<_>>())
                else {
                    return;
                };
                self.selection_for_shown();
                self.selection.members = members.into_iter().collect();
                self.selection_changed();
            }
            Action::ClearSelection => {
                self.selection.members.clear();
                self.selection.lasso = None;
                self.selection_changed();
            }
            Action::ExportSelection(file) => {
                let paths = self.selected_paths();
                if paths.is_empty() {
                    return self.error("nothing selected");
                }
                self.effects.push(Effect::ExportPaths { file, paths });
            }
            Action::CopySelection(dir) => {
                let paths = self.selected_paths();
                if paths.is_empty() {
                    return self.error("nothing selected");
                }
                self.effects.push(Effect::CopyFiles { dir, paths });
            }
            Action::NewMapFromSelection => {
                let paths = self.selected_paths();
                if paths.len() < 2 {
                    return self.error("select at least two images for a new map");
                }
                if self.job.is_some() {
                    return self.error(super::STILL_COMPUTING);
                }
                self.growing.watch_dir = None;
                self.start_analyze_of(None, Some(paths));
            }
            _ => {}
        }
    }

    /// The image whose rectangle holds screen point `p` (the topmost), on the shown map.
    fn image_at(&self, p: [f32; 2]) -> Option<usize> {
        let scene = self.shown()?;
        let world = self.camera.screen_to_world(p);
        let params = self.layout_params();
        let cells = cells(scene);
        let hit =
            scene
                .geometry()
                .hit_test(world, &scene.points, &cells, &scene.aspects, &params)?;
        scene.used.get(hit).copied().unwrap_or(false).then_some(hit)
    }

    /// The used images whose centres are inside `lasso` (screen pixels) as the map is drawn now.
    fn images_in(&self, lasso: &[[f32; 2]]) -> Vec<usize> {
        let Some(scene) = self.shown() else {
            return Vec::new();
        };
        let params = self.layout_params();
        let geom = scene.geometry();
        let cells = cells(scene);
        scene
            .used_indices()
            .into_iter()
            .filter(|&i| {
                let c = geom.instance_center(scene.points[i], cells[i], &params);
                lasso_contains(lasso, self.camera.world_to_screen(c))
            })
            .collect()
    }

    /// Per image of scene `id`: whether it is selected (outlined) and whether the filter dims
    /// it, as the renderer's instance marks.
    pub fn marks(&self, id: u64) -> Vec<crate::render::Marks> {
        let n = match (&self.current, &self.pending) {
            (Some(s), _) if s.id == id => s.len(),
            (_, Some(s)) if s.id == id => s.len(),
            _ => return Vec::new(),
        };
        let mut marks = vec![crate::render::Marks::default(); n];
        if self.selection.scene == id {
            for &i in &self.selection.members {
                if let Some(m) = marks.get_mut(i) {
                    m.selected = true;
                }
            }
        }
        if let Some(filter) = self.filter_for(id) {
            for (m, keep) in marks.iter_mut().zip(filter) {
                m.dimmed = !keep;
            }
        }
        marks
    }
}

fn cells(scene: &Scene) -> Vec<[u32; 2]> {
    match &scene.grid {
        Some(g) => (0..scene.len())
            .map(|i| g.cells.get(i).copied().unwrap_or([0, 0]))
            .collect(),
        None => vec![[0, 0]; scene.len()],
    }
}

impl AppState {
    /// The selected files were copied (or not).
    pub(super) fn on_copied(
        &mut self,
        dir: PathBuf,
        result: Result<crate::selection::CopyReport, String>,
    ) {
        match result {
            Ok(r) => {
                for (from, why) in &r.failed {
                    self.warn(format!("not copied: {}: {why}", from.display()));
                }
                let renamed = if r.renamed.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} under a new name: the folder had files by theirs)",
                        r.renamed.len()
                    )
                };
                let failed = if r.failed.is_empty() {
                    String::new()
                } else {
                    format!(", {} failed (see the warnings)", r.failed.len())
                };
                self.notify(format!(
                    "copied {} files to {}{renamed}{failed}",
                    r.copied + r.renamed.len(),
                    dir.display()
                ));
            }
            Err(e) => self.error(format!("could not copy to {}: {e}", dir.display())),
        }
    }

    /// The shown map changed (laid out, re-run, grown): the metadata is matched again, a grid
    /// ordered by a column is ordered again, the marks are drawn anew.
    pub(super) fn after_map_changed(&mut self) {
        self.match_metadata();
        self.resort_grid();
        if let Some(id) = self.current.as_ref().map(|s| s.id) {
            self.effects.push(Effect::Marks { scene: id });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::JobRequest;
    use crate::app::state::test_maps::two_groups;

    /// A lasso around the screen rectangle `[x0, y0, x1, y1]`, drawn point by point.
    fn lasso(s: &mut AppState, r: [f32; 4]) {
        s.act(Action::LassoStart([r[0], r[1]]));
        for p in [[r[2], r[1]], [r[2], r[3]], [r[0], r[3]]] {
            s.act(Action::LassoTo(p));
        }
        s.act(Action::LassoEnd);
    }

    /// The screen position of image `i`'s centre.
    fn on_screen(s: &AppState, i: usize) -> [f32; 2] {
        let scene = s.shown().unwrap();
        let cell = scene.grid.as_ref().unwrap().cells[i];
        let c = scene
            .geometry()
            .instance_center(scene.points[i], cell, &s.layout_params());
        s.camera.world_to_screen(c)
    }

    #[test]
    fn a_lasso_selects_what_it_encircles_and_shift_click_toggles() {
        let mut s = two_groups();
        // a box around the first group's centres (top left), from their screen positions
        let pts: Vec<[f32; 2]> = (0..40).map(|i| on_screen(&s, i)).collect();
        let lo = pts
            .iter()
            .fold([f32::MAX; 2], |a, p| [a[0].min(p[0]), a[1].min(p[1])]);
        let hi = pts
            .iter()
            .fold([f32::MIN; 2], |a, p| [a[0].max(p[0]), a[1].max(p[1])]);
        lasso(&mut s, [lo[0] - 2.0, lo[1] - 2.0, hi[0] + 2.0, hi[1] + 2.0]);
        assert_eq!(s.selected(), (0..40).collect::<Vec<_>>());
        assert!(s.selection.lasso.is_none());
        let marks = s.marks(1);
        assert!(marks[..40].iter().all(|m| m.selected) && marks[40..].iter().all(|m| !m.selected));
        assert!(s
            .drain_effects()
            .iter()
            .any(|e| matches!(e, Effect::Marks { scene: 1 })));

        // a lasso that only takes half of the second group: the left half of its centres
        let right: Vec<[f32; 2]> = (40..80).map(|i| on_screen(&s, i)).collect();
        let mid = right.iter().map(|p| p[0]).sum::<f32>() / 40.0;
        lasso(&mut s, [0.0, 0.0, mid, 600.0]);
        let want: Vec<usize> = (0..40)
            .chain((40..80).filter(|&i| on_screen(&s, i)[0] < mid))
            .collect();
        assert_eq!(s.selected(), want);

        // shift-click (a lasso of no area) on image 79 (drawn last: on top) toggles it
        let p = on_screen(&s, 79);
        let before = s.selected().contains(&79);
        s.act(Action::LassoStart(p));
        s.act(Action::LassoEnd);
        assert_eq!(s.selected().contains(&79), !before);
        s.act(Action::LassoStart(p));
        s.act(Action::LassoTo([p[0] + 1.0, p[1] + 1.0]));
        s.act(Action::LassoEnd);
        assert_eq!(s.selected().contains(&79), before);
        // a click on empty space changes nothing
        let n = s.selected().len();
        s.act(Action::LassoStart([799.0, 1.0]));
        s.act(Action::LassoEnd);
        assert_eq!(s.selected().len(), n);
        s.act(Action::ClearSelection);
        assert!(s.selected().is_empty());
    }

    #[test]
    fn the_selection_is_exported_copied_and_made_a_map() {
        let mut s = two_groups();
        s.act(Action::ExportSelection("/out/none.csv".into()));
        assert!(
            s.overlays.notices.last().unwrap().is_error,
            "nothing selected"
        );
        for i in [3, 61, 7] {
            s.act(Action::ToggleSelect(i));
        }
        s.drain_effects();
        s.act(Action::ExportSelection("/out/sel.json".into()));
        s.act(Action::CopySelection("/out/files".into()));
        s.act(Action::NewMapFromSelection);
        let effects = s.drain_effects();
        let want: Vec<PathBuf> = [3, 7, 61]
            .iter()
            .map(|i| PathBuf::from(format!("/imgs/{i:03}.png")))
            .collect();
        assert!(effects
            .iter()
            .any(|e| matches!(e, Effect::ExportPaths { file, paths }
            if file == &PathBuf::from("/out/sel.json") && paths == &want)));
        assert!(effects
            .iter()
            .any(|e| matches!(e, Effect::CopyFiles { dir, paths }
            if dir == &PathBuf::from("/out/files") && paths == &want)));
        assert!(effects
            .iter()
            .any(|e| matches!(e, Effect::StartJob(JobRequest::Analyze(j))
            if j.paths.as_ref() == Some(&want) && j.dir.is_none())));
    }
}
