//! Place new points into a fixed t-SNE map (openTSNE's `prepare_partial` + `transform`): each new
//! point gets affinities to its k nearest *existing* points in the input space (perplexity ~5,
//! rows normalised to 1), starts at the median of those neighbours' map positions, and is
//! optimised for a few hundred iterations with a small learning rate while the existing points
//! stay exactly where they are. Repulsion comes from a quadtree built once over the fixed points
//! plus the exact pairwise repulsion among the new points of the batch; each new point's
//! repulsion is normalised by its own Z (openTSNE's point-wise normalisation for transforms).

use super::affinity::calibrate_row;
use super::knn::sqdist;
use super::optimize::gain_step;
use super::quadtree::QuadTree;
use super::TsneError;
use ndarray::{ArrayView2, CowArray, Ix2};
use rayon::prelude::*;
use std::ops::ControlFlow;

/// Settings of [`transform`]; the defaults are openTSNE's `transform` defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformParams {
    /// Neighbours among the existing points (default 25).
    pub k: usize,
    /// Perplexity of each new point's affinities to its neighbours (default 5).
    pub perplexity: f32,
    /// Gradient-descent iterations (default 250).
    pub iterations: usize,
    /// Learning rate (default 0.1; gradients are point-wise normalised, so this is small).
    pub learning_rate: f32,
    /// Factor on the attraction (default 1.5).
    pub exaggeration: f32,
    /// Momentum (default 0.8).
    pub momentum: f32,
    /// Per-point gradient norms are clipped to this (default 0.25).
    pub max_grad_norm: f32,
    /// Barnes-Hut opening angle for the repulsion of the fixed points (default 0.5).
    pub theta: f32,
    /// Seed of the tiny jitter that separates new points starting at the same position.
    pub seed: u64,
}

impl Default for TransformParams {
    fn default() -> Self {
        TransformParams {
            k: 25,
            perplexity: 5.0,
            iterations: 250,
            learning_rate: 0.1,
            exaggeration: 1.5,
            momentum: 0.8,
            max_grad_norm: 0.25,
            theta: 0.5,
            seed: 42,
        }
    }
}

/// A fixed map that new points can be placed into: the existing points' input rows (only those
/// flagged usable take part in the neighbour search) and their embedding, with the quadtree over
/// the embedding built once.
pub struct FixedMap<'a> {
    data: CowArray<'a, f32, Ix2>,
    embedding: &'a [[f32; 2]],
    /// Rows of `data` that may be neighbours.
    usable: Vec<u32>,
    tree: QuadTree,
}

impl<'a> FixedMap<'a> {
    /// `data` has one row per point of `embedding`; `usable[i] == false` excludes row i from the
    /// neighbour search (e.g. an old image whose features are unknown); it still repels.
    pub fn new(
        data: ArrayView2<'a, f32>,
        embedding: &'a [[f32; 2]],
        usable: Option<&[bool]>,
        theta: f32,
    ) -> Result<Self, TsneError> {
        if data.nrows() != embedding.len() {
            return Err(TsneError::InvalidInput(format!(
                "{} input rows for {} map points",
                data.nrows(),
                embedding.len()
            )));
        }
        if usable.is_some_and(|u| u.len() != embedding.len()) {
            return Err(TsneError::InvalidInput("one usable flag per point".into()));
        }
        if !(theta.is_finite() && theta >= 0.0) {
            return Err(TsneError::InvalidInput("theta must be >= 0".into()));
        }
        if let Some(i) = embedding
            .iter()
            .position(|p| !(p[0].is_finite() && p[1].is_finite()))
        {
            return Err(TsneError::InvalidInput(format!(
                "map point {i} is not finite"
            )));
        }
        let usable: Vec<u32> = (0..embedding.len())
            .filter(|&i| usable.is_none_or(|u| u[i]))
            .map(|i| i as u32)
            .collect();
        let mut tree = QuadTree::new();
        tree.build(embedding, theta);
        Ok(FixedMap {
            data: if data.is_standard_layout() {
                CowArray::from(data)
            } else {
                CowArray::from(data.to_owned())
            },
            embedding,
            usable,
            tree,
        })
    }

    /// Number of fixed points.
    pub fn len(&self) -> usize {
        self.embedding.len()
    }

    /// Whether the map has no points.
    pub fn is_empty(&self) -> bool {
        self.embedding.is_empty()
    }

    /// The k nearest usable fixed points of `row` (ascending distance, ties by index):
    /// (indices, squared distances).
    pub fn neighbors(&self, row: &[f32], k: usize) -> (Vec<u32>, Vec<f32>) {
        let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
        let Some(flat) = self.data.as_slice() else {
            return (Vec::new(), Vec::new());
        };
        let dim = self.data.ncols();
        for &j in &self.usable {
            let at = j as usize * dim;
            let d = sqdist(row, &flat[at..at + dim]);
            if best.len() < k || (d, j) < best[best.len() - 1] {
                let at = best.partition_point(|e| *e < (d, j));
                best.insert(at, (d, j));
                best.truncate(k);
            }
        }
        (
            best.iter().map(|e| e.1).collect(),
            best.iter().map(|e| e.0).collect(),
        )
    }
}

/// Neighbours, affinities and start position of one new point.
struct Prepared {
    neighbors: Vec<u32>,
    p: Vec<f32>,
    init: [f32; 2],
}

/// Called once per placement iteration with the iteration and the new points' positions;
/// `Break` cancels.
pub type OnIteration<'a> = dyn FnMut(usize, &[[f32; 2]]) -> ControlFlow<()> + 'a;

/// Place the rows of `new_data` into `map`; returns one position per new row, in the map's
/// coordinates. The map's points are not touched. `on_iteration(it, positions)` is called once
/// per iteration; `Break` cancels with [`TsneError::Cancelled`].
pub fn transform(
    map: &FixedMap,
    new_data: ArrayView2<f32>,
    params: &TransformParams,
    on_iteration: &mut OnIteration,
) -> Result<Vec<[f32; 2]>, TsneError> {
    validate(map, new_data, params)?;
    let m = new_data.nrows();
    if m == 0 {
        return Ok(Vec::new());
    }
    let k = params.k.clamp(1, map.usable.len());
    let perplexity = params.perplexity.min(k as f32).max(1.0);
    let target = f64::from(perplexity).ln();

    let prepare = |i: usize| prepare_point(map, new_data, params, k, target, i);
    let prepared: Vec<Prepared> = if m >= 8 {
        (0..m).into_par_iter().map(prepare).collect()
    } else {
        (0..m).map(prepare).collect()
    };

    let mut y: Vec<[f32; 2]> = prepared.iter().map(|p| p.init).collect();
    let mut grad = vec![[0f32; 2]; m];
    let mut update = vec![[0f32; 2]; m];
    let mut gains = vec![[1f32; 2]; m];
    for it in 0..params.iterations {
        let gradient = |i: usize| gradient_at(map, &prepared, &y, params, i);
        if m >= 8 {
            grad.par_iter_mut()
                .enumerate()
                .for_each(|(i, g)| *g = gradient(i));
        } else {
            for (i, g) in grad.iter_mut().enumerate() {
                *g = gradient(i);
            }
        }
        for ((yi, ui), (gi, gr)) in y
            .iter_mut()
            .zip(update.iter_mut())
            .zip(gains.iter_mut().zip(&grad))
        {
            gain_step(ui, gi, *gr, params.momentum, params.learning_rate);
            yi[0] += ui[0];
            yi[1] += ui[1];
        }
        if let ControlFlow::Break(()) = on_iteration(it, &y) {
            return Err(TsneError::Cancelled);
        }
    }
    Ok(y)
}

/// Check the new rows and the settings; `Err` says what is wrong.
fn validate(
    map: &FixedMap,
    new_data: ArrayView2<f32>,
    params: &TransformParams,
) -> Result<(), TsneError> {
    let m = new_data.nrows();
    if m > 0 && new_data.ncols() != map.data.ncols() {
        return Err(TsneError::InvalidInput(format!(
            "new rows have {} columns, the map's have {}",
            new_data.ncols(),
            map.data.ncols()
        )));
    }
    if let Some(((i, _), _)) = new_data.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(TsneError::InvalidInput(format!(
            "new row {i} is not finite"
        )));
    }
    for (what, v) in [
        ("perplexity", params.perplexity),
        ("learning_rate", params.learning_rate),
        ("exaggeration", params.exaggeration),
        ("max_grad_norm", params.max_grad_norm),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(TsneError::InvalidInput(format!(
                "{what} must be finite and > 0"
            )));
        }
    }
    if m == 0 {
        return Ok(());
    }
    if map.usable.is_empty() {
        return Err(TsneError::InvalidInput(
            "the map has no points to place new ones against".into(),
        ));
    }
    Ok(())
}

/// Neighbours in the map, calibrated affinities and a start position (the neighbours' median,
/// jittered by a seeded hash so coincident starts separate) of new row `i`.
fn prepare_point(
    map: &FixedMap,
    new_data: ArrayView2<f32>,
    params: &TransformParams,
    k: usize,
    target: f64,
    i: usize,
) -> Prepared {
    let owned;
    let row = match new_data.row(i).to_slice() {
        Some(r) => r,
        None => {
            owned = new_data.row(i).to_vec();
            &owned[..]
        }
    };
    let (neighbors, d2) = map.neighbors(row, k);
    let mut cond = vec![0f64; neighbors.len()];
    calibrate_row(&d2, target, &mut cond);
    let p = cond.iter().map(|&v| v as f32).collect();
    let median = |axis: usize| {
        let mut v: Vec<f32> = neighbors
            .iter()
            .map(|&j| map.embedding[j as usize][axis])
            .collect();
        v.sort_by(f32::total_cmp);
        let h = v.len() / 2;
        if v.len() % 2 == 1 {
            v[h]
        } else {
            0.5 * (v[h - 1] + v[h])
        }
    };
    let jitter = |axis: u64| {
        // splitmix64 of (seed, i, axis) → [-1, 1) · 1e-4: separates coincident starts.
        let mut z = params
            .seed
            .wrapping_add((i as u64) << 1 | axis)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * 1e-4
    };
    Prepared {
        init: [median(0) + jitter(0), median(1) + jitter(1)],
        neighbors,
        p,
    }
}

/// The gradient at new point `i`: repulsion from the map (its quadtree) and from the other new
/// points, attraction to its map neighbours (exaggerated), clipped to `max_grad_norm`.
fn gradient_at(
    map: &FixedMap,
    prepared: &[Prepared],
    y: &[[f32; 2]],
    params: &TransformParams,
    i: usize,
) -> [f32; 2] {
    let yi = y[i];
    let (mut f, mut z) = map.tree.repulsion_at(yi);
    for (t, yt) in y.iter().enumerate() {
        if t != i {
            let (dx, dy) = (yi[0] - yt[0], yi[1] - yt[1]);
            let w = 1.0 / (1.0 + dx * dx + dy * dy);
            z += w;
            f[0] += w * w * dx;
            f[1] += w * w * dy;
        }
    }
    let pr = &prepared[i];
    let (mut ax, mut ay) = (0f32, 0f32);
    for (&j, &pij) in pr.neighbors.iter().zip(&pr.p) {
        let yj = map.embedding[j as usize];
        let (dx, dy) = (yi[0] - yj[0], yi[1] - yj[1]);
        let w = 1.0 / (1.0 + dx * dx + dy * dy);
        ax += pij * w * dx;
        ay += pij * w * dy;
    }
    let inv_z = if z > 0.0 { 1.0 / z } else { 0.0 };
    let mut g = [
        params.exaggeration * ax - f[0] * inv_z,
        params.exaggeration * ay - f[1] * inv_z,
    ];
    let norm = (g[0] * g[0] + g[1] * g[1]).sqrt();
    if norm > params.max_grad_norm {
        let s = params.max_grad_norm / norm;
        g[0] *= s;
        g[1] *= s;
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsne::{tsne, TsneParams};
    use ndarray::{s, Array2};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn blobs(n: usize, d: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centers = Array2::from_shape_fn((5, d), |_| rng.random::<f32>() * 30.0 - 15.0);
        let labels: Vec<usize> = (0..n).map(|i| i % 5).collect();
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            centers[[labels[i], j]] + rng.random::<f32>() * 2.0 - 1.0
        });
        (x, labels)
    }

    fn fixed_embedding(x: &Array2<f32>) -> Vec<[f32; 2]> {
        let params = TsneParams {
            iterations: 400,
            exaggeration_iterations: 150,
            ..Default::default()
        };
        tsne(x.view(), &params, &mut |_| ControlFlow::Continue(())).unwrap()
    }

    fn nearest(points: &[[f32; 2]], q: [f32; 2]) -> usize {
        (0..points.len())
            .min_by(|&a, &b| {
                let d = |p: [f32; 2]| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
                d(points[a]).total_cmp(&d(points[b]))
            })
            .unwrap()
    }

    #[test]
    fn new_points_land_in_their_cluster_and_the_map_stays_put() {
        let (x, labels) = blobs(600, 10, 1);
        let (old, new) = (x.slice(s![..500, ..]), x.slice(s![500.., ..]));
        let emb = fixed_embedding(&old.to_owned());
        let before = emb.clone();
        let map = FixedMap::new(old, &emb, None, 0.5).unwrap();
        let mut calls = 0;
        let placed = transform(&map, new, &TransformParams::default(), &mut |_, _| {
            calls += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(calls, 250);
        assert_eq!(placed.len(), 100);
        assert!(placed.iter().flatten().all(|v| v.is_finite()));
        // bit-identical map
        assert!(emb
            .iter()
            .zip(&before)
            .all(|(a, b)| a[0].to_bits() == b[0].to_bits() && a[1].to_bits() == b[1].to_bits()));
        // each new point's nearest map point is of its own cluster
        let right = placed
            .iter()
            .enumerate()
            .filter(|&(t, q)| labels[nearest(&emb, *q)] == labels[500 + t])
            .count();
        assert_eq!(right, 100);
    }

    #[test]
    fn a_duplicate_lands_next_to_its_original_and_twins_separate() {
        let (x, _) = blobs(400, 8, 2);
        let emb = fixed_embedding(&x);
        let map = FixedMap::new(x.view(), &emb, None, 0.5).unwrap();
        // two copies of point 7 (slightly perturbed) in one batch
        let mut new = x.slice(s![7..9, ..]).to_owned();
        new.row_mut(1).assign(&x.row(7));
        new[[0, 0]] += 1e-3;
        let placed = transform(
            &map,
            new.view(),
            &TransformParams::default(),
            &mut |_, _| ControlFlow::Continue(()),
        )
        .unwrap();
        for q in &placed {
            assert_eq!(nearest(&emb, *q), 7, "{q:?} vs {:?}", emb[7]);
        }
        assert!(placed[0] != placed[1], "the twins repel each other");
    }

    #[test]
    fn deterministic_bad_input_and_cancel() {
        let (x, _) = blobs(200, 6, 3);
        let emb = fixed_embedding(&x);
        let map = FixedMap::new(x.view(), &emb, None, 0.5).unwrap();
        let new = x.slice(s![..10, ..]);
        let run = || {
            transform(&map, new, &TransformParams::default(), &mut |_, _| {
                ControlFlow::Continue(())
            })
        };
        assert_eq!(run().unwrap(), run().unwrap());
        let r = transform(&map, new, &TransformParams::default(), &mut |it, _| {
            if it == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(r, Err(TsneError::Cancelled));
        let mut bad = new.to_owned();
        bad[[2, 1]] = f32::NAN;
        assert!(matches!(
            transform(
                &map,
                bad.view(),
                &TransformParams::default(),
                &mut |_, _| ControlFlow::Continue(())
            ),
            Err(TsneError::InvalidInput(_))
        ));
        let wrong = Array2::<f32>::zeros((1, 3));
        assert!(transform(
            &map,
            wrong.view(),
            &TransformParams::default(),
            &mut |_, _| ControlFlow::Continue(())
        )
        .is_err());
        assert!(FixedMap::new(x.view(), &emb[..5], None, 0.5).is_err());
        // rows flagged unusable are nobody's neighbour (but still repel)
        let mut usable = vec![true; 200];
        usable[3] = false;
        let partial = FixedMap::new(x.view(), &emb, Some(&usable), 0.5).unwrap();
        let row = x.row(3).to_vec();
        let (nb, d2) = partial.neighbors(&row, 5);
        assert!(!nb.contains(&3) && nb.len() == 5, "{nb:?}");
        assert!(d2.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(map.neighbors(&row, 1).0, vec![3]);
        // a map whose points all lack features cannot place anything
        let none = vec![false; 200];
        let empty = FixedMap::new(x.view(), &emb, Some(&none), 0.5).unwrap();
        assert!(
            transform(&empty, new, &TransformParams::default(), &mut |_, _| {
                ControlFlow::Continue(())
            })
            .is_err()
        );
    }
}
