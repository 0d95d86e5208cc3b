//! Fast mode: the exact solver's auction, stopped after the first ε phase whose certified relative
//! gap (cost vs. a proven lower bound on the optimum) is at most the target.

use std::sync::atomic::AtomicBool;

use super::auction::{Auction, Params};
use super::exact::certify;
use super::problem::Problem;
use super::{GridError, Solution};

pub(crate) fn solve(
    p: &Problem,
    gap_target: f64,
    cancel: Option<&AtomicBool>,
) -> Result<Solution, GridError> {
    let params = Params::default();
    let warm = super::multiscale::warm_prices(p, params, cancel)?;
    let mut a = Auction::new(
        p,
        params,
        warm.as_deref().map(|w| (w, params.warm_eps_cells2)),
    );
    let n = p.n;
    a.solve(cancel, |a| {
        // Cheap certified gap from the candidate-list thresholds (valid bound, see auction docs).
        let gap = a.list_gap() as f64;
        let primal: f64 = (0..n).map(|i| a.paid(i).unwrap_or(0) as f64).sum::<f64>()
            - a.assigned[..n]
                .iter()
                .map(|&j| a.price[j as usize] as f64)
                .sum::<f64>();
        let lower = primal - gap;
        lower > 0.0 && gap <= gap_target * lower
    })?;
    let cert = certify(p, a.mult, &a.price, &a.assigned, cancel)?;
    log::debug!(
        "grid fast: n={} {:?} gap={} optimal={}",
        n,
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
