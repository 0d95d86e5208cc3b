//! Reference solver: `pathfinding::kuhn_munkres` on the dense `n x m` matrix of the same integer
//! costs as the other solvers (negated, since it maximises). O(n³) time, `8 n m` bytes.

use std::sync::atomic::AtomicBool;

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

use super::problem::Problem;
use super::{is_cancelled, GridError, Solution, HUNGARIAN_MAX_ENTRIES};

pub(crate) fn solve(p: &Problem, cancel: Option<&AtomicBool>) -> Result<Solution, GridError> {
    let (n, m, cols) = (p.n, p.m, p.cols);
    let entries = n
        .checked_mul(m)
        .filter(|&e| e <= HUNGARIAN_MAX_ENTRIES)
        .ok_or_else(|| {
            GridError::InvalidInput(format!(
                "Hungarian reference limited to {HUNGARIAN_MAX_ENTRIES} matrix entries ({n} x {m})"
            ))
        })?;
    if n == 0 {
        return Ok(Solution {
            cell_of: Vec::new(),
            optimal: true,
            lower_bound_int: 0,
        });
    }
    let mut data = Vec::with_capacity(entries);
    for i in 0..n {
        if i % 256 == 0 && is_cancelled(cancel) {
            return Err(GridError::Cancelled);
        }
        data.extend((0..m).map(|j| -p.cost(i, j % cols, j / cols)));
    }
    let w = Matrix::from_vec(n, m, data)
        .map_err(|e| GridError::InvalidInput(format!("internal: {e:?}")))?;
    if is_cancelled(cancel) {
        return Err(GridError::Cancelled);
    }
    let (total, cols_of) = kuhn_munkres(&w);
    Ok(Solution {
        cell_of: cols_of.into_iter().map(|j| j as u32).collect(),
        optimal: true,
        lower_bound_int: -(total as i128),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::GridShape;

    /// Brute force over all injections of 5 points into 6 cells.
    #[test]
    fn matches_brute_force() {
        let pts = [[0.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.1, 1.0], [0.2, 0.9]];
        let p = Problem::new(&pts, GridShape { cols: 3, rows: 2 }).unwrap();
        let sol = solve(&p, None).unwrap();
        let mut best = i128::MAX;
        let mut perm = vec![0u32; 5];
        fn rec(p: &Problem, k: usize, used: &mut [bool], perm: &mut [u32], best: &mut i128) {
            if k == perm.len() {
                *best = (*best).min(p.int_cost(perm));
                return;
            }
            for j in 0..used.len() {
                if !used[j] {
                    used[j] = true;
                    perm[k] = j as u32;
                    rec(p, k + 1, used, perm, best);
                    used[j] = false;
                }
            }
        }
        rec(&p, 0, &mut [false; 6], &mut perm, &mut best);
        assert_eq!(p.int_cost(&sol.cell_of), best);
        assert_eq!(sol.lower_bound_int, best);
    }
}
