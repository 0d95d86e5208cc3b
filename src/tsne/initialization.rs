//! Initial embedding: the first two principal components of the data ([`crate::pca`]), rescaled
//! so the first coordinate has standard deviation 1e-4 (openTSNE's default); a seeded random
//! Gaussian initialisation is the fallback for degenerate data.

use ndarray::{Array1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Standard deviation of the first coordinate of the initial embedding.
pub const INIT_STD: f64 = 1e-4;

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; 1 - u keeps the logarithm finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Random initialisation: i.i.d. N(0, INIT_STD²) coordinates.
pub fn random(n: usize, seed: u64) -> Vec<[f32; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_1E55);
    (0..n)
        .map(|_| {
            [
                (gaussian(&mut rng) * INIT_STD) as f32,
                (gaussian(&mut rng) * INIT_STD) as f32,
            ]
        })
        .collect()
}

/// Top two principal-component scores of `x` (n × d), in f64 — the crate's [`crate::pca`]
/// (exact for the usual 50 PCA dimensions; deterministic signs). `None` when there is nothing
/// to decompose.
pub fn principal_components(x: ArrayView2<f32>) -> Option<(Array1<f64>, Array1<f64>)> {
    let (n, d) = x.dim();
    if n < 2 || d == 0 {
        return None;
    }
    let scores = crate::pca::pca(x, 2).scores;
    let column = |c: usize| -> Array1<f64> {
        if c < scores.ncols() {
            scores.column(c).mapv(f64::from)
        } else {
            Array1::zeros(n)
        }
    };
    Some((column(0), column(1)))
}

fn std_dev(v: &Array1<f64>) -> f64 {
    let n = v.len() as f64;
    let mean = v.sum() / n;
    (v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n).sqrt()
}

/// PCA initialisation (see the module docs). `x` must be centered.
pub fn pca(x: ArrayView2<f32>, seed: u64) -> Vec<[f32; 2]> {
    let n = x.nrows();
    let fallback = random(n, seed);
    let Some((a, b)) = principal_components(x) else {
        return fallback;
    };
    let sa = std_dev(&a);
    if !(sa.is_finite()
        && sa > 1e-12 * (1.0 + x.iter().map(|v| v.abs()).fold(0f32, f32::max) as f64))
    {
        return fallback;
    }
    let scale = INIT_STD / sa;
    let second_ok = std_dev(&b) * scale > 1e-6 * INIT_STD;
    a.iter()
        .zip(b.iter())
        .zip(fallback.iter())
        .map(|((&u, &v), r)| {
            let yv = if second_ok { (v * scale) as f32 } else { r[1] };
            [(u * scale) as f32, yv]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Axis};

    fn column_means(x: ArrayView2<f32>) -> Vec<f64> {
        x.mean_axis(Axis(0))
            .map(|m| m.iter().map(|&v| f64::from(v)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn pca_recovers_dominant_directions() {
        // Points on a plane spanned by e0 (std 10) and e1 (std 3) plus tiny noise in 6 dims.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let n = 400;
        let mut x = Array2::<f32>::zeros((n, 6));
        for i in 0..n {
            let a = gaussian(&mut rng) * 10.0;
            let b = gaussian(&mut rng) * 3.0;
            x[[i, 0]] = (a * 0.6 - b * 0.8) as f32;
            x[[i, 3]] = (a * 0.8 + b * 0.6) as f32;
            for j in [1, 2, 4, 5] {
                x[[i, j]] = (gaussian(&mut rng) * 0.01) as f32;
            }
        }
        let means = column_means(x.view());
        for (j, m) in means.iter().enumerate() {
            x.column_mut(j).mapv_inplace(|v| v - *m as f32);
        }
        let y = pca(x.view(), 1);
        let a: Array1<f64> = y.iter().map(|p| f64::from(p[0])).collect();
        let b: Array1<f64> = y.iter().map(|p| f64::from(p[1])).collect();
        assert!((std_dev(&a) - INIT_STD).abs() < 1e-9);
        let ratio = std_dev(&b) / std_dev(&a);
        assert!((ratio - 0.3).abs() < 0.05, "ratio {ratio}");
        // First PC is (0.6, 0.8) in dims (0, 3): scores are proportional to 0.6 x0 + 0.8 x3.
        let proj: Array1<f64> = (0..n)
            .map(|i| 0.6 * f64::from(x[[i, 0]]) + 0.8 * f64::from(x[[i, 3]]))
            .collect();
        let corr = a.dot(&proj) / (a.dot(&a).sqrt() * proj.dot(&proj).sqrt());
        assert!(corr.abs() > 0.999, "corr {corr}");
    }

    #[test]
    fn degenerate_inputs_fall_back() {
        let zero = Array2::<f32>::zeros((10, 3));
        let y = pca(zero.view(), 3);
        assert_eq!(y.len(), 10);
        assert!(y.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
        let one_dim = Array2::from_shape_fn((10, 1), |(i, _)| i as f32 - 4.5);
        let y = pca(one_dim.view(), 3);
        let b: Array1<f64> = y.iter().map(|p| f64::from(p[1])).collect();
        assert!(std_dev(&b) > 0.0, "second coordinate must not be constant");
        assert!(pca(Array2::<f32>::zeros((0, 3)).view(), 1).is_empty());
        assert_eq!(pca(Array2::<f32>::zeros((1, 3)).view(), 1).len(), 1);
    }
}
