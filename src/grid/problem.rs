//! The assignment instance in grid units: normalised point coordinates (cell `(c, r)` sits at the
//! integer point `(c, r)`) and the exact integer cost model `round(S * d²)` shared by all solvers.

use super::{GridError, GridShape};

/// Normalised instance. Cell index `j = r * cols + c`.
pub(crate) struct Problem {
    pub cols: usize,
    pub rows: usize,
    /// Number of points.
    pub n: usize,
    /// Number of cells (`>= n`, `< 2^31`).
    pub m: usize,
    /// Point coordinates in grid units, within `[0, cols-1] x [0, rows-1]`.
    pub px: Vec<f64>,
    pub py: Vec<f64>,
    /// Integer cost scale `S` (a power of two): `cost(i, j) = round(S * d²(i, j))`.
    pub scale: f64,
    /// Upper bound on any integer cost.
    pub max_cost: i64,
}

/// Integer costs are kept below this, so that solvers may multiply them by `m + 1` and add prices.
const COST_BUDGET: f64 = (1u64 << 52) as f64;
const SCALED_BUDGET: f64 = (1u64 << 58) as f64;

/// Points in grid units: each axis scaled so that the extent of the first `frame` points spans
/// the cell centres `0 ..= cells - 1` (points outside that extent are clamped to it; a
/// degenerate axis goes to the middle). Non-finite points are an error.
pub(crate) fn grid_units(
    points: &[[f64; 2]],
    frame: usize,
    cols: usize,
    rows: usize,
) -> Result<(Vec<f64>, Vec<f64>), GridError> {
    if let Some(i) = points
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(GridError::InvalidInput(format!(
            "point {i} is not finite: {:?}",
            points[i]
        )));
    }
    let framing = &points[..frame.min(points.len())];
    let axis = |k: usize, cells: usize| -> Vec<f64> {
        let (lo, hi) = framing
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p[k]), hi.max(p[k]))
            });
        let extent = cells.saturating_sub(1) as f64;
        if hi <= lo {
            return vec![extent * 0.5; points.len()];
        }
        // Halves keep the range finite even for coordinates near f64::MAX.
        let range = 0.5 * hi - 0.5 * lo;
        points
            .iter()
            .map(|p| ((0.5 * p[k] - 0.5 * lo) / range * extent).clamp(0.0, extent))
            .collect()
    };
    Ok((axis(0, cols), axis(1, rows)))
}

impl Problem {
    pub fn new(points: &[[f64; 2]], shape: GridShape) -> Result<Problem, GridError> {
        let n = points.len();
        let m = shape
            .cells()
            .ok_or_else(|| GridError::InvalidInput(format!("grid {shape:?} overflows")))?;
        if m < n {
            return Err(GridError::InvalidInput(format!(
                "grid {}x{} has {m} cells for {n} points",
                shape.cols, shape.rows
            )));
        }
        if m >= (1usize << 31) {
            return Err(GridError::InvalidInput(format!(
                "grid too large: {m} cells"
            )));
        }
        let (px, py) = grid_units(points, n, shape.cols, shape.rows)?;
        Ok(Problem::from_grid_units(shape.cols, shape.rows, px, py))
    }

    /// Instance from coordinates already in grid units (`cols * rows >= px.len()`, checked by caller).
    pub fn from_grid_units(cols: usize, rows: usize, px: Vec<f64>, py: Vec<f64>) -> Problem {
        let (n, m) = (px.len(), cols * rows);
        let wx = cols.saturating_sub(1) as f64;
        let wy = rows.saturating_sub(1) as f64;
        // Points lie within the cell centres' extent (coarse levels: within half a cell of it).
        let max_d2 = (wx + 1.0) * (wx + 1.0) + (wy + 1.0) * (wy + 1.0);
        // Largest power of two S with S * max_d2 <= COST_BUDGET and S * max_d2 * (m + 1) <= SCALED_BUDGET.
        let limit = (COST_BUDGET / max_d2).min(SCALED_BUDGET / (max_d2 * (m as f64 + 1.0)));
        let scale = 2f64.powi(limit.log2().floor() as i32);
        let max_cost = (scale * max_d2).ceil() as i64;
        Problem {
            cols,
            rows,
            n,
            m,
            px,
            py,
            scale,
            max_cost,
        }
    }

    /// Integer cost of point `i` to cell `(c, r)`: `round(S * (dx² + dy²))` (monotone in `d²`).
    #[inline(always)]
    pub fn cost(&self, i: usize, c: usize, r: usize) -> i64 {
        let dx = self.px[i] - c as f64;
        let dy = self.py[i] - r as f64;
        (self.scale * (dx * dx + dy * dy) + 0.5) as i64
    }

    #[cfg(test)]
    /// Lower bound of `cost(i, c, r)` over every `c` of row `r` (rounding is monotone and
    /// `fl(dx² + dy²) >= dy²`, so this is exact, not approximate).
    #[inline(always)]
    pub fn row_lower_bound(&self, i: usize, r: usize) -> i64 {
        let dy = self.py[i] - r as f64;
        (self.scale * (dy * dy) + 0.5) as i64
    }

    /// Frame cost and `[col, row]` cells of an assignment (cell index per point); checks it.
    pub fn report(&self, cell_of: &[u32]) -> Result<(f64, Vec<[u32; 2]>), GridError> {
        if cell_of.len() != self.n {
            return Err(GridError::InvalidInput(
                "internal: wrong assignment length".into(),
            ));
        }
        let mut used = vec![false; self.m];
        let mut cells = Vec::with_capacity(self.n);
        let mut sum = 0.0;
        for (i, &j) in cell_of.iter().enumerate() {
            let j = j as usize;
            if j >= self.m || std::mem::replace(&mut used[j], true) {
                return Err(GridError::InvalidInput(
                    "internal: assignment is not a bijection".into(),
                ));
            }
            let (c, r) = (j % self.cols, j / self.cols);
            let dx = self.px[i] - c as f64;
            let dy = self.py[i] - r as f64;
            sum += dx * dx + dy * dy;
            cells.push([c as u32, r as u32]);
        }
        let h = GridShape {
            cols: self.cols,
            rows: self.rows,
        }
        .pitch();
        Ok((sum * h * h, cells))
    }

    #[cfg(test)]
    /// Total integer cost of an assignment.
    pub fn int_cost(&self, cell_of: &[u32]) -> i128 {
        cell_of
            .iter()
            .enumerate()
            .map(|(i, &j)| {
                let j = j as usize;
                self.cost(i, j % self.cols, j / self.cols) as i128
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_per_axis_into_grid_units() {
        let pts = [[-2.0, 10.0], [2.0, 30.0], [0.0, 20.0]];
        let p = Problem::new(&pts, GridShape { cols: 5, rows: 3 }).unwrap();
        assert_eq!(p.px, vec![0.0, 4.0, 2.0]);
        assert_eq!(p.py, vec![0.0, 2.0, 1.0]);
        assert_eq!(p.cost(2, 2, 1), 0);
        assert_eq!(p.cost(0, 1, 0), p.scale as i64);
    }

    #[test]
    fn degenerate_axes_and_extremes() {
        let pts = [[1.0, 5.0], [1.0, 5.0]];
        let p = Problem::new(&pts, GridShape { cols: 2, rows: 3 }).unwrap();
        assert_eq!(p.px, vec![0.5, 0.5]);
        assert_eq!(p.py, vec![1.0, 1.0]);
        let big = [[f64::MAX, -f64::MAX], [-f64::MAX, f64::MAX]];
        let p = Problem::new(&big, GridShape { cols: 2, rows: 1 }).unwrap();
        assert_eq!(p.px, vec![1.0, 0.0]);
    }

    #[test]
    fn rejects_bad_input() {
        let g = GridShape { cols: 2, rows: 2 };
        assert!(Problem::new(&[[f64::NAN, 0.0]], g).is_err());
        assert!(Problem::new(&[[0.0, f64::INFINITY]], g).is_err());
        assert!(Problem::new(&[[0.0, 0.0]; 5], g).is_err());
        let huge = GridShape {
            cols: usize::MAX,
            rows: 2,
        };
        assert!(Problem::new(&[[0.0, 0.0]], huge).is_err());
    }

    #[test]
    fn row_bound_is_a_lower_bound() {
        let pts: Vec<[f64; 2]> = (0..50)
            .map(|i| [(i * 37 % 11) as f64 * 0.37, (i * 13 % 7) as f64 * 1.3])
            .collect();
        let p = Problem::new(&pts, GridShape { cols: 8, rows: 7 }).unwrap();
        for i in 0..p.n {
            for r in 0..p.rows {
                for c in 0..p.cols {
                    assert!(p.row_lower_bound(i, r) <= p.cost(i, c, r));
                }
            }
        }
    }
}
