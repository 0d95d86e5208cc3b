//! Snap a 2-D layout (t-SNE output) onto a `rows x cols` grid: every point gets its own cell and the
//! total squared distance is minimal (exact, certified), or within a certified bound (fast mode).
//!
//! # Frame and normalisation
//! Points are normalised **per axis** by min-max onto the extent of the cell centres, so the layout
//! always fills the grid (a wide grid is filled by a stretched, wide layout). Cells are square: the
//! cell centres are `GridShape::cell_position` = `origin + (col, row) * pitch` with
//! `pitch = 1 / (max(cols, rows) - 1)`, the longer side spanning `[0, 1]` and the shorter one centred.
//! For a square grid this is the usual `(col / (cols - 1), row / (rows - 1))` in the unit square.
//! An axis on which all points are equal is put in the middle of the grid. Costs are squared
//! Euclidean distances in this frame (so isotropic on screen, where cells are square).
//!
//! # Solvers
//! * [`Solver::Exact`]: ε-scaling forward auction on price-aware candidate lists, run down to the
//!   integer-exact ε, then an independent certificate over all point-cell pairs (`optimal: true`).
//! * [`Solver::Fast`]: the same auction, stopped at the first ε phase whose *certified* gap to the
//!   optimum is at most [`FAST_GAP_TARGET`].
//! * [`Solver::Auto`]: `Exact` for `n <= AUTO_EXACT_MAX_N`, `Fast` above.
//! * [`Solver::Hungarian`]: `pathfinding::kuhn_munkres` on the dense integer cost matrix (reference).
//!
//! All solvers minimise the same integer costs `round(S * d²)` (see [`problem`]); `S` is a power of
//! two chosen so that the rounding is far below `1e-9` of a cell pitch², hence the optimum of the
//! integer problem is the float optimum to within float rounding.

use std::sync::atomic::{AtomicBool, Ordering};

mod auction;
mod exact;
mod fast;
mod hungarian;
mod multiscale;
pub(crate) mod problem;
mod pyramid;
mod shape;

/// Largest `n` for which [`Solver::Auto`] uses the exact solver.
pub const AUTO_EXACT_MAX_N: usize = 20_000;

/// Relative gap (cost / certified lower bound - 1) at which [`Solver::Fast`] stops.
pub const FAST_GAP_TARGET: f64 = 0.005;

/// Largest dense matrix (`n * rows * cols` entries, 8 bytes each) the Hungarian reference builds.
pub const HUNGARIAN_MAX_ENTRIES: usize = 250_000_000;

/// A `cols x rows` grid of square cells; cell `(col, row)`, row-major index `row * cols + col`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GridShape {
    pub cols: usize,
    pub rows: usize,
}

/// Which assignment algorithm [`assign`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Solver {
    /// `Exact` for `n <= AUTO_EXACT_MAX_N`, `Fast` above.
    #[default]
    Auto,
    /// Proven optimum (`optimal: true`).
    Exact,
    /// Certified to be within [`FAST_GAP_TARGET`] of the optimum (often exact, then `optimal: true`).
    Fast,
    /// Dense `pathfinding::kuhn_munkres` reference, O(n³) time and `8 n m` bytes; cancel is only
    /// polled before it starts. Refused above [`HUNGARIAN_MAX_ENTRIES`].
    Hungarian,
}

/// Result of [`assign`].
#[derive(Clone, Debug, PartialEq)]
pub struct GridAssignment {
    pub shape: GridShape,
    /// `[col, row]` of the cell given to each input point (all distinct).
    pub cells: Vec<[u32; 2]>,
    /// Sum of squared distances between normalised points and their cell centres (frame units).
    pub cost: f64,
    /// `true` when optimality is proven (dual certificate over all point-cell pairs, or Hungarian).
    pub optimal: bool,
    /// Proven lower bound on the optimal cost (equals `cost` up to rounding when `optimal`).
    pub lower_bound: f64,
}

/// Errors of [`assign`].
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum GridError {
    #[error("cancelled")]
    Cancelled,
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

pub(crate) fn is_cancelled(cancel: Option<&AtomicBool>) -> bool {
    cancel.is_some_and(|c| c.load(Ordering::Relaxed))
}

/// Internal result of a solver: cell index (row-major) per point, plus certificate data.
pub(crate) struct Solution {
    pub cell_of: Vec<u32>,
    pub optimal: bool,
    /// Proven lower bound on the optimal *integer* cost, in integer cost units.
    pub lower_bound_int: i128,
}

/// Snap `points` onto `shape`: each point gets a distinct cell, minimising the total squared
/// distance between the (normalised, see module docs) points and their cell centres.
///
/// Errors: `InvalidInput` for non-finite coordinates, a grid with fewer cells than points, or a
/// problem too large for the chosen solver; `Cancelled` when `cancel` becomes `true` (polled
/// regularly). Never panics.
pub fn assign(
    points: &[[f64; 2]],
    shape: GridShape,
    solver: Solver,
    cancel: Option<&AtomicBool>,
) -> Result<GridAssignment, GridError> {
    let prob = problem::Problem::new(points, shape)?;
    if is_cancelled(cancel) {
        return Err(GridError::Cancelled);
    }
    let n = prob.n;
    let sol = if n == 0 {
        Solution {
            cell_of: Vec::new(),
            optimal: true,
            lower_bound_int: 0,
        }
    } else {
        match solver {
            Solver::Exact => exact::solve(&prob, cancel)?,
            Solver::Fast => fast::solve(&prob, FAST_GAP_TARGET, cancel)?,
            Solver::Auto if n <= AUTO_EXACT_MAX_N => exact::solve(&prob, cancel)?,
            Solver::Auto => fast::solve(&prob, FAST_GAP_TARGET, cancel)?,
            Solver::Hungarian => hungarian::solve(&prob, cancel)?,
        }
    };
    let (cost, cells) = prob.report(&sol.cell_of)?;
    let h2 = shape.pitch() * shape.pitch();
    let lower_bound = (sol.lower_bound_int as f64 / prob.scale * h2).min(cost);
    Ok(GridAssignment {
        shape,
        cells,
        cost,
        optimal: sol.optimal,
        lower_bound: if sol.optimal { cost } else { lower_bound },
    })
}

/// The points as [`assign`] sees them: normalised into the frame of [`GridShape::cell_position`].
pub fn normalized_points(
    points: &[[f64; 2]],
    shape: GridShape,
) -> Result<Vec<[f64; 2]>, GridError> {
    let prob = problem::Problem::new(points, shape)?;
    let h = shape.pitch();
    let [ox, oy] = shape.origin();
    Ok((0..prob.n)
        .map(|i| [ox + prob.px[i] * h, oy + prob.py[i] * h])
        .collect())
}
