//! Map: what a layout needs to take new images without moving the old ones — the growing map.
//!
//! A [`MapState`] holds the PCA basis, the reduced features and the raw t-SNE embedding of every
//! image, the fixed raw → [0, 1] frame of the layout and the grid. [`MapState::add`] projects new
//! feature vectors with the kept basis, places them with [`crate::tsne::transform`] against the
//! fixed embedding and gives them grid cells with [`crate::grid::grow`]; the old images' points
//! stay bit-identical. [`grow()`] is the one driver that changes a map's images (the `add`
//! command and the app's watched folder both call it). [`sidecar`] keeps a map in a file beside
//! its layout (`LAYOUT.json.map`), written atomically and validated when read. A layout without a
//! sidecar (made elsewhere, e.g. by ml4a's script) can grow too ([`MapState::from_layout`]): its
//! images' features are computed (or taken from the cache), the PCA is fitted on them and its
//! points are kept as the fixed embedding.

pub mod grow;
pub mod sidecar;

pub use grow::{grow, placement_progress, GrowRequest, Grown};
pub use sidecar::{sidecar_path, SidecarError};

use crate::cache::Cache;
use crate::features::{self, FeatureModel};
use crate::grid::{self, GridAssignment, GridMethod, GridShape};
use crate::images::Preprocess;
use crate::layout_io::LayoutEntry;
use crate::pca::PcaBasis;
use crate::pipeline::{self, Analysis, Cancelled};
use crate::progress::Reporter;
use crate::tsne::transform::{transform, FixedMap, OnIteration, TransformParams};
use crate::tsne::TsneError;
use anyhow::{bail, Result};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Median nearest-neighbour distance of our own t-SNE maps (raw units; 0.37–0.38 measured by
/// `bench_grow` on 1 000–1 200 emoji); a layout made elsewhere
/// (points in [0, 1], scale unknown) is scaled to it so new points feel the usual t-SNE forces.
pub const TYPICAL_NN_DISTANCE: f64 = 0.37;

/// The uniform raw → [0, 1]² scaling of [`layout_io::normalize_points`], kept fixed while a map
/// grows so that the old images' layout points never change.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub lo: [f64; 2],
    pub offset: [f64; 2],
    pub extent: f64,
}

impl Frame {
    /// The frame `normalize_points` uses for these raw points.
    pub fn of(raw: &[[f32; 2]]) -> Frame {
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for p in raw {
            for a in 0..2 {
                lo[a] = lo[a].min(f64::from(p[a]));
                hi[a] = hi[a].max(f64::from(p[a]));
            }
        }
        let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]);
        if raw.is_empty() || !extent.is_finite() || extent <= 0.0 {
            return Frame {
                lo: [0.0; 2],
                offset: [0.0; 2],
                extent: 0.0,
            };
        }
        Frame {
            lo,
            offset: [
                (extent - (hi[0] - lo[0])) / 2.0,
                (extent - (hi[1] - lo[1])) / 2.0,
            ],
            extent,
        }
    }

    /// Layout point of a raw point (clamped into [0, 1]², as `normalize_points` does).
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        if self.extent <= 0.0 {
            return [0.5, 0.5];
        }
        let f = |a: usize| {
            ((f64::from(p[a]) - self.lo[a] + self.offset[a]) / self.extent).clamp(0.0, 1.0) as f32
        };
        [f(0), f(1)]
    }
}

/// Everything a layout needs to grow. Row i of every field belongs to image i.
#[derive(Clone, Debug, PartialEq)]
pub struct MapState {
    pub paths: Vec<PathBuf>,
    /// Layout points in [0, 1]² (what the JSON holds).
    pub points: Vec<[f32; 2]>,
    /// Raw t-SNE positions (what new points are placed against).
    pub embedding: Vec<[f32; 2]>,
    /// Raw → layout scaling, fixed.
    pub frame: Frame,
    /// PCA-reduced features, n × k.
    pub reduced: Array2<f32>,
    /// Whether row i of `reduced` holds real features (false for an old image of a layout made
    /// elsewhere that could not be analysed: it keeps its place and repels, but is no neighbour).
    pub known: Vec<bool>,
    pub basis: PcaBasis,
    /// Model and preprocessing of the features ([`features::feature_key`]).
    pub feature_key: String,
    pub preprocess: Preprocess,
    /// Grid aspect (width / height).
    pub aspect: f64,
    pub grid: Option<GridAssignment>,
}

/// Settings of [`MapState::add`]: the t-SNE placement and the grid update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AddParams {
    pub transform: TransformParams,
    pub grid: grid::GrowParams,
}

/// What one [`MapState::add`] did.
#[derive(Clone, Debug)]
pub struct AddReport {
    /// Indices of the new images in the map.
    pub added: std::ops::Range<usize>,
    /// Time to project and place them (t-SNE transform).
    pub place_time: Duration,
    /// Time to give them grid cells.
    pub grid_time: Duration,
    /// The grid update, when the map has a grid.
    pub grid: Option<GridChange>,
}

/// How the grid changed in an [`MapState::add`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridChange {
    pub grew: bool,
    /// Old images that changed cell (see [`grid::GridGrowth::changed`]).
    pub changed: usize,
    /// Old images whose `[col, row]` changed (includes renumbering when the grid grew).
    pub changed_index: usize,
    pub shape: GridShape,
}

impl MapState {
    /// The map of a finished analysis.
    pub fn from_analysis(a: &Analysis, preprocess: Preprocess, aspect: f64) -> MapState {
        MapState {
            paths: a.paths.clone(),
            points: a.points.clone(),
            embedding: a.raw_points.clone(),
            frame: Frame::of(&a.raw_points),
            reduced: a.reduced.clone(),
            known: vec![true; a.paths.len()],
            basis: a.pca_basis.clone(),
            feature_key: a.feature_key.clone(),
            preprocess,
            aspect,
            grid: Some(a.grid.clone()),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether the map has no images.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Layout entries (with grid cells when the map has a grid).
    pub fn entries(&self) -> Vec<LayoutEntry> {
        pipeline::entries(&self.paths, &self.points, self.grid.as_ref())
    }

    /// Check the invariants (one row per image everywhere); an error names the first violation.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let n = self.paths.len();
        if self.points.len() != n
            || self.embedding.len() != n
            || self.known.len() != n
            || self.reduced.nrows() != n
        {
            return Err("the parts disagree on the number of images".into());
        }
        if self.reduced.ncols() != self.basis.output_dims() {
            return Err("reduced features and PCA basis disagree".into());
        }
        if let Some(g) = &self.grid {
            if g.cells.len() != n {
                return Err("the grid has another number of images".into());
            }
        }
        let finite = |v: &[[f32; 2]]| v.iter().flatten().all(|x| x.is_finite());
        if !finite(&self.points) || !finite(&self.embedding) {
            return Err("non-finite positions".into());
        }
        if !self.reduced.iter().all(|v| v.is_finite()) {
            return Err("non-finite features".into());
        }
        Ok(())
    }

    /// The map in the sidecar beside `layout`, when there is one and it belongs to the layout
    /// (`entries`, as read from it); a sidecar that does not is reported through `rep` with
    /// `consequence` ("not used: …") and `None` is returned.
    pub fn beside(
        layout: &Path,
        entries: &[LayoutEntry],
        consequence: &str,
        rep: &dyn Reporter,
    ) -> Option<MapState> {
        let sidecar = sidecar_path(layout);
        if !sidecar.exists() {
            return None;
        }
        match MapState::load(&sidecar, layout, entries) {
            Ok(s) => Some(s),
            Err(e) => {
                rep.warn(&format!("{e}; {consequence}"));
                None
            }
        }
    }

    /// A layout's map: its sidecar's ([`MapState::beside`]), else made from its images
    /// ([`MapState::from_layout`], features from the cache or computed, the layout's stored grid
    /// kept). The flag says whether the sidecar was used.
    pub fn of_layout(
        layout: &Path,
        loaded: &crate::layout_io::LoadedLayout,
        model: &FeatureModel,
        cache: &Cache,
        pca_dims: usize,
        aspect: f64,
        rep: &dyn Reporter,
    ) -> Result<(MapState, bool)> {
        let consequence = "not used: the images' features are computed again";
        if let Some(s) = MapState::beside(layout, &loaded.entries, consequence, rep) {
            return Ok((s, true));
        }
        let state = MapState::from_layout(
            &loaded.entries,
            loaded.grid_size,
            model,
            Preprocess::default(),
            cache,
            pca_dims,
            aspect,
            rep,
        )?;
        Ok((state, false))
    }

    /// The map of a layout without a sidecar: features of its images are computed (or taken
    /// from the cache), the PCA is fitted on them and the layout's points become the fixed
    /// embedding (scaled so its median nearest-neighbour distance is [`TYPICAL_NN_DISTANCE`]).
    /// Images that cannot be analysed keep their place but are nobody's neighbour. A stored grid
    /// (every entry with a cell) is kept.
    #[allow(clippy::too_many_arguments)]
    pub fn from_layout(
        entries: &[LayoutEntry],
        grid_size: Option<[u32; 2]>,
        model: &FeatureModel,
        preprocess: Preprocess,
        cache: &Cache,
        pca_dims: usize,
        aspect: f64,
        rep: &dyn Reporter,
    ) -> Result<MapState> {
        let paths: Vec<PathBuf> = entries.iter().map(|e| e.path.clone()).collect();
        let set = features::extract_features(&paths, model, &preprocess, cache, rep)?;
        if set.paths.is_empty() {
            bail!(
                "none of the layout's {} images could be analysed, so the map cannot grow",
                entries.len()
            );
        }
        let reduced_known = pipeline::reduce(&set.features, pca_dims, rep);
        let basis = PcaBasis::from_scores(set.features.view(), reduced_known.view());
        let mut reduced = Array2::<f32>::zeros((entries.len(), reduced_known.ncols()));
        let mut known = vec![false; entries.len()];
        for (row, &i) in set.indices.iter().enumerate() {
            reduced.row_mut(i).assign(&reduced_known.row(row));
            known[i] = true;
        }
        let points: Vec<[f32; 2]> = entries.iter().map(|e| e.point).collect();
        let scale = TYPICAL_NN_DISTANCE / median_nn_distance(&points).max(1e-9);
        let embedding = points
            .iter()
            .map(|p| {
                [
                    (f64::from(p[0]) * scale) as f32,
                    (f64::from(p[1]) * scale) as f32,
                ]
            })
            .collect();
        let grid = grid_size.and_then(|[cols, rows]| {
            let cells: Option<Vec<[u32; 2]>> = entries.iter().map(|e| e.grid).collect();
            Some(GridAssignment {
                shape: GridShape {
                    cols: cols as usize,
                    rows: rows as usize,
                },
                cells: cells?,
                cost: f64::NAN,
                optimal: false,
                lower_bound: 0.0,
            })
        });
        Ok(MapState {
            paths,
            points,
            embedding,
            frame: Frame {
                lo: [0.0; 2],
                offset: [0.0; 2],
                extent: scale,
            },
            reduced,
            known,
            basis,
            feature_key: features::feature_key(model, &preprocess),
            preprocess,
            aspect,
            grid,
        })
    }

    /// Add images: `features` (one row per path, the model's raw feature vectors) are projected
    /// with the kept PCA basis and placed against the fixed map; the grid (if any) grows to take
    /// them. The old images' points, embedding and features are not touched.
    /// `on_iteration(it, iterations)` is called per placement iteration; `Break` cancels (the map
    /// is then unchanged).
    pub fn add(
        &mut self,
        paths: Vec<PathBuf>,
        features: ArrayView2<f32>,
        params: &AddParams,
        cancel: Option<&std::sync::atomic::AtomicBool>,
        on_iteration: &mut OnIteration,
    ) -> Result<AddReport> {
        if paths.len() != features.nrows() {
            bail!(
                "{} paths for {} feature rows",
                paths.len(),
                features.nrows()
            );
        }
        if features.nrows() > 0 && features.ncols() != self.basis.input_dims() {
            bail!(
                "the new features have {} values, the map's PCA expects {}",
                features.ncols(),
                self.basis.input_dims()
            );
        }
        let start = self.len();
        let t = Instant::now();
        let reduced = self.basis.project(features);
        let map = FixedMap::new(
            self.reduced.view(),
            &self.embedding,
            Some(&self.known),
            params.transform.theta,
        )?;
        let placed = match transform(&map, reduced.view(), &params.transform, on_iteration) {
            Ok(p) => p,
            Err(TsneError::Cancelled) => bail!(Cancelled),
            Err(e) => return Err(e.into()),
        };
        drop(map);
        let place_time = t.elapsed();

        let t = Instant::now();
        let new_points: Vec<[f32; 2]> = placed.iter().map(|&p| self.frame.apply(p)).collect();
        let grid = match &self.grid {
            Some(prev) => {
                let all: Vec<[f64; 2]> = self
                    .points
                    .iter()
                    .chain(&new_points)
                    .map(|p| [f64::from(p[0]), f64::from(p[1])])
                    .collect();
                let g = match grid::grow_with(&all, prev, self.aspect, &params.grid, cancel) {
                    Ok(g) => g,
                    Err(grid::GridError::Cancelled) => bail!(Cancelled),
                    Err(e) => return Err(e.into()),
                };
                Some(g)
            }
            None => None,
        };
        let grid_time = t.elapsed();

        // Commit (nothing above changed the map).
        self.paths.extend(paths);
        self.points.extend(&new_points);
        self.embedding.extend(&placed);
        self.known.extend(std::iter::repeat_n(true, placed.len()));
        if reduced.nrows() > 0 {
            self.reduced.append(Axis(0), reduced.view())?;
        }
        let change = grid.map(|g| {
            let c = GridChange {
                grew: g.grew,
                changed: g.changed,
                changed_index: g.changed_index,
                shape: g.assignment.shape,
            };
            self.grid = Some(g.assignment);
            c
        });
        Ok(AddReport {
            added: start..self.len(),
            place_time,
            grid_time,
            grid: change,
        })
    }

    /// Remove images (indices into the map); the others keep their points and cells (the freed
    /// cells stay empty until new images take them).
    pub fn remove(&mut self, indices: &[usize]) {
        let drop: HashSet<usize> = indices.iter().copied().collect();
        let keep: Vec<usize> = (0..self.len()).filter(|i| !drop.contains(i)).collect();
        let pick = |v: &Vec<[f32; 2]>| keep.iter().map(|&i| v[i]).collect::<Vec<_>>();
        self.points = pick(&self.points);
        self.embedding = pick(&self.embedding);
        self.paths = keep.iter().map(|&i| self.paths[i].clone()).collect();
        self.known = keep.iter().map(|&i| self.known[i]).collect();
        self.reduced = self.reduced.select(Axis(0), &keep);
        if let Some(g) = &mut self.grid {
            g.cells = keep.iter().map(|&i| g.cells[i]).collect();
        }
    }

    /// Re-solve the whole grid on its current shape (e.g. while nobody watches): the snap, then
    /// the neighbour sort by the map's features — the best arrangement for all images now, at
    /// the price of moving many. Returns how many images changed cell.
    pub fn resolve_grid(&mut self, rep: &dyn Reporter) -> Result<usize> {
        let Some(old) = self.grid.take() else {
            self.ensure_grid(rep)?;
            return Ok(self.len());
        };
        let solved = match self.sorted_grid(old.shape, rep) {
            Ok(g) => g,
            Err(e) => {
                self.grid = Some(old);
                return Err(e);
            }
        };
        let changed = solved
            .cells
            .iter()
            .zip(&old.cells)
            .filter(|(a, b)| a != b)
            .count();
        self.grid = Some(solved);
        Ok(changed)
    }

    /// Make sure the map has a grid (the snap and the neighbour sort, when it has none).
    pub fn ensure_grid(&mut self, rep: &dyn Reporter) -> Result<&GridAssignment> {
        if self.grid.is_none() {
            let g = pipeline::lay_out_grid(
                &self.points,
                Some(self.grid_features()),
                self.aspect,
                GridMethod::default(),
                rep,
            )?;
            self.grid = Some(g);
        }
        self.grid
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("internal: no grid"))
    }

    /// What the map's grid is sorted by: its reduced features, rows of images without real
    /// features (an old image of a layout made elsewhere) flagged.
    pub fn grid_features(&self) -> pipeline::GridFeatures<'_> {
        pipeline::GridFeatures {
            reduced: self.reduced.view(),
            usable: Some(&self.known),
        }
    }

    /// The snap and the neighbour sort on a given shape.
    fn sorted_grid(&self, shape: GridShape, rep: &dyn Reporter) -> Result<GridAssignment> {
        let method = GridMethod::default();
        let params = method.sort.unwrap_or_default();
        let features = self.grid_features();
        pipeline::sorted_grid(&self.points, features, shape, params, method.solver, rep)
            .map(|(g, _)| g)
    }
}

/// Median distance from each point to its nearest other point (0 for fewer than 2 points).
pub fn median_nn_distance(points: &[[f32; 2]]) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let g = crate::tsne::knn::exact_knn_2d(points, 1);
    let mut d: Vec<f32> = (0..points.len())
        .map(|i| g.distances2(i).first().copied().unwrap_or(0.0).sqrt())
        .collect();
    d.sort_by(f32::total_cmp);
    f64::from(d[d.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::ControlFlow;
    use std::path::Path;

    fn small_state() -> MapState {
        let n = 6;
        let embedding: Vec<[f32; 2]> = (0..n).map(|i| [i as f32 * 1.5, (i % 2) as f32]).collect();
        let frame = Frame::of(&embedding);
        MapState {
            paths: (0..n)
                .map(|i| PathBuf::from(format!("/x/img{i}.png")))
                .collect(),
            points: embedding.iter().map(|&p| frame.apply(p)).collect(),
            embedding,
            frame,
            reduced: Array2::from_shape_fn((n, 3), |(i, j)| (i * 3 + j) as f32 * 0.1),
            known: vec![true; n],
            basis: PcaBasis {
                mean: vec![0.5; 4],
                components: Array2::from_shape_fn((4, 3), |(i, j)| (i + j) as f32),
            },
            feature_key: "abc-v1".into(),
            preprocess: Preprocess::default(),
            aspect: 1.0,
            grid: Some(GridAssignment {
                shape: GridShape { cols: 3, rows: 2 },
                cells: (0..n as u32).map(|i| [i % 3, i / 3]).collect(),
                cost: f64::NAN,
                optimal: false,
                lower_bound: 0.0,
            }),
        }
    }

    fn same(a: &MapState, b: &MapState) -> bool {
        let mut b = b.clone();
        if let (Some(x), Some(y)) = (&a.grid, &mut b.grid) {
            y.cost = x.cost;
        }
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn frame_matches_normalize_points() {
        let raw = [[-3.0f32, 2.0], [5.0, 1.0], [0.25, -1.5]];
        let f = Frame::of(&raw);
        let direct = crate::pipeline::normalize_raw(&raw);
        for (p, q) in raw.iter().zip(&direct) {
            assert_eq!(f.apply(*p), *q);
        }
    }

    #[test]
    fn sidecar_round_trips_and_rejects_damage() {
        let s = small_state();
        let bytes = s.to_bytes();
        let back = MapState::from_bytes(&bytes, Path::new("m.map")).unwrap();
        assert!(same(&s, &back));
        let mut bad = bytes.clone();
        bad[40] ^= 1;
        let e = MapState::from_bytes(&bad, Path::new("m.map")).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
        let e = MapState::from_bytes(&bytes[..bytes.len() - 5], Path::new("m.map")).unwrap_err();
        assert!(e.to_string().contains("m.map"), "{e}");
        let e = MapState::from_bytes(b"{\"json\": 1}", Path::new("m.map")).unwrap_err();
        assert!(e.to_string().contains("not a map file"), "{e}");
    }

    #[test]
    fn add_checks_its_input_and_a_cancelled_add_changes_nothing() {
        let mut s = small_state();
        let before = s.clone();
        let feats = Array2::from_shape_fn((2, 4), |(i, j)| (i + j) as f32 * 0.2);
        let params = AddParams::default();
        let go = &mut |_: usize, _: &[[f32; 2]]| ControlFlow::Continue(());
        // wrong feature length, wrong number of paths
        let short = Array2::<f32>::zeros((2, 3));
        let two = vec![PathBuf::from("/y/a.png"), PathBuf::from("/y/b.png")];
        assert!(s.add(two.clone(), short.view(), &params, None, go).is_err());
        assert!(s
            .add(two[..1].to_vec(), feats.view(), &params, None, go)
            .is_err());
        let err = s
            .add(two.clone(), feats.view(), &params, None, &mut |it, _| {
                if it == 5 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap_err();
        assert!(pipeline::is_cancelled(&err), "{err:#}");
        assert!(same(&s, &before), "nothing changed");
        let r = s.add(two, feats.view(), &params, None, go).unwrap();
        assert_eq!(r.added, 6..8);
        assert_eq!(s.len(), 8);
        assert!(s.check().is_ok());
        assert_eq!(&s.points[..6], &before.points[..]);
        // the grid grew (6 of 6 cells were taken) and every image has its own cell
        let g = s.grid.as_ref().unwrap();
        let cells: HashSet<[u32; 2]> = g.cells.iter().copied().collect();
        assert_eq!(cells.len(), 8);
        assert!(r.grid.unwrap().grew);
    }

    #[test]
    fn removing_keeps_the_others() {
        let mut s = small_state();
        let before = s.clone();
        s.remove(&[1, 4]);
        assert_eq!(s.len(), 4);
        assert_eq!(s.points[1], before.points[2]);
        assert_eq!(
            s.grid.as_ref().unwrap().cells[1],
            before.grid.as_ref().unwrap().cells[2]
        );
        assert_eq!(s.reduced.row(3), before.reduced.row(5));
        assert!(s.check().is_ok());
    }
}
