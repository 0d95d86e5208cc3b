#![allow(dead_code)]
//! Embedding quality measures shared by tests and benches: leave-one-out k-NN classification
//! accuracy (exact neighbours), the exact KL(P‖Q) of a t-SNE embedding and the Distance
//! Preservation Quality of a grid.

use image_tsne_live::tsne::affinity::joint_probabilities;
use image_tsne_live::tsne::knn::{exact_knn, exact_knn_2d, KnnGraph};
use image_tsne_live::tsne::{centered, effective_perplexity, neighbors_for_perplexity};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// Majority label among the neighbours (in order of increasing distance). Tie rule: among the
/// labels with the most votes, the one whose first occurrence is nearest wins (equivalently, the
/// label of the nearest neighbour among the tied labels).
fn vote(neighbors: &[u32], labels: &[u32]) -> u32 {
    let mut best: Option<(usize, u32)> = None;
    for (t, &j) in neighbors.iter().enumerate() {
        let label = labels[j as usize];
        if neighbors[..t].iter().any(|&e| labels[e as usize] == label) {
            continue; // counted at its first occurrence
        }
        let votes = neighbors[t..]
            .iter()
            .filter(|&&e| labels[e as usize] == label)
            .count();
        if best.is_none_or(|(v, _)| votes > v) {
            best = Some((votes, label));
        }
    }
    best.map_or(u32::MAX, |b| b.1)
}

fn accuracy_from_graph(graph: &KnnGraph, labels: &[u32]) -> f64 {
    let n = graph.n;
    if n == 0 || graph.k == 0 {
        return 0.0;
    }
    let correct: usize = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .filter(|&i| vote(graph.neighbors(i), labels) == labels[i])
        .count();
    correct as f64 / n as f64
}

/// Leave-one-out k-NN classification accuracy of 2-D points: each point is classified by the
/// majority label of its k exact nearest neighbours (itself excluded; equal distances ordered by
/// index; vote ties as in the module's tie rule). Returns 0 when n < 2.
///
/// # Panics
/// If `labels.len() != points.len()`.
pub fn knn_accuracy(points: &[[f32; 2]], labels: &[u32], k: usize) -> f64 {
    assert_eq!(points.len(), labels.len(), "one label per point");
    accuracy_from_graph(&exact_knn_2d(points, k), labels)
}

/// [`knn_accuracy`] for rows of any dimension (e.g. input features).
///
/// # Panics
/// If `labels.len() != data.nrows()`.
pub fn knn_accuracy_nd(data: ArrayView2<f32>, labels: &[u32], k: usize) -> f64 {
    assert_eq!(data.nrows(), labels.len(), "one label per row");
    let x = centered(data);
    match exact_knn(x.view(), k, &mut || false) {
        Ok(graph) => accuracy_from_graph(&graph, labels),
        Err(_) => f64::NAN,
    }
}

/// Exact KL(P‖Q) of `embedding` for `data`: P from perplexity calibration on the exact
/// `floor(3·perplexity)` nearest neighbours, symmetrised as (P + Pᵀ)/2n; Q the Student-t
/// (1 degree of freedom) similarities over all pairs, computed exactly (O(n²), parallel).
///
/// # Panics
/// If `embedding.len() != data.nrows()`.
pub fn kl_divergence(data: ArrayView2<f32>, embedding: &[[f32; 2]], perplexity: f32) -> f64 {
    let n = data.nrows();
    assert_eq!(embedding.len(), n, "one embedding point per row");
    if n < 2 {
        return 0.0;
    }
    let perplexity = effective_perplexity(perplexity, n);
    let k = neighbors_for_perplexity(perplexity, n);
    let x = centered(data);
    let Ok(graph) = exact_knn(x.view(), k, &mut || false) else {
        return f64::NAN;
    };
    let p = joint_probabilities(&graph, perplexity);

    // Z = Σ_{i≠j} 1/(1+d²): row i sums j > i; each row in f64 lanes, rows summed in order.
    const ROWS: usize = 16;
    let row_sums: Vec<f64> = (0..n.div_ceil(ROWS))
        .into_par_iter()
        .map(|c| {
            let mut total = 0f64;
            for i in c * ROWS..((c + 1) * ROWS).min(n) {
                let [xi, yi] = embedding[i];
                let mut lanes = [0f64; 4];
                let rest = &embedding[i + 1..];
                let mut blocks = rest.chunks_exact(4);
                for b in blocks.by_ref() {
                    for l in 0..4 {
                        let dx = f64::from(xi - b[l][0]);
                        let dy = f64::from(yi - b[l][1]);
                        lanes[l] += 1.0 / (1.0 + dx * dx + dy * dy);
                    }
                }
                for q in blocks.remainder() {
                    let dx = f64::from(xi - q[0]);
                    let dy = f64::from(yi - q[1]);
                    lanes[0] += 1.0 / (1.0 + dx * dx + dy * dy);
                }
                total += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
            }
            total
        })
        .collect();
    let z = 2.0 * row_sums.iter().sum::<f64>();
    let ln_z = z.ln();
    let terms: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            let [xi, yi] = embedding[i];
            p.row(i)
                .filter(|&(_, v)| v > 0.0)
                .map(|(j, v)| {
                    let dx = f64::from(xi) - f64::from(embedding[j][0]);
                    let dy = f64::from(yi) - f64::from(embedding[j][1]);
                    let pij = f64::from(v);
                    // ln(p / q) with q = w / Z, w = 1 / (1 + d²)
                    pij * (pij.ln() + (dx * dx + dy * dy).ln_1p() + ln_z)
                })
                .sum()
        })
        .collect();
    terms.iter().sum()
}

/// Distance Preservation Quality `DPQ_p` of a grid (Barthel, Hezel, Jung, Schall, "Improved
/// Evaluation and Generation of Grid Layouts using Distance Preservation Quality and Linear
/// Assignment Sorting", Computer Graphics Forum 2023): for every k, `D_k` is the mean feature
/// distance from an image to its k nearest images on the grid (equal grid distances ordered by
/// feature distance, as the authors' code does) and `D*_k` the same to its k nearest in feature
/// space; `DPG_k = max(0, (D̄ − D_k) / D̄)` with `D̄` the mean distance of all pairs, and
/// `DPQ_p = ‖DPG(grid)‖_p / ‖DPG(features)‖_p` over k = 1 … n − 1 (1 is the impossible ideal;
/// the paper uses p = 16). The means run over `max_rows` evenly spaced images when n is larger
/// (exact otherwise). `positions` are one 2-D position per row of `features`: grid cells as
/// `[col, row]`, or a map's points (the measure is defined for grids, but applies as is).
///
/// # Panics
/// If `positions.len() != features.nrows()`.
pub fn dpq(features: ArrayView2<f32>, positions: &[[f32; 2]], p: f64, max_rows: usize) -> f64 {
    let n = features.nrows();
    assert_eq!(positions.len(), n, "one position per row");
    if n < 2 {
        return 1.0;
    }
    let rows: Vec<usize> = if n <= max_rows {
        (0..n).collect()
    } else {
        (0..max_rows).map(|t| t * n / max_rows).collect()
    };
    let x = features.as_standard_layout();
    // per sampled image: the running mean distance curves (grid order, feature order) and the
    // mean distance to all others; summed in a fixed order
    let curves: Vec<(Vec<f64>, Vec<f64>, f64)> = rows
        .par_iter()
        .map(|&i| {
            let xi = x.row(i);
            let mut by_grid: Vec<(f64, f32)> = Vec::with_capacity(n - 1);
            for j in (0..n).filter(|&j| j != i) {
                let d2: f32 = xi
                    .iter()
                    .zip(x.row(j).iter())
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                // exact for whole-number cells, so equal grid distances tie
                let dx = f64::from(positions[i][0]) - f64::from(positions[j][0]);
                let dy = f64::from(positions[i][1]) - f64::from(positions[j][1]);
                by_grid.push((dx * dx + dy * dy, d2.sqrt()));
            }
            let mut by_feature: Vec<f32> = by_grid.iter().map(|e| e.1).collect();
            by_grid.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            by_feature.sort_by(|a, b| a.total_cmp(b));
            let running = |d: &mut dyn Iterator<Item = f32>| -> Vec<f64> {
                let mut sum = 0f64;
                d.enumerate()
                    .map(|(k, v)| {
                        sum += f64::from(v);
                        sum / (k + 1) as f64
                    })
                    .collect()
            };
            let g = running(&mut by_grid.iter().map(|e| e.1));
            let h = running(&mut by_feature.iter().copied());
            let mean = h[n - 2];
            (g, h, mean)
        })
        .collect();
    let r = rows.len() as f64;
    let mut grid = vec![0f64; n - 1];
    let mut feat = vec![0f64; n - 1];
    let mut mean = 0f64;
    for (g, h, m) in &curves {
        for k in 0..n - 1 {
            grid[k] += g[k] / r;
            feat[k] += h[k] / r;
        }
        mean += m / r;
    }
    if mean <= 0.0 {
        return 1.0;
    }
    let norm = |v: &[f64]| {
        v.iter()
            .map(|&d| ((mean - d) / mean).max(0.0).powf(p))
            .sum::<f64>()
            .powf(1.0 / p)
    };
    let ideal = norm(&feat);
    if ideal > 0.0 {
        norm(&grid) / ideal
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, Array2};

    /// Hand-checked DPQ_1. Four images with 1-D features 0, 1, 2, 3 (pair distances: 1 ×3,
    /// 2 ×2, 3 ×1; mean over ordered pairs D̄ = 20/12 = 5/3).
    /// Feature order, per image, mean of the first k: image 0: 1, 1.5, 2; image 1: 1, 1, 4/3;
    /// image 2: the same as 1; image 3: the same as 0 → D*_1 = 1, D*_2 = 1.25, D*_3 = 5/3.
    /// Grid 1 × 4 holding images 0, 2, 1, 3 (image i's cell: x = 0, 2, 1, 3); the running means
    /// of each image's feature distances in grid order:
    /// image 0 at x0: cells x1 (image 2, d=2), x2 (image 1, d=1), x3 (image 3, d=3) → 2, 1.5, 2;
    /// image 2 at x1: x0 and x2 tie at 1 → ordered by feature distance: image 1 (1) then
    /// image 0 (2), then image 3 (1) → 1, 1.5, 4/3; image 1 at x2: ties image 2 (1) and
    /// image 3 (2), then image 0 (1) → 1, 1.5, 4/3; image 3 at x3: image 1 (2), image 2 (1),
    /// image 0 (3) → 2, 1.5, 2. So D_1 = 1.5, D_2 = 1.5, D_3 = 5/3.
    /// DPG (grid) = ((5/3 − 1.5), 5/3 − 1.5, 0) / (5/3) = (0.1, 0.1, 0); DPG (features) =
    /// (0.4, 0.25, 0) → DPQ_1 = 0.2 / 0.65.
    #[test]
    fn dpq_hand_checked() {
        let x = arr2(&[[0.0f32], [1.0], [2.0], [3.0]]);
        let cells = [[0.0f32, 0.0], [2.0, 0.0], [1.0, 0.0], [3.0, 0.0]];
        let q = dpq(x.view(), &cells, 1.0, 100);
        assert!((q - 0.2 / 0.65).abs() < 1e-9, "{q}");
        // in feature order the grid is the ideal
        let sorted = [[0.0f32, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
        let q = dpq(x.view(), &sorted, 16.0, 100);
        assert!((q - 1.0).abs() < 1e-9, "{q}");
    }

    /// Hand-checked k-NN accuracy. Points on a line: x = 0, 1, 2, 10, 11, 13 with labels
    /// A A B B B A (A = 0, B = 1), k = 3 (self excluded):
    /// - x=0  (A): neighbours 1(A), 2(B), 10(B)  → votes A1 B2 → B  ✗
    /// - x=1  (A): neighbours 0(A), 2(B), 10(B)  → B ✗
    /// - x=2  (B): neighbours 1(A), 0(A), 10(B)  → A ✗
    /// - x=10 (B): neighbours 11(B), 13(A), 2(B) → B ✓   (|10−13| = 3 < |10−2| = 8)
    /// - x=11 (B): neighbours 10(B), 13(A), 2(B) → B ✓
    /// - x=13 (A): neighbours 11(B), 10(B), 2(B) → B ✗
    ///
    /// Accuracy = 2/6. With k = 2: x=0 → 1(A), 2(B): tie, nearest (A) wins ✓; x=1 → 0(A) or
    /// 2(B) equidistant, index order puts 0 first → {A, B} tie → A ✓; x=2 → 1(A), 0(A) → A ✗;
    /// x=10 → 11(B), 13(A) → tie → B ✓; x=11 → 10(B), 13(A) → B ✓; x=13 → 11(B), 10(B) → B ✗.
    /// Accuracy = 4/6.
    #[test]
    fn knn_accuracy_hand_checked() {
        let xs = [0.0f32, 1.0, 2.0, 10.0, 11.0, 13.0];
        let pts: Vec<[f32; 2]> = xs.iter().map(|&x| [x, 0.0]).collect();
        let labels = [0u32, 0, 1, 1, 1, 0];
        assert!((knn_accuracy(&pts, &labels, 3) - 2.0 / 6.0).abs() < 1e-12);
        assert!((knn_accuracy(&pts, &labels, 2) - 4.0 / 6.0).abs() < 1e-12);
        let nd = Array2::from_shape_fn((6, 3), |(i, j)| if j == 1 { xs[i] } else { 0.0 });
        assert!((knn_accuracy_nd(nd.view(), &labels, 3) - 2.0 / 6.0).abs() < 1e-12);
        assert!((knn_accuracy_nd(nd.view(), &labels, 2) - 4.0 / 6.0).abs() < 1e-12);
    }

    /// Hand-checked KL. Data: 4 points, perplexity 1 → k = 3 neighbours each, but perplexity 1
    /// means each point puts (almost) all its mass on its nearest neighbour.
    /// Data x = 0, 1, 10, 12 (1-D): nearest neighbours 0↔1, 1↔0, 10→12, 12→10, so
    /// P_{j|i} ≈ 1 for those pairs and P = (P + Pᵀ)/2n gives p(0,1) = p(1,0) = p(2,3) = p(3,2) ≈ 1/4.
    /// Embedding: the same coordinates in 2-D, y = (0,0), (1,0), (10,0), (12,0).
    /// w = 1/(1+d²): w01 = 1/2, w23 = 1/5, w02 = 1/101, w03 = 1/145, w12 = 1/82, w13 = 1/122.
    /// Z = 2 (1/2 + 1/5 + 1/101 + 1/145 + 1/82 + 1/122) = 2 · 0.7371894 = 1.4743788
    /// KL = Σ p ln(p Z / w) = 2·¼ ln(¼ Z · 2) + 2·¼ ln(¼ Z · 5)
    ///    = ½ ln(0.7371894) + ½ ln(1.8429735) = −0.1524552 + 0.3056901 = 0.1532349.
    #[test]
    fn kl_divergence_hand_checked() {
        let data = arr2(&[[0.0f32], [1.0], [10.0], [12.0]]);
        let emb = [[0.0f32, 0.0], [1.0, 0.0], [10.0, 0.0], [12.0, 0.0]];
        let kl = kl_divergence(data.view(), &emb, 1.0);
        let z: f64 = 2.0 * (0.5 + 0.2 + 1.0 / 101.0 + 1.0 / 145.0 + 1.0 / 82.0 + 1.0 / 122.0);
        let expected = 0.5 * (0.25 * z * 2.0).ln() + 0.5 * (0.25 * z * 5.0).ln();
        assert!((expected - 0.153_234_9).abs() < 1e-6, "{expected}");
        assert!((kl - expected).abs() < 1e-4, "{kl} vs {expected}");
    }

    #[test]
    fn kl_of_perfect_layout_is_lower_than_shuffled() {
        let data = Array2::from_shape_fn((60, 2), |(i, j)| ((i * 7 + j * 3) % 13) as f32);
        let good: Vec<[f32; 2]> = data.rows().into_iter().map(|r| [r[0], r[1]]).collect();
        let mut bad = good.clone();
        bad.reverse();
        bad.rotate_left(17);
        assert!(kl_divergence(data.view(), &good, 5.0) < kl_divergence(data.view(), &bad, 5.0));
    }
}
