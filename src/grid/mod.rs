//! Snap a 2-D layout (t-SNE output) onto a `rows x cols` grid: every point gets its own cell and the
//! total squared distance is minimal (exact, certified), or within a certified bound (fast mode);
//! [`refine`] then sorts the snapped grid by the images' features (the default grid:
//! [`assign_sorted`]); [`grow`] gives new images cells in a solved grid, keeping the old ones in
//! place.

use std::sync::atomic::{AtomicBool, Ordering};

mod auction;
mod exact;
pub mod extend;
mod fast;
mod hungarian;
mod multiscale;
pub(crate) mod problem;
mod pyramid;
pub mod refine;
mod shape;

pub use extend::{grow, grow_with, GridGrowth, GrowParams};
pub use refine::{affinities, RefineParams, Refinement};

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

/// How a grid is made: the snap's solver, then — the default — the neighbour sort by the
/// images' features ([`refine`]), where the features are at hand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridMethod {
    pub solver: Solver,
    /// `None`: the snap alone (`--solver exact` and the other plain solvers).
    pub sort: Option<RefineParams>,
}

impl Default for GridMethod {
    fn default() -> Self {
        GridMethod {
            solver: Solver::Auto,
            sort: Some(RefineParams::default()),
        }
    }
}

impl GridMethod {
    /// The snap alone, with `solver`.
    pub fn snap(solver: Solver) -> Self {
        GridMethod { solver, sort: None }
    }
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

impl GridAssignment {
    /// The cells as `[col, row]` points (e.g. to measure how well the grid keeps neighbours).
    pub fn cell_points(&self) -> Vec<[f32; 2]> {
        self.cells
            .iter()
            .map(|c| [c[0] as f32, c[1] as f32])
            .collect()
    }
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
    cancel.is_some_and(|c| {
        poll_hook::polled(c);
        c.load(Ordering::Relaxed)
    })
}

/// Test hook: count the solvers' polls of a cancel flag and set the flag at a chosen poll, so
/// a test cancels a solve in its middle without racing a thread against it. Off (one relaxed
/// load per poll) unless a test arms it.
#[doc(hidden)]
pub mod poll_hook {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    /// `(flag address, polls so far, poll at which to set the flag)`.
    static ARMED: Mutex<Vec<(usize, u64, u64)>> = Mutex::new(Vec::new());
    static ANY: AtomicBool = AtomicBool::new(false);

    /// Count the polls of `flag` from now on, and set it at poll number `cancel_at` (1-based;
    /// `u64::MAX`: only count). The flag must outlive the arming ([`disarm`] it after).
    pub fn arm(flag: &AtomicBool, cancel_at: u64) {
        let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
        let key = flag as *const AtomicBool as usize;
        armed.retain(|a| a.0 != key);
        armed.push((key, 0, cancel_at));
        ANY.store(true, Ordering::SeqCst);
    }

    /// Stop counting `flag`; returns how often it was polled.
    pub fn disarm(flag: &AtomicBool) -> u64 {
        let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
        let key = flag as *const AtomicBool as usize;
        let polls = armed.iter().find(|a| a.0 == key).map_or(0, |a| a.1);
        armed.retain(|a| a.0 != key);
        ANY.store(!armed.is_empty(), Ordering::SeqCst);
        polls
    }

    pub(super) fn polled(flag: &AtomicBool) {
        if !ANY.load(Ordering::Relaxed) {
            return;
        }
        let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
        let key = flag as *const AtomicBool as usize;
        if let Some(a) = armed.iter_mut().find(|a| a.0 == key) {
            a.1 += 1;
            if a.1 == a.2 {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Internal result of a solver: cell index (row-major) per point, plus certificate data.
pub(crate) struct Solution {
    pub cell_of: Vec<u32>,
    pub optimal: bool,
    /// Proven lower bound on the optimal *integer* cost, in integer cost units.
    pub lower_bound_int: i128,
}

/// Snap `points` onto `shape`: each point gets a distinct cell, minimising the total squared
/// distance between the normalised points and their cell centres.
///
/// Errors: `InvalidInput` for non-finite coordinates, a grid with fewer cells than points, or a
/// problem too large for the chosen solver; `Cancelled` when `cancel` becomes `true` (polled
/// regularly, at least every few milliseconds). Never panics.
///
/// # Frame and normalisation
/// Points are normalised **per axis** by min-max onto the extent of the cell centres, so the layout
/// always fills the grid (a wide grid is filled by a stretched, wide layout). Cells are square: the
/// cell centres are `GridShape::cell_position` = `origin + (col, row) * pitch` with
/// `pitch = 1 / (max(cols, rows) - 1)`, the longer side spanning `[0, 1]` and the shorter one centred.
/// For a square grid this is the usual `(col / (cols - 1), row / (rows - 1))` in the unit square.
/// An axis on which all points are equal is put in the middle of the grid. Costs are squared
/// Euclidean distances in this frame (so isotropic on screen, where cells are square).
///
/// # Solvers
/// * [`Solver::Exact`]: proven optimum (`optimal: true`).
/// * [`Solver::Fast`]: the same pipeline stopped after the first ε phase whose certified gap
///   (cost / proven lower bound - 1) is at most [`FAST_GAP_TARGET`]; `lower_bound` is reported.
/// * [`Solver::Auto`]: `Exact` for `n <= AUTO_EXACT_MAX_N`, `Fast` above.
/// * [`Solver::Hungarian`]: `pathfinding::kuhn_munkres` on the dense integer cost matrix (reference).
///
/// # Algorithm (Exact / Fast)
/// All solvers minimise the same integer costs `round(S d²)` (d in grid units, `S` a power of two,
/// see `problem`), so "exact" means the exact optimum of that integer problem, which is the float
/// optimum to within float rounding (each cost is rounded by at most `0.5 / S`: ~1e-10 cell² on a
/// 100 x 100 grid, ~4e-9 cell² on 224 x 224).
/// 1. The rectangular problem (n points, m >= n cells) is made square with `m - n` dummy points of
///    cost 0; the cells they take are the empty cells, which therefore end up wherever no point
///    wants to be (margins and cluster borders), not as a ragged last row. The dummies bid as one
///    group (see `auction`), which avoids price wars among these identical persons.
/// 2. ε-scaling forward auction (Bertsekas), Gauss-Seidel, on costs scaled by `M = m + 1`, ε divided
///    by 6 per phase down to ε = 1; with ε = 1 the final assignment is optimal (m ε < M).
/// 3. Each point (or group of identical points) bids from a short candidate list: its cells with
///    the smallest `cost + price`, found exactly by branch and bound on a min-price quadtree whose
///    node bounds include a fitted price tilt (`pyramid`), plus a threshold (the next value), which
///    stays a lower bound for all other cells because prices only rise; the list is rebuilt when a
///    bid could otherwise violate ε-complementary slackness against some cell outside it.
/// 4. Multiscale warm start (`multiscale`): a Hilbert-stratified quarter of the points is solved on
///    a half-resolution grid (recursively), and its prices, interpolated, start the fine auction at
///    ε = 1.5 cell² instead of from zero prices.
/// 5. Certificate (`exact::certify`): for the final prices, `u_i = min_j (c'_ij + p_j)` is computed
///    for every point over **all** cells (branch and bound with exact integer lower bounds on a
///    fresh quadtree, independent of the auction's lists); `gap = sum_i (paid_i - u_i)` bounds
///    `cost - OPT` by weak duality, and `gap < M` proves optimality. Otherwise `optimal` is false.
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

/// The default grid: [`assign`] (the snap), then [`refine::refine`] by the feature affinities
/// `p` (from [`affinities`], one row per point), so that similar images sit in nearby cells.
/// The result's `cost` is the snap cost of the sorted cells (higher than the snap's), `optimal`
/// is false unless nothing moved, and `lower_bound` is the snap's. `on_sweep(sweep, moves)`
/// reports the sort's progress. Errors as [`assign`] and [`refine::refine`].
pub fn assign_sorted(
    points: &[[f64; 2]],
    shape: GridShape,
    solver: Solver,
    p: &crate::tsne::affinity::SparseP,
    params: &RefineParams,
    cancel: Option<&AtomicBool>,
    on_sweep: &mut dyn FnMut(usize, usize),
) -> Result<(GridAssignment, Refinement), GridError> {
    let snapped = assign(points, shape, solver, cancel)?;
    let sorted = refine::refine(p, shape, &snapped.cells, params, cancel, on_sweep)?;
    let prob = problem::Problem::new(points, shape)?;
    let cell_of: Vec<u32> = sorted
        .cells
        .iter()
        .map(|c| c[1] * shape.cols as u32 + c[0])
        .collect();
    let (cost, cells) = prob.report(&cell_of)?;
    let unchanged = cells == snapped.cells;
    Ok((
        GridAssignment {
            shape,
            cells,
            cost,
            optimal: snapped.optimal && unchanged,
            lower_bound: snapped.lower_bound,
        },
        sorted,
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_measured_in_the_cell_position_frame() {
        let pts = [[3.0, 1.0], [-1.0, 2.0], [0.5, 0.0], [2.0, 2.0], [0.0, 1.5]];
        let shape = GridShape { cols: 3, rows: 2 };
        let a = assign(&pts, shape, Solver::Exact, None).unwrap();
        let norm = normalized_points(&pts, shape).unwrap();
        let sum: f64 = a
            .cells
            .iter()
            .zip(&norm)
            .map(|(&[c, r], q)| {
                let g = shape.cell_position(c as usize, r as usize);
                (g[0] - q[0]).powi(2) + (g[1] - q[1]).powi(2)
            })
            .sum();
        assert!((a.cost - sum).abs() < 1e-12, "{} vs {sum}", a.cost);
        // The normalised layout spans the cell centres' extent on both axes.
        let xs: Vec<f64> = norm.iter().map(|q| q[0]).collect();
        let ys: Vec<f64> = norm.iter().map(|q| q[1]).collect();
        let lo = shape.cell_position(0, 0);
        let hi = shape.cell_position(2, 1);
        assert_eq!(xs.iter().copied().fold(f64::INFINITY, f64::min), lo[0]);
        assert_eq!(xs.iter().copied().fold(f64::NEG_INFINITY, f64::max), hi[0]);
        assert_eq!(ys.iter().copied().fold(f64::INFINITY, f64::min), lo[1]);
        assert!((ys.iter().copied().fold(f64::NEG_INFINITY, f64::max) - hi[1]).abs() < 1e-15);
        assert!(a.optimal && a.lower_bound == a.cost);
    }

    #[test]
    fn hungarian_refuses_huge_matrices() {
        let pts = vec![[0.0, 0.0]; 20_000];
        let r = assign(
            &pts,
            GridShape::for_count(20_000, 1.0),
            Solver::Hungarian,
            None,
        );
        assert!(matches!(r, Err(GridError::InvalidInput(_))));
    }
}
