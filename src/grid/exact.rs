//! Exact solver: the auction run down to ε = 1 (scaled), then an independent optimality certificate
//! that bounds the reduced cost of **every** point-cell pair (exact integer arithmetic).

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use super::auction::{Auction, Params, NONE};
use super::problem::Problem;
use super::pyramid::Pyramid;
use super::{is_cancelled, GridError, Solution};

/// Result of [`certify`].
///
/// Square problem: persons = points + `m - n` dummies (cost 0), objects = cells, scaled costs
/// `c' = M * cost`, `M = m + 1`. For any prices `p`, `u_i = min_j c'(i, j) + p_j` gives a feasible
/// dual, so `D = sum_i u_i - sum_j p_j <= OPT'`. For the bijection `σ`,
/// `P' = sum_i c'(i, σ(i)) = sum_i (c'(i, σ(i)) + p_σ(i)) - sum_j p_j`, hence
/// `P' - OPT' <= gap := sum_i (c'(i, σ(i)) + p_σ(i) - u_i)`. If `gap < M` then
/// `cost(σ) - OPT < 1` in integer units, so `σ` is optimal.
pub(crate) struct Certificate {
    /// `P' - D` in scaled units (an upper bound of `P' - OPT'`).
    pub gap: i128,
    /// `true` when `gap < M`: the assignment is optimal.
    pub optimal: bool,
    /// Lower bound on the optimal integer cost: `ceil((P' - gap) / M)`.
    pub lower_bound_int: i128,
}

/// Check the assignment `assigned` (cell per person: points then dummies) against prices `price`
/// over all point-cell pairs: `u_i` by branch and bound over a fresh min-price quadtree (exact lower
/// bounds per node, see `pyramid`). Independent of the auction's candidate lists and thresholds.
pub(crate) fn certify(
    p: &Problem,
    mult: i64,
    price: &[i64],
    assigned: &[u32],
    cancel: Option<&AtomicBool>,
) -> Result<Certificate, GridError> {
    let mut pyr = Pyramid::new(p.cols, p.rows, price);
    pyr.refresh_tilt();
    let min_row = |i: usize| -> i64 {
        let mut stack = Vec::new();
        let mut out = Vec::with_capacity(1);
        pyr.smallest_dfs(p, i, mult, 1, &assigned[i..i + 1], &mut stack, &mut out)
    };
    certify_with(p, mult, price, assigned, cancel, &min_row, pyr.min_price())
}

/// [`certify`] computing `u_i` by a plain scan of every row that could hold a smaller value
/// (row bound: `M * round(S dy²) + min price of the row`); slower, used to cross-check in tests.
#[cfg(test)]
pub(crate) fn certify_scan(
    p: &Problem,
    mult: i64,
    price: &[i64],
    assigned: &[u32],
    cancel: Option<&AtomicBool>,
) -> Result<Certificate, GridError> {
    let cols = p.cols;
    let row_min: Vec<i64> = (0..p.rows)
        .map(|r| {
            price[r * cols..(r + 1) * cols]
                .iter()
                .copied()
                .min()
                .unwrap_or(0)
        })
        .collect();
    let global_min = row_min.iter().copied().min().unwrap_or(0);
    let min_row = |i: usize| -> i64 {
        let j = assigned[i] as usize;
        let mut best = p.cost(i, j % cols, j / cols) * mult + price[j];
        for r in 0..p.rows {
            if p.row_lower_bound(i, r) * mult + row_min[r] >= best {
                continue;
            }
            let row = &price[r * cols..(r + 1) * cols];
            for (c, &pr) in row.iter().enumerate() {
                best = best.min(p.cost(i, c, r) * mult + pr);
            }
        }
        best
    };
    certify_with(p, mult, price, assigned, cancel, &min_row, global_min)
}

/// The certificate given `u(i) = min_j c'(i, j) + price[j]` and the minimum price.
fn certify_with(
    p: &Problem,
    mult: i64,
    price: &[i64],
    assigned: &[u32],
    cancel: Option<&AtomicBool>,
    u: &(dyn Fn(usize) -> i64 + Sync),
    global_min: i64,
) -> Result<Certificate, GridError> {
    let (n, m, cols) = (p.n, p.m, p.cols);
    // Must be a bijection persons -> cells.
    let mut seen = vec![false; m];
    if assigned.len() != m
        || assigned.iter().any(|&j| {
            j == NONE || (j as usize) >= m || std::mem::replace(&mut seen[j as usize], true)
        })
    {
        return Err(GridError::InvalidInput("internal: not a bijection".into()));
    }
    let slack: Result<Vec<i128>, GridError> = (0..n)
        .into_par_iter()
        .map(|i| {
            if i % 256 == 0 && is_cancelled(cancel) {
                return Err(GridError::Cancelled);
            }
            let j = assigned[i] as usize;
            let paid = p.cost(i, j % cols, j / cols) * mult + price[j];
            let best = u(i);
            if best > paid {
                return Err(GridError::InvalidInput(
                    "internal: certificate minimum above assigned value".into(),
                ));
            }
            Ok(paid as i128 - best as i128)
        })
        .collect();
    let mut gap: i128 = slack?.into_iter().sum();
    let mut primal: i128 = 0;
    for (i, &j) in assigned[..n].iter().enumerate() {
        let j = j as usize;
        primal += (p.cost(i, j % cols, j / cols) * mult) as i128;
    }
    for &j in &assigned[n..] {
        gap += (price[j as usize] - global_min) as i128;
    }
    let mult = mult as i128;
    let lower = primal - gap;
    Ok(Certificate {
        gap,
        optimal: gap < mult,
        lower_bound_int: if lower <= 0 {
            0
        } else {
            (lower + mult - 1) / mult
        },
    })
}

pub(crate) fn solve(p: &Problem, cancel: Option<&AtomicBool>) -> Result<Solution, GridError> {
    let params = Params::default();
    let warm = super::multiscale::warm_prices(p, params, cancel)?;
    let warm = warm.as_deref().map(|w| (w, params.warm_eps_cells2));
    let mut a = Auction::new(p, params, warm, cancel)?;
    a.solve(cancel, |_| false)?;
    let cert = certify(p, a.mult, &a.price, &a.assigned, cancel)?;
    log::debug!(
        "grid exact: n={} m={} {:?} gap={} (< {} proves optimality)",
        p.n,
        p.m,
        a.stats,
        cert.gap,
        a.mult
    );
    if !cert.optimal {
        log::warn!(
            "grid exact: certificate failed (gap {} >= {})",
            cert.gap,
            a.mult
        );
    }
    Ok(Solution {
        cell_of: a.cells_of_points(),
        optimal: cert.optimal,
        lower_bound_int: cert.lower_bound_int,
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::GridShape;

    fn lcg_points(n: usize, seed: u64) -> Vec<[f64; 2]> {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n).map(|_| [next(), next() * next()]).collect()
    }

    #[test]
    fn certificate_detects_suboptimal_assignment() {
        let pts = lcg_points(30, 7);
        let p = Problem::new(&pts, GridShape { cols: 6, rows: 6 }).unwrap();
        let mut a = Auction::new(&p, Params::default(), None, None).unwrap();
        a.solve(None, |_| false).unwrap();
        let c = certify(&p, a.mult, &a.price, &a.assigned, None).unwrap();
        assert!(c.optimal);
        assert_eq!(c.lower_bound_int, p.int_cost(&a.cells_of_points()));
        assert_eq!(
            c.gap,
            certify_scan(&p, a.mult, &a.price, &a.assigned, None)
                .unwrap()
                .gap
        );
        // The cheapest worsening swap of two points' cells (the hardest case to detect): the
        // certificate must reject it, and its gap must bound the true excess cost.
        let best = p.int_cost(&a.cells_of_points());
        let mut bad = a.assigned.clone();
        let (mut pick, mut excess) = ((0, 0), i128::MAX);
        for x in 0..p.n {
            for y in x + 1..p.n {
                let mut s = bad.clone();
                s.swap(x, y);
                let d = p.int_cost(&s[..p.n]) - best;
                if d > 0 && d < excess {
                    (pick, excess) = ((x, y), d);
                }
            }
        }
        assert!(excess < i128::MAX);
        bad.swap(pick.0, pick.1);
        let c = certify(&p, a.mult, &a.price, &bad, None).unwrap();
        assert!(!c.optimal);
        assert!(c.gap >= excess * a.mult as i128);
        assert!(c.lower_bound_int <= best);
        let c2 = certify_scan(&p, a.mult, &a.price, &bad, None).unwrap();
        assert_eq!(c.gap, c2.gap);
        // Not a bijection.
        let mut dup = a.assigned.clone();
        dup[1] = dup[0];
        assert!(certify(&p, a.mult, &a.price, &dup, None).is_err());
    }

    #[test]
    fn exact_small_with_dummies() {
        for seed in 0..20 {
            let pts = lcg_points(17 + seed as usize, seed);
            let p = Problem::new(&pts, GridShape { cols: 7, rows: 6 }).unwrap();
            let s = solve(&p, None).unwrap();
            assert!(s.optimal);
            // Random prices: both certificate variants must compute the same gap.
            let mut a = Auction::new(&p, Params::default(), None, None).unwrap();
            a.solve(None, |_| false).unwrap();
            let mut price = a.price.clone();
            for (j, pr) in price.iter_mut().enumerate() {
                *pr += ((j as i64 * 7919 + seed as i64) % 13) * p.scale as i64 * a.mult;
            }
            let c1 = certify(&p, a.mult, &price, &a.assigned, None).unwrap();
            let c2 = certify_scan(&p, a.mult, &price, &a.assigned, None).unwrap();
            assert_eq!(c1.gap, c2.gap);
            assert_eq!(s.lower_bound_int, p.int_cost(&s.cell_of));
        }
    }
}
