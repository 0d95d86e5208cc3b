//! Gradient descent with momentum and per-coordinate gains, as in openTSNE: an early-exaggeration
//! phase (momentum 0.5) then the normal phase (momentum 0.8, update reset, gains kept), step-norm
//! clipping, re-centering every iteration and a progress callback per iteration.

use super::affinity::SparseP;
use super::gradient::{
    attractive_prechecked, attractive_with_kl, exact_repulsion, matches_embedding, p_log_p,
};
use super::quadtree::QuadTree;
use super::{Phase, Progress, TsneError};
use rayon::prelude::*;
use std::ops::ControlFlow;

pub const MOMENTUM_EARLY: f32 = 0.5;
pub const MOMENTUM_FINAL: f32 = 0.8;
/// Additive floor of the gains (openTSNE: `gains * 0.8 + min_gain`).
pub const MIN_GAIN: f32 = 0.01;
/// Per-point update norms are clipped to this (openTSNE's `max_step_norm`).
pub const MAX_STEP_NORM: f32 = 5.0;
const UPDATE_CHUNK: usize = 1024;

/// openTSNE's automatic learning rate, `max(200, n / 12)` (Belkina et al. 2019).
pub fn auto_learning_rate(n: usize) -> f32 {
    (n as f32 / 12.0).max(200.0)
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeConfig {
    pub iterations: usize,
    pub exaggeration_iterations: usize,
    pub early_exaggeration: f32,
    pub learning_rate: f32,
    pub theta: f32,
    pub kl_every: usize,
}

/// One point's update with momentum and per-coordinate gains (openTSNE's rule): a gain grows
/// by 0.2 where the gradient's sign differs from the last update's (sign(0) = 0, as in numpy) and
/// shrinks to `0.8 · gain + MIN_GAIN` where it agrees; then `update = momentum · update −
/// lr · gain · grad`. The caller adds the update (after clipping it, or not). The optimizer and
/// the placement of new points into a fixed map ([`super::transform`]) both step with it.
#[inline]
pub(crate) fn gain_step(
    update: &mut [f32; 2],
    gains: &mut [f32; 2],
    grad: [f32; 2],
    momentum: f32,
    lr: f32,
) {
    for c in 0..2 {
        let flipped = (update[c] > 0.0) != (grad[c] > 0.0) || (update[c] < 0.0) != (grad[c] < 0.0);
        gains[c] = if flipped {
            gains[c] + 0.2
        } else {
            gains[c] * 0.8 + MIN_GAIN
        };
        update[c] = momentum * update[c] - lr * gains[c] * grad[c];
    }
}

/// Optimises `y` (the initial embedding) against `p`. Calls `on_progress` once per iteration with
/// the current embedding (borrowed; no allocation per iteration).
pub fn optimize(
    p: &SparseP,
    mut y: Vec<[f32; 2]>,
    cfg: &OptimizeConfig,
    on_progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Vec<[f32; 2]>, TsneError> {
    let n = y.len();
    if !matches_embedding(p, n) {
        return Err(TsneError::InvalidInput(
            "affinity matrix does not match the embedding".into(),
        ));
    }
    let mut update = vec![[0f32; 2]; n];
    let mut gains = vec![[1f32; 2]; n];
    let mut attr = vec![[0f32; 2]; n];
    let mut rep = vec![[0f32; 2]; n];
    let mut z_rows: Vec<f64> = Vec::with_capacity(n);
    let mut kl_parts: Vec<(f64, f64)> = Vec::new();
    let mut mean_parts = vec![[0f64; 2]; n.div_ceil(UPDATE_CHUNK)];
    let mut tree = QuadTree::new();
    let plogp = if cfg.kl_every > 0 { p_log_p(p) } else { 0.0 };
    let lr = cfg.learning_rate;

    for it in 0..cfg.iterations {
        let early = it < cfg.exaggeration_iterations;
        if it == cfg.exaggeration_iterations && it > 0 {
            update.fill([0.0; 2]);
        }
        let exaggeration = if early { cfg.early_exaggeration } else { 1.0 };
        let momentum = if early {
            MOMENTUM_EARLY
        } else {
            MOMENTUM_FINAL
        };
        let want_kl =
            cfg.kl_every > 0 && ((it + 1) % cfg.kl_every == 0 || it + 1 == cfg.iterations);

        let z = if cfg.theta == 0.0 {
            exact_repulsion(&y, &mut rep, &mut z_rows)
        } else {
            tree.build(&y, cfg.theta);
            tree.repulsion(&mut rep)
        };
        let kl = if want_kl {
            let (s_log, s_p) = attractive_with_kl(p, &y, &mut attr, &mut kl_parts);
            Some((plogp + s_log + s_p * z.max(f64::MIN_POSITIVE).ln()) as f32)
        } else {
            // SAFETY: `matches_embedding(p, n)` was checked before the loop.
            unsafe { attractive_prechecked(p, &y, &mut attr) };
            None
        };

        let inv_z = if z > 0.0 { (1.0 / z) as f32 } else { 0.0 };
        y.par_chunks_mut(UPDATE_CHUNK)
            .zip(update.par_chunks_mut(UPDATE_CHUNK))
            .zip(gains.par_chunks_mut(UPDATE_CHUNK))
            .zip(attr.par_chunks(UPDATE_CHUNK))
            .zip(rep.par_chunks(UPDATE_CHUNK))
            .zip(mean_parts.par_iter_mut())
            .for_each(|(((((yc, uc), gc), ac), rc), mp)| {
                let mut sum = [0f64; 2];
                for ((((yi, ui), gi), ai), ri) in yc.iter_mut().zip(uc).zip(gc).zip(ac).zip(rc) {
                    let grad = [
                        exaggeration * ai[0] - ri[0] * inv_z,
                        exaggeration * ai[1] - ri[1] * inv_z,
                    ];
                    gain_step(ui, gi, grad, momentum, lr);
                    let norm = (ui[0] * ui[0] + ui[1] * ui[1]).sqrt();
                    if norm > MAX_STEP_NORM {
                        let s = MAX_STEP_NORM / norm;
                        ui[0] *= s;
                        ui[1] *= s;
                    }
                    yi[0] += ui[0];
                    yi[1] += ui[1];
                    sum[0] += f64::from(yi[0]);
                    sum[1] += f64::from(yi[1]);
                }
                *mp = sum;
            });
        if n > 0 {
            let (sx, sy) = mean_parts
                .iter()
                .fold((0f64, 0f64), |a, b| (a.0 + b[0], a.1 + b[1]));
            let (mx, my) = ((sx / n as f64) as f32, (sy / n as f64) as f32);
            y.par_chunks_mut(UPDATE_CHUNK).for_each(|yc| {
                for yi in yc {
                    yi[0] -= mx;
                    yi[1] -= my;
                }
            });
        }

        let progress = Progress {
            phase: Phase::Optimize,
            iteration: it,
            iterations: cfg.iterations,
            embedding: &y,
            kl,
        };
        if let ControlFlow::Break(()) = on_progress(&progress) {
            return Err(TsneError::Cancelled);
        }
    }
    Ok(y)
}
