//! Input-space affinities: per-point Gaussian precisions calibrated to the target perplexity on the
//! kNN graph, symmetrised into a sparse CSR matrix P = (P_{j|i} + P_{i|j}) / 2n.

use super::knn::KnnGraph;
use rayon::prelude::*;

/// Entropies are calibrated to `ln(perplexity)` within this absolute tolerance (nats).
pub const ENTROPY_TOLERANCE: f64 = 1e-8;
const MAX_CALIBRATION_STEPS: usize = 200;

/// Symmetric sparse joint probabilities in CSR form (rows sorted by column; sum of all values = 1).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseP {
    pub n: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseP {
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
    /// (column, value) pairs of row `i`.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = self.indptr[i]..self.indptr[i + 1];
        self.indices[r.clone()]
            .iter()
            .zip(&self.values[r])
            .map(|(&j, &v)| (j as usize, v))
    }
}

/// Result of calibrating one row: the conditional probabilities are written to the caller's slice.
#[derive(Debug, Clone, Copy)]
pub struct RowCalibration {
    /// Precision β of `exp(−β · d²)`.
    pub beta: f64,
    /// Entropy (nats) reached.
    pub entropy: f64,
}

/// Finds β such that the entropy of `p_j ∝ exp(−β d2_j)` equals `target_entropy` (safeguarded
/// Newton iteration on ln β inside a bisection bracket) and writes the normalised `p` into `out`.
pub fn calibrate_row(d2: &[f32], target_entropy: f64, out: &mut [f64]) -> RowCalibration {
    let k = d2.len();
    if k == 0 {
        return RowCalibration {
            beta: 1.0,
            entropy: 0.0,
        };
    }
    let dmin = d2.iter().copied().fold(f32::INFINITY, f32::min);
    let shifted = |j: usize| f64::from(d2[j]) - f64::from(dmin);
    let mean: f64 = (0..k).map(shifted).sum::<f64>() / k as f64;
    let mut beta = if mean > 0.0 { 1.0 / mean } else { 1.0 };
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let mut entropy = 0.0;
    for _ in 0..MAX_CALIBRATION_STEPS {
        let (mut s, mut e1, mut e2) = (0.0f64, 0.0f64, 0.0f64);
        for (j, o) in out.iter_mut().enumerate().take(k) {
            let dj = shifted(j);
            let w = (-beta * dj).exp();
            *o = w;
            s += w;
            e1 += w * dj;
            e2 += w * dj * dj;
        }
        // s >= 1 because the nearest neighbour has weight exp(0).
        e1 /= s;
        e2 /= s;
        entropy = s.ln() + beta * e1;
        let diff = entropy - target_entropy;
        if diff.abs() <= ENTROPY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            lo = beta;
        } else {
            hi = beta;
        }
        // dH/d(ln β) = −β² Var(d).
        let slope = beta * beta * (e2 - e1 * e1);
        let step = diff / slope;
        let newton = beta * step.clamp(-30.0, 30.0).exp();
        beta = if slope > 0.0 && step.is_finite() && newton > lo && newton < hi {
            newton
        } else if hi.is_infinite() {
            beta * 2.0
        } else if lo == 0.0 {
            beta * 0.5
        } else {
            0.5 * (lo + hi)
        };
    }
    let s: f64 = out[..k].iter().sum();
    for o in out[..k].iter_mut() {
        *o /= s;
    }
    RowCalibration { beta, entropy }
}

/// Conditional probabilities P_{j|i} for every kNN row (row-major `n * k`), calibrated to
/// `perplexity`.
pub fn conditional_probabilities(graph: &KnnGraph, perplexity: f32) -> Vec<f64> {
    let k = graph.k;
    let mut cond = vec![0f64; graph.n * k];
    if k == 0 {
        return cond;
    }
    let target = f64::from(perplexity).ln();
    cond.par_chunks_mut(k)
        .enumerate()
        .with_min_len(64)
        .for_each(|(i, out)| {
            calibrate_row(graph.distances2(i), target, out);
        });
    cond
}

/// Symmetric joint probabilities P = (P_{j|i} + P_{i|j}) / 2n from the kNN graph.
pub fn joint_probabilities(graph: &KnnGraph, perplexity: f32) -> SparseP {
    let cond = conditional_probabilities(graph, perplexity);
    symmetrize(graph, &cond)
}

/// Builds (C + Cᵀ) / 2n in CSR form from conditional probabilities `cond` on `graph`.
pub fn symmetrize(graph: &KnnGraph, cond: &[f64]) -> SparseP {
    let (n, k) = (graph.n, graph.k);
    if n == 0 || k == 0 {
        return SparseP {
            n,
            indptr: vec![0; n + 1],
            indices: Vec::new(),
            values: Vec::new(),
        };
    }
    // Incoming entries (i -> j) grouped by j, in increasing i.
    let mut in_start = vec![0usize; n + 1];
    for &j in &graph.indices {
        in_start[j as usize + 1] += 1;
    }
    for j in 0..n {
        in_start[j + 1] += in_start[j];
    }
    let mut fill = in_start.clone();
    let mut in_src = vec![0u32; graph.indices.len()];
    let mut in_val = vec![0f64; graph.indices.len()];
    for i in 0..n {
        for (t, &j) in graph.neighbors(i).iter().enumerate() {
            let slot = &mut fill[j as usize];
            in_src[*slot] = i as u32;
            in_val[*slot] = cond[i * k + t];
            *slot += 1;
        }
    }
    let scale = 1.0 / (2.0 * n as f64);
    let rows: Vec<Vec<(u32, f32)>> = (0..n)
        .into_par_iter()
        .with_min_len(64)
        .map(|i| {
            let mut own: Vec<(u32, f64)> = graph
                .neighbors(i)
                .iter()
                .zip(&cond[i * k..(i + 1) * k])
                .map(|(&j, &p)| (j, p))
                .collect();
            own.sort_unstable_by_key(|e| e.0);
            let inc = in_start[i]..in_start[i + 1];
            let (src, val) = (&in_src[inc.clone()], &in_val[inc]);
            let mut out = Vec::with_capacity(own.len() + src.len());
            let (mut a, mut b) = (0, 0);
            while a < own.len() || b < src.len() {
                let take_a = b >= src.len() || (a < own.len() && own[a].0 <= src[b]);
                let take_b = a >= own.len() || (b < src.len() && src[b] <= own[a].0);
                let mut col = 0;
                let mut v = 0.0;
                if take_a {
                    col = own[a].0;
                    v += own[a].1;
                    a += 1;
                }
                if take_b {
                    col = src[b];
                    v += val[b];
                    b += 1;
                }
                out.push((col, (v * scale) as f32));
            }
            out
        })
        .collect();
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let nnz: usize = rows.iter().map(Vec::len).sum();
    let mut indices = Vec::with_capacity(nnz);
    let mut values = Vec::with_capacity(nnz);
    for r in rows {
        for (j, v) in r {
            indices.push(j);
            values.push(v);
        }
        indptr.push(indices.len());
    }
    SparseP {
        n,
        indptr,
        indices,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsne::knn::exact_knn;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn entropy_of(p: &[f64]) -> f64 {
        -p.iter()
            .filter(|&&v| v > 0.0)
            .map(|v| v * v.ln())
            .sum::<f64>()
    }

    #[test]
    fn calibration_hits_target_entropy() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for &perp in &[2.0f64, 5.0, 30.0, 50.0] {
            for trial in 0..50 {
                let k = (3.0 * perp) as usize;
                let scale = 10f32.powi(trial % 7 - 3);
                let d2: Vec<f32> = (0..k).map(|_| rng.random::<f32>() * scale).collect();
                let mut p = vec![0f64; k];
                let cal = calibrate_row(&d2, perp.ln(), &mut p);
                let h = entropy_of(&p);
                assert!((h - perp.ln()).abs() < 1e-5, "perp {perp}: H = {h}");
                assert!((cal.entropy - h).abs() < 1e-6);
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn calibration_survives_degenerate_rows() {
        // All neighbours at the same distance: the entropy is ln(k) whatever β; must not hang/NaN.
        let mut p = vec![0f64; 6];
        calibrate_row(&[0.0; 6], 1.0, &mut p);
        assert!(p.iter().all(|v| (v - 1.0 / 6.0).abs() < 1e-12));
        let mut p1 = vec![0f64; 1];
        calibrate_row(&[4.0], 0.0, &mut p1);
        assert_eq!(p1[0], 1.0);
    }

    #[test]
    fn joint_probabilities_are_symmetric_and_normalised() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Array2::from_shape_fn((300, 10), |_| rng.random::<f32>());
        let g = exact_knn(x.view(), 30, &mut || false).expect("knn");
        let p = joint_probabilities(&g, 10.0);
        let total: f64 = p.values.iter().map(|&v| f64::from(v)).sum();
        assert!((total - 1.0).abs() < 1e-5);
        let mut dense = vec![0f32; 300 * 300];
        for i in 0..300 {
            let mut last = None;
            for (j, v) in p.row(i) {
                assert!(last < Some(j), "sorted, no duplicates");
                last = Some(j);
                dense[i * 300 + j] = v;
            }
        }
        for i in 0..300 {
            for j in 0..300 {
                assert_eq!(dense[i * 300 + j], dense[j * 300 + i]);
            }
        }
    }
}
