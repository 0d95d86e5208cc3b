//! Multiscale warm start: solve a subsampled instance on a half-resolution grid (recursively), and
//! interpolate its prices to the full grid, so the fine auction starts from a good price landscape.

use std::sync::atomic::AtomicBool;

use super::auction::{Auction, Params};
use super::problem::Problem;
use super::GridError;

/// Warm prices for `p` (grid units², per cell, row-major), or `None` when `p` is too small to coarsen.
pub(crate) fn warm_prices(
    p: &Problem,
    params: Params,
    cancel: Option<&AtomicBool>,
) -> Result<Option<Vec<f64>>, GridError> {
    if p.n < params.coarse_min_n.max(16) || p.cols < 8 || p.rows < 8 {
        return Ok(None);
    }
    let (cc, cr) = (p.cols.div_ceil(2), p.rows.div_ceil(2));
    let mc = cc * cr;
    // Same density of points per cell as the fine instance.
    let nc = ((p.n as f64) * (mc as f64) / (p.m as f64)).floor() as usize;
    let nc = nc.min(mc);
    let idx = stratified_subset(p, nc);
    // A cell stands for the unit square around its centre, so map the cell *areas* onto each other:
    // fine [-0.5, cols - 0.5] -> coarse [-0.5, cc - 0.5] (mapping centres instead would distort
    // the price landscape by the relative size of a border cell, ~1/cols, in curvature).
    let sx = cc as f64 / p.cols as f64;
    let sy = cr as f64 / p.rows as f64;
    let to_coarse = |v: f64, s: f64| (v + 0.5) * s - 0.5;
    let px = idx.iter().map(|&i| to_coarse(p.px[i], sx)).collect();
    let py = idx.iter().map(|&i| to_coarse(p.py[i], sy)).collect();
    let q = Problem::from_grid_units(cc, cr, px, py);
    let warm = warm_prices(&q, params, cancel)?;
    let warm = warm.as_deref().map(|w| (w, params.warm_eps_cells2));
    let mut a = Auction::new(&q, params, warm, cancel)?;
    let stop = params.coarse_stop_cells2;
    a.solve(cancel, |a| a.eps_cells2() <= stop)?;
    let coarse = a.prices_cells2();
    // Bilinear interpolation; a coarse cell² is 1 / (sx * sy) fine cells².
    let f = 1.0 / (sx * sy);
    let mut out = Vec::with_capacity(p.m);
    for r in 0..p.rows {
        let y = to_coarse(r as f64, sy);
        let y0 = (y.max(0.0).floor() as usize).min(cr - 2);
        let ty = y - y0 as f64;
        for c in 0..p.cols {
            let x = to_coarse(c as f64, sx);
            let x0 = (x.max(0.0).floor() as usize).min(cc - 2);
            let tx = x - x0 as f64;
            let at = |xx: usize, yy: usize| coarse[yy * cc + xx];
            let v = (1.0 - ty) * ((1.0 - tx) * at(x0, y0) + tx * at(x0 + 1, y0))
                + ty * ((1.0 - tx) * at(x0, y0 + 1) + tx * at(x0 + 1, y0 + 1));
            out.push(v * f);
        }
    }
    Ok(Some(out))
}

/// `k` of the points, spread evenly along a Hilbert curve through the grid, so that the subset has
/// the same density as the full set at every scale above a few points (a random subset would carry
/// sampling noise, e.g. a shifted mean, that the fine auction then pays to undo).
fn stratified_subset(p: &Problem, k: usize) -> Vec<usize> {
    const BITS: u32 = 16;
    let side = (1u64 << BITS) as f64 - 1.0;
    let sx = side / (p.cols.max(2) - 1) as f64;
    let sy = side / (p.rows.max(2) - 1) as f64;
    let mut keyed: Vec<(u64, usize)> = (0..p.n)
        .map(|i| {
            let x = (p.px[i] * sx).clamp(0.0, side) as u32;
            let y = (p.py[i] * sy).clamp(0.0, side) as u32;
            (hilbert(x, y, BITS), i)
        })
        .collect();
    keyed.sort_unstable();
    let step = p.n as f64 / k.max(1) as f64;
    let mut out: Vec<usize> = (0..k)
        .map(|t| keyed[((t as f64 + 0.5) * step) as usize % p.n].1)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Index of `(x, y)` along the Hilbert curve of order `bits`.
fn hilbert(mut x: u32, mut y: u32, bits: u32) -> u64 {
    let mut d: u64 = 0;
    let mut s: u32 = 1 << (bits - 1);
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = s.wrapping_sub(1).wrapping_sub(x) & ((s << 1).wrapping_sub(1));
                y = s.wrapping_sub(1).wrapping_sub(y) & ((s << 1).wrapping_sub(1));
            }
            std::mem::swap(&mut x, &mut y);
        }
        s >>= 1;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::GridShape;

    #[test]
    fn hilbert_is_a_bijection() {
        let mut seen = std::collections::HashSet::new();
        for x in 0..16 {
            for y in 0..16 {
                assert!(seen.insert(hilbert(x, y, 4)));
            }
        }
        assert_eq!(seen.iter().max(), Some(&255));
    }

    #[test]
    fn warm_prices_shape_and_subset() {
        let pts: Vec<[f64; 2]> = (0..2500)
            .map(|i| {
                let t = i as f64 * 0.618;
                [t.fract(), (t * 1.37).sin() * 0.5 + (i % 7) as f64 * 0.05]
            })
            .collect();
        let p = Problem::new(&pts, GridShape::for_count(2500, 1.0)).unwrap();
        let sub = stratified_subset(&p, 600);
        assert!(sub.len() <= 600 && sub.len() > 590, "{}", sub.len());
        assert!(sub.windows(2).all(|w| w[0] < w[1]));
        let w = warm_prices(&p, Params::default(), None)
            .unwrap()
            .expect("coarsened");
        assert_eq!(w.len(), p.m);
        assert!(w.iter().all(|v| v.is_finite()));
        let small = Problem::new(&pts[..100], GridShape::for_count(100, 1.0)).unwrap();
        assert!(warm_prices(&small, Params::default(), None)
            .unwrap()
            .is_none());
    }
}
