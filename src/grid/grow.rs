//! Growing a solved grid: new images get cells while the old ones keep theirs as far as possible.
//!
//! The previous assignment is the warm start. When the grid has no room left it grows (to a tight
//! shape for the new count plus [`GROW_HEADROOM`], at the requested aspect) and every old cell is
//! carried to the cell nearest its old position in the frame (an injective rounding, so the map
//! keeps its arrangement and the new empty cells are spread through it). Each new image is then
//! placed by an exact local re-solve: the smallest square window around its point that holds an
//! empty cell (at least [`MIN_RADIUS`] cells around it) is re-assigned optimally (dense Hungarian)
//! among the images in it plus the new one, with a small penalty for moving an old image, so old
//! images move only when that clearly lowers the cost. Everything outside the window stays put.

use std::sync::atomic::AtomicBool;

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

use super::problem::Problem;
use super::{assign, is_cancelled, GridAssignment, GridError, GridShape, Solver};

/// When the grid is full it grows to hold this share more images than it must.
pub const GROW_HEADROOM: f64 = 0.1;
/// Smallest window radius (cells) of the local re-solve.
pub const MIN_RADIUS: usize = 1;
/// Largest window radius; beyond it the new image takes the nearest empty cell directly.
pub const MAX_RADIUS: usize = 8;
/// Cost (grid units²) an old image must save before it is moved to another cell.
pub const MOVE_PENALTY: f64 = 0.5;

/// Result of [`grow`].
#[derive(Clone, Debug, PartialEq)]
pub struct GridGrowth {
    /// The assignment of all points (old first, as given); `optimal` is false (local re-solve).
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
    let grew = n > capacity;
    let shape = if grew {
        let target = n + ((n as f64 * GROW_HEADROOM).ceil() as usize).max(1);
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
    const FREE: u32 = u32::MAX;
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
    if let Some(i) = points
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(GridError::InvalidInput(format!(
            "point {i} is not finite: {:?}",
            points[i]
        )));
    }
    let axis = |k: usize, cells: usize| -> Vec<f64> {
        let (lo, hi) = points[..n_old]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p[k]), hi.max(p[k]))
            });
        let extent = cells.saturating_sub(1) as f64;
        points
            .iter()
            .map(|p| {
                if hi <= lo {
                    extent * 0.5
                } else {
                    ((p[k] - lo) / (hi - lo) * extent).clamp(0.0, extent)
                }
            })
            .collect()
    };
    let px = axis(0, cols);
    let py = axis(1, rows);

    let cost = |i: usize, j: usize| -> f64 {
        let (c, r) = ((j % cols) as f64, (j / cols) as f64);
        let d = (px[i] - c).powi(2) + (py[i] - r).powi(2);
        if i < n_old && j as u32 != carried[i] {
            d + MOVE_PENALTY
        } else {
            d
        }
    };
    const SCALE: f64 = (1u64 << 24) as f64;

    for i in n_old..n {
        if is_cancelled(cancel) {
            return Err(GridError::Cancelled);
        }
        let (c0, r0) = (
            (px[i].round() as usize).min(cols - 1),
            (py[i].round() as usize).min(rows - 1),
        );
        let window = |rad: usize| {
            let (ca, cb) = (c0.saturating_sub(rad), (c0 + rad).min(cols - 1));
            let (ra, rb) = (r0.saturating_sub(rad), (r0 + rad).min(rows - 1));
            (ra..=rb).flat_map(move |r| (ca..=cb).map(move |c| r * cols + c))
        };
        let mut rad = MIN_RADIUS;
        while rad < MAX_RADIUS && !window(rad).any(|j| owner[j] == FREE) {
            rad += 1;
        }
        let cells: Vec<usize> = window(rad).collect();
        if !cells.iter().any(|&j| owner[j] == FREE) {
            // Nothing free nearby: the nearest empty cell, nobody else moves.
            let j = (0..m)
                .filter(|&j| owner[j] == FREE)
                .min_by(|&a, &b| cost(i, a).total_cmp(&cost(i, b)))
                .ok_or_else(|| GridError::InvalidInput("internal: no free cell".into()))?;
            owner[j] = i as u32;
            cell_of[i] = j as u32;
            continue;
        }
        let mut persons: Vec<usize> = cells
            .iter()
            .filter(|&&j| owner[j] != FREE)
            .map(|&j| owner[j] as usize)
            .collect();
        persons.push(i);
        let mut w = Vec::with_capacity(persons.len() * cells.len());
        for &p in &persons {
            w.extend(
                cells
                    .iter()
                    .map(|&j| -((cost(p, j) * SCALE).round() as i64)),
            );
        }
        let w = Matrix::from_vec(persons.len(), cells.len(), w)
            .map_err(|e| GridError::InvalidInput(format!("internal: {e:?}")))?;
        let (_, pick) = kuhn_munkres(&w);
        for &j in &cells {
            owner[j] = FREE;
        }
        for (&p, &t) in persons.iter().zip(&pick) {
            let j = cells[t];
            owner[j] = p as u32;
            cell_of[p] = j as u32;
        }
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
            GridShape::for_count(240, 1.0),
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
