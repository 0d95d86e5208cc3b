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
