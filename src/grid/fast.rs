//! Fast mode: the exact solver's pipeline, stopped after the first ε phase whose certified relative
//! gap (cost vs. a proven lower bound on the optimum, from the list thresholds) is at most the target.

use std::sync::atomic::AtomicBool;

use super::auction::{Auction, Params};
use super::exact::certify;
use super::problem::Problem;
use super::{GridError, Solution};

/// Solve to a certified relative gap of `gap_target` (e.g. `0.005`); the returned lower bound and
/// `optimal` flag come from the independent certificate.
pub(crate) fn solve(
    p: &Problem,
    gap_target: f64,
    cancel: Option<&AtomicBool>,
) -> Result<Solution, GridError> {
    let params = Params::default();
    let warm = super::multiscale::warm_prices(p, params, cancel)?;
    let warm = warm.as_deref().map(|w| (w, params.warm_eps_cells2));
    let mut a = Auction::new(p, params, warm, cancel)?;
    a.solve(cancel, |a| {
        // gap >= cost' - OPT', so OPT' >= cost' - gap.
        let gap = a.list_gap() as f64;
        let lower = a.primal() as f64 - gap;
        lower > 0.0 && gap <= gap_target * lower
    })?;
    let cert = certify(p, a.mult, &a.price, &a.assigned, cancel)?;
    log::debug!(
        "grid fast: n={} {:?} gap={} optimal={}",
        p.n,
        a.stats,
        cert.gap,
        cert.optimal
    );
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

    #[test]
    fn certified_gap_is_met_and_valid() {
        let mut s = 5u64;
        let mut r = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let pts: Vec<[f64; 2]> = (0..2000).map(|_| [r() * r(), r()]).collect();
        let p = Problem::new(&pts, GridShape::for_count(2000, 1.0)).unwrap();
        let fast = solve(&p, 0.005, None).unwrap();
        let exact = super::super::exact::solve(&p, None).unwrap();
        let (fc, ec) = (p.int_cost(&fast.cell_of), p.int_cost(&exact.cell_of));
        assert!(exact.optimal);
        assert!(fc >= ec);
        assert!(fast.lower_bound_int <= ec, "lower bound above the optimum");
        assert!((fc as f64) <= 1.005 * fast.lower_bound_int as f64 * (1.0 + 1e-9));
    }
}
