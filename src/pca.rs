//! PCA: reduce feature vectors to at most `k` principal components (the t-SNE input).
//!
//! Own code on `ndarray`, no BLAS: centre the columns, form the smaller of the covariance
//! (d × d) and Gram (n × n) matrices with a matrix product, find its top eigenpairs by block
//! subspace iteration with Rayleigh–Ritz (Jacobi on the small projected matrix), and project.
//! Component signs are fixed (largest score positive) so results are deterministic.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

/// Result of [`pca`].
#[derive(Debug, Clone)]
pub struct Pca {
    /// n × k projections (scores) of the centred data.
    pub scores: Array2<f32>,
    /// The k largest eigenvalues of the covariance, descending.
    pub variances: Vec<f64>,
    /// Fraction of the total variance the k components explain (0 when the data is constant).
    pub explained: f64,
}

/// Project `data` (n × d) onto its top `k` principal components (k is capped at min(n, d)).
pub fn pca(data: ArrayView2<f32>, k: usize) -> Pca {
    let (n, d) = data.dim();
    let k = k.min(n).min(d);
    if n == 0 || k == 0 {
        return Pca {
            scores: Array2::zeros((n, k)),
            variances: vec![],
            explained: 0.0,
        };
    }
    let mean: Array1<f64> = data
        .map(|&v| v as f64)
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(d));
    let mean32 = mean.map(|&m| m as f32);
    let x: Array2<f32> = &data - &mean32.view().insert_axis(Axis(0));
    let denom = (n.max(2) - 1) as f64;
    let use_gram = n < d;
    let m: Array2<f64> = if use_gram {
        x.dot(&x.t())
    } else {
        x.t().dot(&x)
    }
    .map(|&v| v as f64 / denom);
    let total: f64 = m.diag().sum();
    let (values, vectors) = top_eigen(&m, k);
    let scores = if use_gram {
        // Gram eigenvectors u with eigenvalue λ/(n-1): scores = u · sqrt(λ).
        let mut s = vectors.clone();
        for (j, mut col) in s.axis_iter_mut(Axis(1)).enumerate() {
            let scale = (values[j].max(0.0) * denom).sqrt();
            col.mapv_inplace(|v| v * scale);
        }
        s.map(|&v| v as f32)
    } else {
        x.dot(&vectors.map(|&v| v as f32))
    };
    let scores = fix_score_signs(scores);
    let explained = if total > 0.0 {
        values.iter().sum::<f64>() / total
    } else {
        0.0
    };
    Pca {
        scores,
        variances: values,
        explained,
    }
}

/// The fitted projection of a [`pca`]: column means and the components, so that new rows can be
/// projected into the same space (a map that grows keeps it).
#[derive(Debug, Clone, PartialEq)]
pub struct PcaBasis {
    /// Column means of the data the PCA was fitted on (length d).
    pub mean: Vec<f32>,
    /// d × k components (unit columns); `scores = (x − mean) · components`.
    pub components: Array2<f32>,
}

impl PcaBasis {
    /// Recover the basis from the data and its [`Pca::scores`]: component j is
    /// `Xᵀ s_j / ‖s_j‖²` (X centred), since `s_j = X v_j` and `Xᵀ X v_j = ‖s_j‖² v_j`. Works for both
    /// of `pca`'s paths and keeps its sign convention. Components with no variance are zero.
    pub fn from_scores(data: ArrayView2<f32>, scores: ArrayView2<f32>) -> PcaBasis {
        let (n, d) = data.dim();
        let k = scores.ncols();
        let mean: Array1<f64> = data
            .map(|&v| v as f64)
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(d));
        let mean32 = mean.map(|&m| m as f32);
        let mut components = Array2::<f32>::zeros((d, k));
        if n > 0 && k > 0 {
            let x: Array2<f32> = &data - &mean32.view().insert_axis(Axis(0));
            let xs = x.t().dot(&scores);
            let top = scores
                .axis_iter(Axis(1))
                .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>())
                .fold(0f64, f64::max);
            for (j, col) in scores.axis_iter(Axis(1)).enumerate() {
                let norm2: f64 = col.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                if norm2 > top * 1e-12 && norm2 > 0.0 {
                    let inv = (1.0 / norm2) as f32;
                    components
                        .column_mut(j)
                        .assign(&xs.column(j).mapv(|v| v * inv));
                }
            }
        }
        PcaBasis {
            mean: mean32.to_vec(),
            components,
        }
    }

    /// Input dimension d.
    pub fn input_dims(&self) -> usize {
        self.mean.len()
    }

    /// Output dimension k.
    pub fn output_dims(&self) -> usize {
        self.components.ncols()
    }

    /// Project rows (m × d) into the PCA space (m × k).
    ///
    /// # Panics
    /// If `data.ncols() != self.input_dims()`.
    pub fn project(&self, data: ArrayView2<f32>) -> Array2<f32> {
        assert_eq!(data.ncols(), self.input_dims(), "feature length");
        let mean = ndarray::ArrayView1::from(&self.mean[..]);
        let x: Array2<f32> = &data - &mean.insert_axis(Axis(0));
        x.dot(&self.components)
    }
}

/// Top `k` eigenpairs of a symmetric positive semi-definite matrix, eigenvalues descending,
/// eigenvectors as columns with their largest-magnitude entry positive.
pub fn top_eigen(m: &Array2<f64>, k: usize) -> (Vec<f64>, Array2<f64>) {
    let dim = m.nrows();
    let k = k.min(dim);
    if dim <= 96 {
        let (vals, vecs) = jacobi_eigen(m.clone());
        return sorted_top(vals, vecs, k);
    }
    // Block subspace iteration with a few extra vectors for faster convergence.
    let l = (k + 16).min(dim);
    let mut q = Array2::<f64>::zeros((dim, l));
    // Deterministic start: a simple hash-based pseudo-random matrix.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for v in q.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *v = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    }
    orthonormalize(&mut q);
    let mut prev = vec![0.0; k];
    let mut ritz_vals = vec![0.0; l];
    let mut ritz_vecs = q.clone();
    for it in 0..500 {
        let mut z = m.dot(&q);
        orthonormalize(&mut z);
        q = z;
        if it % 5 == 4 || it == 0 {
            // Rayleigh–Ritz: rotate the basis to the eigenvectors of Qᵀ M Q.
            let small = q.t().dot(&m.dot(&q));
            let (vals, vecs) = jacobi_eigen(small);
            let (vals, vecs) = sorted_top(vals, vecs, l);
            q = q.dot(&vecs);
            ritz_vals = vals;
            ritz_vecs = q.clone();
            let scale = ritz_vals.first().copied().unwrap_or(0.0).abs().max(1e-300);
            let converged = ritz_vals
                .iter()
                .take(k)
                .zip(&prev)
                .all(|(a, b)| (a - b).abs() <= 1e-10 * scale);
            prev = ritz_vals.iter().take(k).copied().collect();
            if converged && it > 0 {
                break;
            }
        }
    }
    let vecs = ritz_vecs.slice(s![.., ..k]).to_owned();
    let mut vals: Vec<f64> = ritz_vals.into_iter().take(k).collect();
    for v in &mut vals {
        *v = v.max(0.0);
    }
    (vals, fix_signs(vecs))
}

/// Flip each component so that its largest-magnitude score is positive (deterministic output
/// whichever way the eigen-solver's vector pointed).
fn fix_score_signs(mut scores: Array2<f32>) -> Array2<f32> {
    for mut col in scores.axis_iter_mut(Axis(1)) {
        let big = col
            .iter()
            .copied()
            .fold(0.0f32, |acc, v| if v.abs() > acc.abs() { v } else { acc });
        if big < 0.0 {
            col.mapv_inplace(|v| -v);
        }
    }
    scores
}

fn sorted_top(vals: Vec<f64>, vecs: Array2<f64>, k: usize) -> (Vec<f64>, Array2<f64>) {
    let mut order: Vec<usize> = (0..vals.len()).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let top: Vec<usize> = order.into_iter().take(k).collect();
    let values = top.iter().map(|&i| vals[i]).collect();
    let vectors = vecs.select(Axis(1), &top);
    (values, fix_signs(vectors))
}

fn fix_signs(mut vecs: Array2<f64>) -> Array2<f64> {
    for mut col in vecs.axis_iter_mut(Axis(1)) {
        let big = col
            .iter()
            .copied()
            .fold(0.0f64, |acc, v| if v.abs() > acc.abs() { v } else { acc });
        if big < 0.0 {
            col.mapv_inplace(|v| -v);
        }
    }
    vecs
}

/// Modified Gram–Schmidt on the columns (twice, for stability). A column that collapses
/// (rank deficiency) is replaced by a unit vector orthogonal to the others where possible.
fn orthonormalize(q: &mut Array2<f64>) {
    let (rows, cols) = q.dim();
    for _pass in 0..2 {
        for j in 0..cols {
            for i in 0..j {
                let dot = q.column(i).dot(&q.column(j));
                let ci = q.column(i).to_owned();
                q.column_mut(j).scaled_add(-dot, &ci);
            }
            let norm = q.column(j).dot(&q.column(j)).sqrt();
            if norm > 1e-12 {
                q.column_mut(j).mapv_inplace(|v| v / norm);
            } else {
                q.column_mut(j).fill(0.0);
                if rows > 0 {
                    q[[j % rows, j]] = 1.0;
                }
            }
        }
    }
}

/// Cyclic Jacobi eigen-decomposition of a small symmetric matrix: (values, column vectors).
pub fn jacobi_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..n {
            for q in p + 1..n {
                off += a[[p, q]] * a[[p, q]];
            }
        }
        let scale: f64 = a.diag().iter().map(|x| x * x).sum::<f64>().max(1e-300);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[[p, q]];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..n {
                    let arp = a[[r, p]];
                    let arq = a[[r, q]];
                    a[[r, p]] = c * arp - s * arq;
                    a[[r, q]] = s * arp + c * arq;
                }
                for r in 0..n {
                    let apr = a[[p, r]];
                    let aqr = a[[q, r]];
                    a[[p, r]] = c * apr - s * aqr;
                    a[[q, r]] = s * apr + c * aqr;
                }
                for r in 0..n {
                    let vrp = v[[r, p]];
                    let vrq = v[[r, q]];
                    v[[r, p]] = c * vrp - s * vrq;
                    v[[r, q]] = s * vrp + c * vrq;
                }
            }
        }
    }
    (a.diag().to_vec(), v)
}

#[cfg(test)]
mod tests {

    #[test]
    fn basis_reprojects_the_training_scores() {
        use ndarray::Array2;
        // both paths: n > d (covariance) and n < d (Gram)
        for (n, d) in [(60usize, 8usize), (12, 30)] {
            let data = Array2::from_shape_fn((n, d), |(i, j)| {
                ((i * 7 + j * 13) % 17) as f32 * 0.3 + (i % 3) as f32 * j as f32 * 0.1
            });
            let p = pca(data.view(), 5);
            let basis = PcaBasis::from_scores(data.view(), p.scores.view());
            assert_eq!(
                (basis.input_dims(), basis.output_dims()),
                (d, p.scores.ncols())
            );
            let again = basis.project(data.view());
            let scale = p.scores.iter().fold(0f32, |a, v| a.max(v.abs()));
            for (a, b) in again.iter().zip(p.scores.iter()) {
                assert!((a - b).abs() <= 1e-3 * scale, "n={n} d={d}: {a} vs {b}");
            }
        }
    }
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    /// Data with known principal axes: independent columns with variances 100, 25, 4, 1, ...
    /// rotated by a fixed orthogonal matrix.
    fn known(n: usize, d: usize, seed: u64) -> (Array2<f32>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let sds: Vec<f64> = (0..d).map(|j| 10.0 / (1.0 + j as f64).powf(1.0)).collect();
        let mut z = Array2::<f64>::zeros((n, d));
        for mut row in z.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                // uniform with the right variance: U(-a, a) has variance a²/3
                *v = rng.random_range(-1.0..1.0) * sds[j] * 3f64.sqrt();
            }
        }
        // random orthogonal rotation
        let mut r = Array2::<f64>::zeros((d, d));
        r.iter_mut().for_each(|v| *v = rng.random_range(-1.0..1.0));
        orthonormalize(&mut r);
        let x = z.dot(&r.t()).map(|&v| v as f32 + 5.0);
        (x, sds.iter().map(|s| s * s).collect())
    }

    #[test]
    fn jacobi_diagonalizes() {
        let a = ndarray::arr2(&[[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 1.0]]);
        let (vals, vecs) = jacobi_eigen(a.clone());
        let recon = vecs
            .dot(&Array2::from_diag(&ndarray::Array1::from(vals.clone())))
            .dot(&vecs.t());
        for (x, y) in recon.iter().zip(a.iter()) {
            assert!((x - y).abs() < 1e-10);
        }
        let trace: f64 = vals.iter().sum();
        assert!((trace - 8.0).abs() < 1e-10);
    }

    #[test]
    fn recovers_known_variances_with_covariance_path() {
        let (x, var) = known(4000, 120, 1);
        let p = pca(x.view(), 5);
        assert_eq!(p.scores.dim(), (4000, 5));
        for (j, &want) in var.iter().enumerate().take(5) {
            let got = p.variances[j];
            assert!(
                (got - want).abs() / want < 0.08,
                "component {j}: {got} vs {want}"
            );
            // the variance of the scores is the eigenvalue
            let col = p.scores.column(j).map(|&v| v as f64);
            let m = col.mean().unwrap();
            let sv = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 3999.0;
            assert!((sv - got).abs() / got < 1e-3, "{sv} vs {got}");
        }
        assert!(p.variances.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn gram_and_covariance_paths_agree() {
        let (x, _) = known(150, 200, 2); // n < d: Gram path
        let a = pca(x.view(), 10);
        // covariance path on the same data, forced by adding duplicate rows (scores scale the same)
        let mut tall = Array2::<f32>::zeros((300, 200));
        tall.slice_mut(s![..150, ..]).assign(&x);
        tall.slice_mut(s![150.., ..]).assign(&x);
        let b = pca(tall.view(), 10);
        for j in 0..10 {
            for i in 0..150 {
                let (u, v) = (a.scores[[i, j]], b.scores[[i, j]]);
                assert!(
                    (u - v).abs() < 1e-2 * (1.0 + u.abs()),
                    "({i},{j}): {u} vs {v}"
                );
            }
        }
    }

    #[test]
    fn tiny_and_degenerate_inputs() {
        let empty = Array2::<f32>::zeros((0, 10));
        assert_eq!(pca(empty.view(), 50).scores.dim(), (0, 0));
        let one = Array2::<f32>::ones((1, 10));
        assert_eq!(pca(one.view(), 50).scores.dim(), (1, 1));
        let constant = Array2::<f32>::from_elem((20, 300), 3.0);
        let p = pca(constant.view(), 50);
        assert_eq!(p.scores.dim(), (20, 20));
        assert!(p.scores.iter().all(|v| v.is_finite() && v.abs() < 1e-4));
        assert_eq!(p.explained, 0.0);
    }

    #[test]
    fn deterministic() {
        let (x, _) = known(500, 150, 3);
        let a = pca(x.view(), 20);
        let b = pca(x.view(), 20);
        assert_eq!(a.scores, b.scores);
    }
}
