//! A curator's metadata on the map (`--metadata FILE.csv`, the panel's button): captions on
//! hover (the title, else the file name), every field in the lightbox, the filter (images that
//! do not match dim, the count shows, the tour keeps to the matches, the matches can become the
//! selection), and the grid ordered by a numeric column, row by row.

use super::{Action, AppState, Effect};
use crate::app::protocol::GridCells;
use crate::metadata::{sorted_order, Matched, Metadata, Query};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The metadata as the viewer uses it.
#[derive(Debug, Default)]
pub struct MetadataView {
    pub meta: Option<Arc<Metadata>>,
    /// Its rows matched to the shown scene's images.
    matched: Option<(u64, Matched)>,
    /// The filter box's text.
    pub filter_text: String,
    /// Per image of the scene: whether it matches the filter (`None`: no filter).
    matches: Option<(u64, Vec<bool>)>,
    /// The numeric column the grid is ordered by (`None`: the t-SNE grid).
    pub sort_column: Option<usize>,
    /// The solved grid, kept while the grid is ordered by a column.
    solved_grid: Option<(u64, GridCells)>,
}

impl AppState {
    /// Carry out a metadata action (see [`Action`]).
    pub(super) fn act_metadata(&mut self, action: Action) {
        match action {
            Action::LoadMetadata(path) => self.effects.push(Effect::ReadMetadata(path)),
            Action::SetFilter(text) => {
                self.metadata.filter_text = text;
                self.apply_filter();
            }
            Action::SelectMatches => {
                let Some((id, m)) = self.metadata.matches.clone() else {
                    return self.error("no filter: type in the filter box first");
                };
                if self.shown().is_none_or(|s| s.id != id) {
                    return;
                }
                self.selection.scene = id;
                self.selection.members = (0..m.len()).filter(|&i| m[i]).collect();
                self.effects.push(Effect::Marks { scene: id });
            }
            Action::SortGrid(column) => self.sort_grid(column),
            _ => {}
        }
    }

    /// A metadata file was read (or not).
    pub(super) fn on_metadata(&mut self, path: PathBuf, result: Result<Metadata, String>) {
        match result {
            Ok(meta) => {
                for (line, what) in meta.problems.iter().take(20) {
                    let text = format!("{}: line {line}: {what}", path.display());
                    log::warn!("{text}");
                    self.warn(text);
                }
                let rows = meta.len();
                self.metadata.meta = Some(Arc::new(meta));
                self.metadata.sort_column = None;
                self.match_metadata();
                let count = self.metadata.matched.as_ref().map_or(0, |m| m.1.count());
                self.notify(format!(
                    "{}: {rows} rows, {count} images described",
                    path.file_name().map_or_else(
                        || path.display().to_string(),
                        |n| n.to_string_lossy().into_owned()
                    )
                ));
            }
            Err(e) => self.error(e),
        }
    }

    /// Match the metadata to the shown scene (again: a new map, or one that grew), report rows
    /// that match nothing, and filter anew.
    pub(super) fn match_metadata(&mut self) {
        let (Some(meta), Some(scene)) = (self.metadata.meta.clone(), self.current.as_ref()) else {
            return;
        };
        let id = scene.id;
        if self
            .metadata
            .matched
            .as_ref()
            .is_some_and(|m| m.0 == id && m.1.row_of.len() == scene.len())
        {
            return;
        }
        let matched = meta.match_paths(&scene.paths);
        for line in matched.summary(&meta.file) {
            log::warn!("{line}");
            self.warn(line);
        }
        self.metadata.matched = Some((id, matched));
        self.apply_filter();
    }

    /// The metadata row of image `i` of the shown scene.
    fn meta_row(&self, i: usize) -> Option<(&Metadata, usize)> {
        let meta = self.metadata.meta.as_deref()?;
        let (id, m) = self.metadata.matched.as_ref()?;
        if self.shown().is_none_or(|s| s.id != *id) {
            return None;
        }
        Some((meta, (*m.row_of.get(i)?)?))
    }

    /// Image `i`'s title in the metadata, if it has one.
    pub fn title(&self, i: usize) -> Option<String> {
        self.meta_row(i)
            .and_then(|(m, r)| m.title(r))
            .map(str::to_string)
    }

    /// What the hover label says for image `i`: its title, else its file name.
    pub fn caption(&self, i: usize) -> Option<String> {
        if let Some(t) = self.meta_row(i).and_then(|(m, r)| m.title(r)) {
            return Some(t.to_string());
        }
        let p = self.shown()?.paths.get(i)?;
        Some(p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ))
    }

    /// Every non-empty metadata field of image `i` (for the lightbox).
    pub fn fields(&self, i: usize) -> Vec<(String, String)> {
        match self.meta_row(i) {
            Some((m, r)) => m
                .fields(r)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The filter over scene `id`'s images (`None`: no filter), for the marks.
    pub(super) fn filter_for(&self, id: u64) -> Option<&[bool]> {
        self.metadata
            .matches
            .as_ref()
            .filter(|m| m.0 == id)
            .map(|m| m.1.as_slice())
    }

    /// How many of the shown images match the filter, of how many (`None`: no filter).
    pub fn filter_count(&self) -> Option<(usize, usize)> {
        let scene = self.shown()?;
        let m = self.filter_for(scene.id)?;
        let used = scene.used_indices();
        Some((used.iter().filter(|&&i| m[i]).count(), used.len()))
    }

    /// The filter box changed, or the map: which images match, the marks, the tour's stops.
    fn apply_filter(&mut self) {
        let query = Query::new(&self.metadata.filter_text);
        let Some(scene) = self.shown() else {
            return;
        };
        let id = scene.id;
        let matches = if query.is_empty() {
            None
        } else {
            let meta = self.metadata.meta.clone();
            let rows = self
                .metadata
                .matched
                .as_ref()
                .filter(|m| m.0 == id)
                .map(|m| &m.1.row_of);
            let m: Vec<bool> = scene
                .paths
                .iter()
                .enumerate()
                .map(|(i, p)| match &meta {
                    Some(meta) => {
                        meta.matches(rows.and_then(|r| r.get(i).copied().flatten()), p, &query)
                    }
                    None => Metadata::default().matches(None, p, &query),
                })
                .collect();
            Some((id, m))
        };
        self.gallery.keep_to = matches
            .as_ref()
            .map(|(_, m)| (0..m.len()).filter(|&i| m[i]).collect());
        self.metadata.matches = matches;
        self.effects.push(Effect::Marks { scene: id });
    }

    /// Order the grid by a numeric column, row by row (`None`: back to the solved grid).
    fn sort_grid(&mut self, column: Option<usize>) {
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        let id = scene.id;
        let Some(grid) = scene.grid.clone() else {
            return self.notify("the grid is not there yet");
        };
        // the solved grid is kept the first time, and comes back with `None`
        if self.metadata.solved_grid.as_ref().is_none_or(|g| g.0 != id) {
            self.metadata.solved_grid = Some((id, grid.clone()));
        }
        let solved = match &self.metadata.solved_grid {
            Some((_, g)) => g.clone(),
            None => return,
        };
        let cells = match column {
            None => solved.cells.clone(),
            Some(c) => {
                let used = scene.used_indices();
                let order = sorted_order(&used, |i| {
                    self.meta_row(i).and_then(|(m, r)| m.number(r, c))
                });
                let mut cells = solved.cells.clone();
                crate::metadata::fill_rows(&order, solved.cols, &mut cells);
                cells
            }
        };
        self.metadata.sort_column = column;
        if let Some(s) = self.current.as_mut() {
            if let Some(g) = s.grid.as_mut() {
                g.cells = cells;
            }
        }
        self.effects.push(Effect::Grid { scene: id });
        if column.is_some() && !self.view.view_as_grid {
            self.act(Action::ToggleGrid);
        }
    }

    /// After the grid was solved anew: order it by the column again, if one is chosen.
    pub(super) fn resort_grid(&mut self) {
        self.metadata.solved_grid = None;
        if let Some(c) = self.metadata.sort_column {
            self.sort_grid(Some(c));
        }
    }

    /// The metadata file's columns that can order the grid.
    pub fn sortable_columns(&self) -> Vec<(usize, String)> {
        match self.metadata.meta.as_deref() {
            Some(m) => m
                .numeric_columns()
                .into_iter()
                .map(|c| (c, m.columns[c].clone()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The metadata file in use.
    pub fn metadata_file(&self) -> Option<&Path> {
        self.metadata.meta.as_deref().map(|m| m.file.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::Msg;
    use crate::app::state::test_maps::two_groups;

    /// Metadata for the two groups: titles, a year for most, the left group tagged "harbour".
    fn metadata() -> Metadata {
        let mut csv = String::from("file,title,year,tags\n");
        for i in 0..80 {
            let tag = if i < 40 { "harbour boats" } else { "field" };
            let year = if i % 10 == 9 {
                String::new()
            } else {
                (2000 - i).to_string()
            };
            csv.push_str(&format!("{i:03}.png,Picture {i},{year},{tag}\n"));
        }
        csv.push_str("999.png,Not on the map,1,x\n");
        Metadata::parse(csv.as_bytes(), Path::new("/meta/m.csv")).unwrap()
    }

    #[test]
    fn captions_fields_and_the_filter() {
        let mut s = two_groups();
        assert_eq!(
            s.caption(5).as_deref(),
            Some("005.png"),
            "no metadata: the file name"
        );
        s.handle(Msg::Metadata {
            path: "/meta/m.csv".into(),
            result: Ok(metadata()),
        });
        assert_eq!(s.caption(5).as_deref(), Some("Picture 5"));
        assert_eq!(
            s.fields(5),
            vec![
                ("title".to_string(), "Picture 5".to_string()),
                ("year".into(), "1995".into()),
                ("tags".into(), "harbour boats".into())
            ]
        );
        // the row for an image that is not on the map is told, with its line
        assert!(
            s.overlays
                .warnings
                .iter()
                .any(|w| w.contains("match no image") && w.contains("lines 82")),
            "{:?}",
            s.overlays.warnings
        );
        s.drain_effects();
        s.act(Action::SetFilter("HARBOUR".into()));
        assert_eq!(s.filter_count(), Some((40, 80)));
        let marks = s.marks(1);
        assert!(marks[..40].iter().all(|m| !m.dimmed) && marks[40..].iter().all(|m| m.dimmed));
        assert!(s
            .drain_effects()
            .iter()
            .any(|e| matches!(e, Effect::Marks { .. })));
        // the tour keeps to the matches, and they can be selected
        assert_eq!(
            s.gallery.keep_to.as_deref(),
            Some(&(0..40).collect::<Vec<_>>()[..])
        );
        s.act(Action::SelectMatches);
        assert_eq!(s.selected(), (0..40).collect::<Vec<_>>());
        // a file name matches too; an empty filter is none
        s.act(Action::SetFilter("077.png".into()));
        assert_eq!(s.filter_count(), Some((1, 80)));
        s.act(Action::SetFilter("  ".into()));
        assert_eq!(s.filter_count(), None);
        assert!(s.marks(1).iter().all(|m| !m.dimmed));
        assert!(s.gallery.keep_to.is_none());
    }

    #[test]
    fn the_grid_is_ordered_by_a_numeric_column_and_back() {
        let mut s = two_groups();
        s.handle(Msg::Metadata {
            path: "/meta/m.csv".into(),
            result: Ok(metadata()),
        });
        assert_eq!(s.sortable_columns(), vec![(1, "year".to_string())]);
        let solved = s.current.as_ref().unwrap().grid.clone().unwrap();
        s.drain_effects();
        s.act(Action::SortGrid(Some(1)));
        assert!(s.view.view_as_grid, "the grid is shown");
        assert!(s
            .drain_effects()
            .iter()
            .any(|e| matches!(e, Effect::Grid { scene: 1 })));
        let cells = s
            .current
            .as_ref()
            .unwrap()
            .grid
            .as_ref()
            .unwrap()
            .cells
            .clone();
        // row by row, the oldest first: year 2000 − i, so image 79 (1921) first… images without
        // a year (i % 10 == 9) last
        let slot = |i: usize| cells[i][1] * 9 + cells[i][0];
        assert_eq!(slot(78), 0);
        assert_eq!(slot(77), 1);
        let dated: Vec<usize> = (0..80).filter(|i| i % 10 != 9).collect();
        assert!(
            dated.windows(2).all(|w| slot(w[0]) > slot(w[1])),
            "older years first"
        );
        assert!(
            (0..80).filter(|i| i % 10 == 9).all(|i| slot(i) >= 72),
            "no year: last"
        );
        s.act(Action::SortGrid(None));
        assert_eq!(
            s.current.as_ref().unwrap().grid.as_ref().unwrap().cells,
            solved.cells
        );
    }
}
