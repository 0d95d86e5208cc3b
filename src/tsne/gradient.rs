//! t-SNE gradient pieces (openTSNE convention, no factor 4): attractive forces from the sparse P
//! (parallel over CSR rows), the exact O(n²) repulsion (θ = 0, small n, tests) and KL helpers.
//!
//! gradᵢ = exaggeration · Σⱼ pᵢⱼ wᵢⱼ (yᵢ − yⱼ) − (1/Z) Σⱼ wᵢⱼ² (yᵢ − yⱼ), wᵢⱼ = 1/(1 + |yᵢ − yⱼ|²),
//! Z = Σ_{i≠j} wᵢⱼ.

use super::affinity::SparseP;
use rayon::prelude::*;

const ROWS_PER_TASK: usize = 256;

const LANES: usize = 8;

/// Attractive force of one CSR row in 8 lanes (entry k of the row goes to lane k mod 8; the
/// lanes are combined in a fixed order), portable version.
#[inline(always)]
fn row_force(xi: f32, yi: f32, cols: &[u32], vals: &[f32], y: &[[f32; 2]]) -> [f32; 2] {
    let mut fx = [0f32; LANES];
    let mut fy = [0f32; LANES];
    for (cc, pc) in cols.chunks(LANES).zip(vals.chunks(LANES)) {
        let mut dx = [0f32; LANES];
        let mut dy = [0f32; LANES];
        let mut pv = [0f32; LANES];
        for (l, (&j, &p)) in cc.iter().zip(pc).enumerate() {
            let q = y[j as usize];
            dx[l] = xi - q[0];
            dy[l] = yi - q[1];
            pv[l] = p;
        }
        for l in 0..LANES {
            let w = pv[l] / (1.0 + (dx[l] * dx[l] + dy[l] * dy[l]));
            fx[l] += w * dx[l];
            fy[l] += w * dy[l];
        }
    }
    [hsum(&fx), hsum(&fy)]
}

#[inline(always)]
fn hsum(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// AVX version of [`row_force`] (same operations in the same lane order, bit-identical).
///
/// # Safety
/// The CPU must support AVX and every entry of `cols` must be `< y.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn row_force_avx(xi: f32, yi: f32, cols: &[u32], vals: &[f32], y: &[[f32; 2]]) -> [f32; 2] {
    use std::arch::x86_64::*;
    let len = cols.len().min(vals.len());
    let full = len / LANES * LANES;
    let base = y.as_ptr() as *const f64;
    let one = _mm256_set1_ps(1.0);
    let vxi = _mm256_set1_ps(xi);
    let vyi = _mm256_set1_ps(yi);
    let mut fx = _mm256_setzero_ps();
    let mut fy = _mm256_setzero_ps();
    // One step over 8 neighbours: `idx` points at 8 column indices, `p` at 8 values.
    let mut step = |idx: *const u32, p: *const f32| {
        // SAFETY: the caller guarantees 8 readable entries behind `idx` and `p`, and indices
        // below y.len(); each point is 8 bytes, read as one f64-sized load.
        unsafe {
            let pair = |l: usize| base.add(*idx.add(l) as usize);
            let lo_a = _mm_loadh_pd(_mm_load_sd(pair(0)), pair(1)); // x0 y0 x1 y1
            let lo_b = _mm_loadh_pd(_mm_load_sd(pair(2)), pair(3)); // x2 y2 x3 y3
            let hi_a = _mm_loadh_pd(_mm_load_sd(pair(4)), pair(5));
            let hi_b = _mm_loadh_pd(_mm_load_sd(pair(6)), pair(7));
            let a = _mm256_castpd_ps(_mm256_set_m128d(hi_a, lo_a)); // x0 y0 x1 y1 | x4 y4 x5 y5
            let b = _mm256_castpd_ps(_mm256_set_m128d(hi_b, lo_b)); // x2 y2 x3 y3 | x6 y6 x7 y7
            let qx = _mm256_shuffle_ps::<0x88>(a, b); // x0..x7
            let qy = _mm256_shuffle_ps::<0xDD>(a, b);
            let vp = _mm256_loadu_ps(p);
            let dx = _mm256_sub_ps(vxi, qx);
            let dy = _mm256_sub_ps(vyi, qy);
            let d2 = _mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy));
            let w = _mm256_div_ps(vp, _mm256_add_ps(one, d2));
            fx = _mm256_add_ps(fx, _mm256_mul_ps(w, dx));
            fy = _mm256_add_ps(fy, _mm256_mul_ps(w, dy));
        }
    };
    let mut k = 0;
    while k < full {
        // SAFETY: k + 8 <= full <= len.
        step(unsafe { cols.as_ptr().add(k) }, unsafe {
            vals.as_ptr().add(k)
        });
        k += LANES;
    }
    if k < len {
        // Tail: unused lanes get p = 0 (and a valid index), contributing exactly 0.
        let mut idx = [cols[k]; LANES];
        let mut pv = [0f32; LANES];
        idx[..len - k].copy_from_slice(&cols[k..len]);
        pv[..len - k].copy_from_slice(&vals[k..len]);
        step(idx.as_ptr(), pv.as_ptr());
    }
    let mut out = [[0f32; LANES]; 2];
    // SAFETY: each destination holds 8 f32.
    unsafe {
        _mm256_storeu_ps(out[0].as_mut_ptr(), fx);
        _mm256_storeu_ps(out[1].as_mut_ptr(), fy);
    }
    [hsum(&out[0]), hsum(&out[1])]
}

pub(crate) fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether every column index of `p` is a valid index into an embedding of `n` points and `p`
/// has a row for each of them.
pub fn matches_embedding(p: &SparseP, n: usize) -> bool {
    p.indptr.len() > n
        && p.indptr.windows(2).all(|w| w[0] <= w[1])
        && p.indptr
            .get(n)
            .is_some_and(|&e| e <= p.indices.len().min(p.values.len()))
        && p.indices.iter().all(|&j| (j as usize) < n)
}

/// Attractive forces `out[i] = Σⱼ pᵢⱼ wᵢⱼ (yᵢ − yⱼ)` (un-exaggerated), parallel over rows.
///
/// # Panics
/// If `p` does not match the embedding (see [`matches_embedding`]).
pub fn attractive(p: &SparseP, y: &[[f32; 2]], out: &mut [[f32; 2]]) {
    assert!(
        matches_embedding(p, y.len()),
        "SparseP does not match the embedding"
    );
    // SAFETY: checked just above.
    unsafe { attractive_prechecked(p, y, out) }
}

/// [`attractive`] without the O(nnz) validation.
///
/// # Safety
/// `matches_embedding(p, y.len())` must hold.
pub(crate) unsafe fn attractive_prechecked(p: &SparseP, y: &[[f32; 2]], out: &mut [[f32; 2]]) {
    let avx = has_avx();
    out.par_chunks_mut(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (t, o) in chunk.iter_mut().enumerate() {
                let i = c * ROWS_PER_TASK + t;
                let [xi, yi] = y[i];
                let r = p.indptr[i]..p.indptr[i + 1];
                let (cols, vals) = (&p.indices[r.clone()], &p.values[r]);
                #[cfg(target_arch = "x86_64")]
                {
                    *o = if avx {
                        // SAFETY: `avx` is only true when the CPU supports AVX, and the caller
                        // guarantees all column indices are < y.len().
                        unsafe { row_force_avx(xi, yi, cols, vals, y) }
                    } else {
                        row_force(xi, yi, cols, vals, y)
                    };
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = avx;
                    *o = row_force(xi, yi, cols, vals, y);
                }
            }
        });
}

/// [`attractive`] plus `(Σ pᵢⱼ ln(1 + dᵢⱼ²), Σ pᵢⱼ)` for the KL estimate, summed per fixed
/// chunk and then in order (deterministic for any thread count).
pub fn attractive_with_kl(
    p: &SparseP,
    y: &[[f32; 2]],
    out: &mut [[f32; 2]],
    partials: &mut Vec<(f64, f64)>,
) -> (f64, f64) {
    attractive(p, y, out);
    let chunks = y.len().div_ceil(ROWS_PER_TASK);
    partials.clear();
    partials.resize(chunks, (0.0, 0.0));
    partials.par_iter_mut().enumerate().for_each(|(c, part)| {
        let (mut s_log, mut s_p) = (0f64, 0f64);
        for i in c * ROWS_PER_TASK..((c + 1) * ROWS_PER_TASK).min(y.len()) {
            let [xi, yi] = y[i];
            for (j, pij) in p.row(i) {
                let dx = f64::from(xi) - f64::from(y[j][0]);
                let dy = f64::from(yi) - f64::from(y[j][1]);
                s_log += f64::from(pij) * (dx * dx + dy * dy).ln_1p();
                s_p += f64::from(pij);
            }
        }
        *part = (s_log, s_p);
    });
    partials
        .iter()
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Σ pᵢⱼ ln pᵢⱼ (the constant part of KL(P‖Q)).
pub fn p_log_p(p: &SparseP) -> f64 {
    p.values
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| f64::from(v) * f64::from(v).ln())
        .sum()
}

/// Exact O(n²) repulsion: `out[i] = Σ_{j≠i} wᵢⱼ² (yᵢ − yⱼ)`; returns Z = Σ_{i≠j} wᵢⱼ. Per-row
/// sums are computed independently and Z is summed in row order, so the result is deterministic.
pub fn exact_repulsion(y: &[[f32; 2]], out: &mut [[f32; 2]], z_rows: &mut Vec<f64>) -> f64 {
    z_rows.clear();
    z_rows.resize(y.len(), 0.0);
    out.par_chunks_mut(64)
        .zip(z_rows.par_chunks_mut(64))
        .enumerate()
        .for_each(|(c, (chunk, zc))| {
            for (t, (o, zo)) in chunk.iter_mut().zip(zc.iter_mut()).enumerate() {
                let i = c * 64 + t;
                let [xi, yi] = y[i];
                let (mut fx, mut fy, mut z) = (0f64, 0f64, 0f64);
                for (j, q) in y.iter().enumerate() {
                    if j == i {
                        continue;
                    }
                    let dx = xi - q[0];
                    let dy = yi - q[1];
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    z += f64::from(w);
                    let w2 = w * w;
                    fx += f64::from(w2 * dx);
                    fy += f64::from(w2 * dy);
                }
                *o = [fx as f32, fy as f32];
                *zo = z;
            }
        });
    z_rows.iter().sum()
}

/// Reference exact repulsion in f64 (tests): (forces, Z).
pub fn exact_repulsion_f64(y: &[[f32; 2]]) -> (Vec<[f64; 2]>, f64) {
    let mut z = 0f64;
    let f = y
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (mut fx, mut fy) = (0f64, 0f64);
            for (j, b) in y.iter().enumerate() {
                if i != j {
                    let dx = f64::from(a[0]) - f64::from(b[0]);
                    let dy = f64::from(a[1]) - f64::from(b[1]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    z += w;
                    fx += w * w * dx;
                    fy += w * w * dy;
                }
            }
            [fx, fy]
        })
        .collect();
    (f, z)
}

/// Reference exact gradient in f64 (tests): exaggeration · attraction − repulsion / Z.
pub fn exact_gradient_f64(p: &SparseP, y: &[[f32; 2]], exaggeration: f64) -> Vec<[f64; 2]> {
    let (rep, z) = exact_repulsion_f64(y);
    (0..y.len())
        .map(|i| {
            let (mut ax, mut ay) = (0f64, 0f64);
            for (j, pij) in p.row(i) {
                let dx = f64::from(y[i][0]) - f64::from(y[j][0]);
                let dy = f64::from(y[i][1]) - f64::from(y[j][1]);
                let w = 1.0 / (1.0 + dx * dx + dy * dy);
                ax += f64::from(pij) * w * dx;
                ay += f64::from(pij) * w * dy;
            }
            [
                exaggeration * ax - rep[i][0] / z,
                exaggeration * ay - rep[i][1] / z,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsne::affinity::joint_probabilities;
    use crate::tsne::knn::exact_knn;
    use crate::tsne::quadtree::QuadTree;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Numerical check of the analytic gradient: d KL / d y = 4 · (our gradient) for the exact
    /// KL(P‖Q) on a tiny problem (central differences in f64).
    #[test]
    fn gradient_matches_finite_differences_of_kl() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 12;
        let x = Array2::from_shape_fn((n, 4), |_| rng.random::<f32>());
        let g = exact_knn(x.view(), 6, &mut || false).expect("knn");
        let p = joint_probabilities(&g, 2.0);
        let y: Vec<[f32; 2]> = (0..n)
            .map(|_| [rng.random::<f32>() * 2.0, rng.random::<f32>() * 2.0])
            .collect();
        let kl = |y: &[[f64; 2]]| {
            let mut z = 0f64;
            for i in 0..n {
                for j in 0..n {
                    if i != j {
                        let d2 = (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2);
                        z += 1.0 / (1.0 + d2);
                    }
                }
            }
            let mut s = 0f64;
            for i in 0..n {
                for (j, pij) in p.row(i) {
                    let d2 = (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2);
                    let q = 1.0 / (1.0 + d2) / z;
                    s += f64::from(pij) * (f64::from(pij) / q).ln();
                }
            }
            s
        };
        let grad = exact_gradient_f64(&p, &y, 1.0);
        let y64: Vec<[f64; 2]> = y.iter().map(|v| [v[0].into(), v[1].into()]).collect();
        let h = 1e-6;
        for i in 0..n {
            for c in 0..2 {
                let mut a = y64.clone();
                let mut b = y64.clone();
                a[i][c] += h;
                b[i][c] -= h;
                let fd = (kl(&a) - kl(&b)) / (2.0 * h);
                assert!(
                    (fd - 4.0 * grad[i][c]).abs() < 1e-6,
                    "{fd} vs {}",
                    4.0 * grad[i][c]
                );
            }
        }
    }

    #[test]
    fn simd_and_portable_row_kernels_agree_bitwise() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let y: Vec<[f32; 2]> = (0..100).map(|_| [rng.random(), rng.random()]).collect();
        for len in [0usize, 1, 7, 8, 9, 63] {
            let cols: Vec<u32> = (0..len).map(|_| rng.random_range(0..100)).collect();
            let vals: Vec<f32> = (0..len).map(|_| rng.random()).collect();
            let portable = row_force(0.3, 0.7, &cols, &vals, &y);
            if has_avx() {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX is available (checked above).
                let fast = unsafe { row_force_avx(0.3, 0.7, &cols, &vals, &y) };
                #[cfg(target_arch = "x86_64")]
                assert_eq!(portable, fast, "len {len}");
            }
        }
    }

    #[test]
    fn fast_passes_match_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 500;
        let x = Array2::from_shape_fn((n, 8), |_| rng.random::<f32>());
        let g = exact_knn(x.view(), 30, &mut || false).expect("knn");
        let p = joint_probabilities(&g, 10.0);
        let y: Vec<[f32; 2]> = (0..n)
            .map(|_| [rng.random::<f32>() * 20.0, rng.random::<f32>() * 20.0])
            .collect();
        let reference = exact_gradient_f64(&p, &y, 3.0);
        let scale = reference
            .iter()
            .map(|v| v[0].hypot(v[1]))
            .fold(0f64, f64::max);
        let mut attr = vec![[0f32; 2]; n];
        let mut parts = Vec::new();
        let (s_log, s_p) = attractive_with_kl(&p, &y, &mut attr, &mut parts);
        let mut attr2 = vec![[0f32; 2]; n];
        attractive(&p, &y, &mut attr2);
        assert!(attr == attr2, "KL and plain attractive passes differ");
        assert!((s_p - 1.0).abs() < 1e-5);
        let mut rep = vec![[0f32; 2]; n];
        let mut zr = Vec::new();
        let z_exact = exact_repulsion(&y, &mut rep, &mut zr);
        let mut tree = QuadTree::new();
        tree.build(&y, 0.0);
        let mut rep_tree = vec![[0f32; 2]; n];
        let z_tree = tree.repulsion(&mut rep_tree);
        for (z, reps) in [(z_exact, &rep), (z_tree, &rep_tree)] {
            for i in 0..n {
                for c in 0..2 {
                    let gi = 3.0 * f64::from(attr[i][c]) - f64::from(reps[i][c]) / z;
                    assert!(
                        (gi - reference[i][c]).abs() < 1e-5 * scale,
                        "{gi} {:?}",
                        reference[i]
                    );
                }
            }
        }
        // KL estimate pieces agree with a direct evaluation.
        let (_, z_ref) = exact_repulsion_f64(&y);
        let kl_fast = p_log_p(&p) + s_log + s_p * z_exact.ln();
        let mut kl_ref = 0f64;
        for i in 0..n {
            for (j, pij) in p.row(i) {
                let d2 = (f64::from(y[i][0]) - f64::from(y[j][0])).powi(2)
                    + (f64::from(y[i][1]) - f64::from(y[j][1])).powi(2);
                kl_ref += f64::from(pij) * (f64::from(pij) * (1.0 + d2) * z_ref).ln();
            }
        }
        assert!((kl_fast - kl_ref).abs() < 1e-4, "{kl_fast} {kl_ref}");
    }
}
