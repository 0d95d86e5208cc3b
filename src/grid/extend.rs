//! Growing a solved grid: new images get cells while the old ones keep theirs as far as possible.
//!
//! The previous assignment is the warm start. The grid counts as full while fewer than
//! `GrowParams::min_free` of its cells would stay empty; then it grows (to a tight shape for the
//! count plus `headroom + min_free`, at the requested aspect) and every old cell is carried to the
//! cell nearest its old position in the frame (an injective rounding, so the map keeps its
//! arrangement and the new empty cells are spread through it). Each new image then takes the start
//! of the cheapest *displacement chain*: it takes a cell near its point (`GrowParams::reach`), that
//! cell's image moves at most `GrowParams::step` cells to another cell, whose image moves on, …,
//! until an empty cell is reached. A chain costs the new image's squared distance to its cell plus,
//! per displaced image, the change of its squared distance plus `GrowParams::move_penalty`
//! (floored at 0, so Dijkstra finds the cheapest chain exactly): one augmenting path of a min-cost
//! assignment warm-started from the current one. Only the images on the chain move; the rest of
//! the assignment is kept, so the churn is the chain length.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::AtomicBool;

use super::problem::Problem;
use super::{assign, is_cancelled, GridAssignment, GridError, GridShape, Solver};

/// Settings of [`grow_with`]; [`grow`] uses the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrowParams {
    /// When the grid is full it grows to hold this share more images than it must (default 0.1).
    pub headroom: f64,
    /// The grid counts as full when fewer than this share of its cells would stay empty
    /// (default 0.2): with spare cells everywhere the chains stay short.
    pub min_free: f64,
    /// A new image may take a cell up to this many cells (per axis) from its point (default 4).
    pub reach: usize,
    /// A displaced image moves at most this many cells (per axis) (default 2).
    pub step: usize,
    /// Cost (grid units², i.e. cells²) of displacing an old image, on top of the change of its
    /// squared distance (default 12); a move that brings an image closer by more costs nothing.
    /// (Measured in `bench_grow`: higher means less churn and a looser grid.)
    pub move_penalty: f64,
}

impl Default for GrowParams {
    fn default() -> Self {
        GrowParams {
            headroom: 0.1,
            min_free: 0.2,
            reach: 4,
            step: 2,
            move_penalty: 12.0,
        }
    }
}

/// Result of [`grow`].
#[derive(Clone, Debug, PartialEq)]
pub struct GridGrowth {
    /// The assignment of all points (old first, as given); `optimal` is false (local update).
    pub assignment: GridAssignment,
    /// Whether the grid had to grow.
    pub grew: bool,
    /// Old images whose cell differs from their previous cell carried into the (grown) grid.
    pub changed: usize,
    /// Old images whose `[col, row]` differs from the previous `[col, row]` (when the grid grows
    /// the carried cells are renumbered, so this counts them too).
    pub changed_index: usize,
}

/// Give the points after `previous.cells.len()` (the new ones) cells, keeping the old ones'
/// cells where possible. `points` are the layout points of all images, old first (the frame is
/// the old points' extent per axis, as [`assign`] normalises; new points outside it are clamped).
pub fn grow(
    points: &[[f64; 2]],
    previous: &GridAssignment,
    aspect: f64,
    cancel: Option<&AtomicBool>,
) -> Result<GridGrowth, GridError> {
    grow_with(points, previous, aspect, &GrowParams::default(), cancel)
}

/// [`grow`] with explicit settings.
pub fn grow_with(
    points: &[[f64; 2]],
    previous: &GridAssignment,
    aspect: f64,
    params: &GrowParams,
    cancel: Option<&AtomicBool>,
) -> Result<GridGrowth, GridError> {
    let n_old = previous.cells.len();
    let n = points.len();
    if n < n_old {
        return Err(GridError::InvalidInput(format!(
            "{n} points for a previous assignment of {n_old}"
        )));
    }
    let old_shape = previous.shape;
    if let Some(c) = previous
        .cells
        .iter()
        .find(|c| c[0] as usize >= old_shape.cols || c[1] as usize >= old_shape.rows)
    {
        return Err(GridError::InvalidInput(format!(
            "previous cell {c:?} is outside the {}x{} grid",
            old_shape.cols, old_shape.rows
        )));
    }
    if n_old == 0 {
        let shape = GridShape::for_count(n, aspect);
        let assignment = assign(points, shape, Solver::Auto, cancel)?;
        return Ok(GridGrowth {
            assignment,
            grew: shape != old_shape,
            changed: 0,
            changed_index: 0,
        });
    }
    let capacity = old_shape.cells().unwrap_or(0);
    let grew = n as f64 > capacity as f64 * (1.0 - params.min_free.clamp(0.0, 0.5)) || n > capacity;
    let shape = if grew {
        let spare = params.headroom.max(0.0) + params.min_free.clamp(0.0, 0.5);
        let target = n + ((n as f64 * spare).ceil() as usize).max(1);
        let s = GridShape::for_count(target, aspect);
        // never shrink an axis: carried cells must stay distinct
        GridShape {
            cols: s.cols.max(old_shape.cols),
            rows: s.rows.max(old_shape.rows),
        }
    } else {
        old_shape
    };
    let (cols, rows) = (shape.cols, shape.rows);
    let m = shape
        .cells()
        .filter(|&m| m < (1usize << 31))
        .ok_or_else(|| GridError::InvalidInput(format!("grid {cols}x{rows} is too large")))?;

    // Carry the old cells into the new grid.
    let carry = |v: u32, from: usize, to: usize| -> usize {
        if from <= 1 {
            (to - 1) / 2
        } else {
            ((v as f64) * (to - 1) as f64 / (from - 1) as f64).round() as usize
        }
    };
    let mut owner = vec![FREE; m];
    let mut cell_of = vec![0u32; n];
    for (i, c) in previous.cells.iter().enumerate() {
        let (cc, rr) = (
            carry(c[0], old_shape.cols, cols),
            carry(c[1], old_shape.rows, rows),
        );
        let j = rr * cols + cc;
        if owner[j] != FREE {
            return Err(GridError::InvalidInput(format!(
                "previous assignment gives cell {c:?} twice"
            )));
        }
        owner[j] = i as u32;
        cell_of[i] = j as u32;
    }
    let carried = cell_of[..n_old].to_vec();

    // The frame: old points' extent per axis onto the cell centres (grid units).
    let (px, py) = super::problem::grid_units(points, n_old, cols, rows)?;

    // Each new image: the cheapest chain of displacements that ends in an empty cell (Dijkstra
    // over cells; see the module docs).
    let mut chains = Chains::new(m);
    for i in n_old..n {
        if is_cancelled(cancel) {
            return Err(GridError::Cancelled);
        }
        let path = chains.cheapest(i, &owner, params, cols, rows, &px, &py)?;
        // path[0] is taken by the new image, path[t]'s occupant moves to path[t + 1].
        for t in (1..path.len()).rev() {
            let o = owner[path[t - 1]];
            owner[path[t]] = o;
            cell_of[o as usize] = path[t] as u32;
        }
        owner[path[0]] = i as u32;
        cell_of[i] = path[0] as u32;
    }

    let prob = Problem::from_grid_units(cols, rows, px, py);
    let (cost, cells) = prob.report(&cell_of)?;
    let changed = (0..n_old).filter(|&i| cell_of[i] != carried[i]).count();
    let changed_index = (0..n_old)
        .filter(|&i| cells[i] != previous.cells[i])
        .count();
    Ok(GridGrowth {
        assignment: GridAssignment {
            shape,
            cells,
            cost,
            optimal: false,
            lower_bound: 0.0,
        },
        grew,
        changed,
        changed_index,
    })
}

/// Dijkstra over the cells for displacement chains; buffers are reused between new images.
struct Chains {
    dist: Vec<f64>,
    prev: Vec<u32>,
    touched: Vec<usize>,
    heap: BinaryHeap<(Reverse<u64>, u32)>,
}

const FREE: u32 = u32::MAX;

impl Chains {
    fn new(m: usize) -> Chains {
        Chains {
            dist: vec![f64::INFINITY; m],
            prev: vec![FREE; m],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// The cheapest chain for point `i`: cells from the one the new image takes to the empty one.
    #[allow(clippy::too_many_arguments)]
    fn cheapest(
        &mut self,
        i: usize,
        owner: &[u32],
        params: &GrowParams,
        cols: usize,
        rows: usize,
        px: &[f64],
        py: &[f64],
    ) -> Result<Vec<usize>, GridError> {
        for &j in &self.touched {
            self.dist[j] = f64::INFINITY;
            self.prev[j] = FREE;
        }
        self.touched.clear();
        self.heap.clear();
        let d2 = |p: usize, j: usize| {
            let (c, r) = ((j % cols) as f64, (j / cols) as f64);
            (px[p] - c).powi(2) + (py[p] - r).powi(2)
        };
        // Non-negative f64 order = bit order.
        let key = |d: f64| Reverse(d.to_bits());
        let around = |j: usize, rad: usize| {
            let (c0, r0) = (j % cols, j / cols);
            let (ca, cb) = (c0.saturating_sub(rad), (c0 + rad).min(cols - 1));
            let (ra, rb) = (r0.saturating_sub(rad), (r0 + rad).min(rows - 1));
            (ra..=rb).flat_map(move |r| (ca..=cb).map(move |c| r * cols + c))
        };
        let c0 = (px[i].round().max(0.0) as usize).min(cols - 1);
        let r0 = (py[i].round().max(0.0) as usize).min(rows - 1);
        for j in around(r0 * cols + c0, params.reach.max(1)) {
            let d = d2(i, j);
            self.dist[j] = d;
            self.touched.push(j);
            self.heap.push((key(d), j as u32));
        }
        let step = params.step.max(1);
        let penalty = params.move_penalty.max(0.0);
        while let Some((Reverse(bits), j)) = self.heap.pop() {
            let (d, j) = (f64::from_bits(bits), j as usize);
            if d > self.dist[j] {
                continue;
            }
            let o = owner[j];
            if o == FREE {
                let mut path = vec![j];
                let mut at = j;
                while self.prev[at] != FREE {
                    at = self.prev[at] as usize;
                    path.push(at);
                }
                path.reverse();
                return Ok(path);
            }
            let o = o as usize;
            let here = d2(o, j);
            for k in around(j, step) {
                if k == j {
                    continue;
                }
                let nd = d + (d2(o, k) - here + penalty).max(0.0);
                if nd < self.dist[k] {
                    if self.dist[k].is_infinite() {
                        self.touched.push(k);
                    }
                    self.dist[k] = nd;
                    self.prev[k] = j as u32;
                    self.heap.push((key(nd), k as u32));
                }
            }
        }
        Err(GridError::InvalidInput(
            "internal: no empty cell reachable".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_points(n: usize, seed: u64) -> Vec<[f64; 2]> {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n).map(|_| [next(), next() * 0.6 + 0.2]).collect()
    }

    fn distinct(a: &GridAssignment) -> bool {
        let mut seen = std::collections::HashSet::new();
        a.cells.iter().all(|c| {
            (c[0] as usize) < a.shape.cols && (c[1] as usize) < a.shape.rows && seen.insert(*c)
        })
    }

    #[test]
    fn adds_without_growing_keep_most_cells() {
        let pts = lcg_points(230, 1);
        let base = assign(
            &pts[..200],
            GridShape::for_count(300, 1.0),
            Solver::Exact,
            None,
        )
        .unwrap();
        let g = grow(&pts, &base, 1.0, None).unwrap();
        assert!(!g.grew);
        assert_eq!(g.assignment.shape, base.shape);
        assert_eq!(g.assignment.cells.len(), 230);
        assert!(distinct(&g.assignment));
        assert_eq!(g.changed, g.changed_index);
        // only short chains move: at most two old images per new one
        assert!(g.changed <= 2 * 30, "{} of 200 moved", g.changed);
        // the local re-solve stays close to the global optimum
        let full = assign(&pts, base.shape, Solver::Exact, None).unwrap();
        assert!(
            g.assignment.cost <= full.cost * 1.5,
            "{} vs {}",
            g.assignment.cost,
            full.cost
        );
    }

    #[test]
    fn a_full_grid_grows_at_its_aspect() {
        for aspect in [1.0, 16.0 / 9.0] {
            let pts = lcg_points(300, 2);
            let shape = GridShape::for_count(250, aspect);
            let n0 = shape.cells().unwrap();
            let base = assign(&pts[..n0], shape, Solver::Exact, None).unwrap();
            let g = grow(&pts, &base, aspect, None).unwrap();
            assert!(g.grew);
            let s = g.assignment.shape;
            assert!(s.cells().unwrap() >= 300);
            let ratio = s.cols as f64 / s.rows as f64;
            assert!(
                (ratio / aspect).ln().abs() < 0.15,
                "{s:?} for aspect {aspect}"
            );
            assert!(distinct(&g.assignment));
            assert_eq!(g.assignment.cells.len(), 300);
        }
    }

    #[test]
    fn bad_previous_assignments_are_rejected() {
        let pts = lcg_points(10, 3);
        let mut base = assign(
            &pts[..8],
            GridShape { cols: 3, rows: 3 },
            Solver::Exact,
            None,
        )
        .unwrap();
        assert!(grow(&pts[..5], &base, 1.0, None).is_err());
        base.cells[1] = base.cells[0];
        assert!(grow(&pts, &base, 1.0, None).is_err());
        base.cells[1] = [7, 0];
        assert!(grow(&pts, &base, 1.0, None).is_err());
    }
}
