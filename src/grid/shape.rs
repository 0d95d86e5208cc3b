//! Grid shape selection (`GridShape::for_count`) and the cell-centre frame (`cell_position`).
//! The rule: the tight shape (no removable row or column) whose width/height is closest to the requested aspect.

use super::GridShape;

impl GridShape {
    /// Total number of cells, `None` if `cols * rows` overflows `usize`.
    pub fn cells(&self) -> Option<usize> {
        self.cols.checked_mul(self.rows)
    }

    /// Pick a grid for `n` points at the requested `aspect` (= cols / rows, e.g. `1.0`, `16.0 / 9.0`).
    ///
    /// Rule (documented and tested):
    /// 1. Only *tight* shapes are candidates: `rows == ceil(n / cols)` and `cols == ceil(n / rows)`.
    ///    So `rows * cols >= n` and there are fewer empty cells than one row **and** one column
    ///    (`rows*cols - n < min(rows, cols)`): no empty row or column is ever added.
    /// 2. Among them, take the one minimising `|ln(cols / rows) - ln(aspect)|` (closest aspect,
    ///    measured symmetrically: 2:1 and 1:2 are equally far from 1:1).
    /// 3. Ties: fewer empty cells, then more columns.
    ///
    /// `n == 0` gives `0 x 0`. A non-finite or non-positive `aspect` is treated as `1.0`.
    /// Runs in O(log n) (the aspect of tight shapes grows monotonically with `cols`, so the best is
    /// one of the two tight shapes around the crossing point).
    pub fn for_count(n: usize, aspect: f64) -> GridShape {
        if n == 0 {
            return GridShape { cols: 0, rows: 0 };
        }
        let aspect = if aspect.is_finite() && aspect > 0.0 {
            aspect
        } else {
            1.0
        };
        let rows_for = |cols: usize| n.div_ceil(cols);
        let ratio = |cols: usize| cols as f64 / rows_for(cols) as f64;
        // Largest cols in [1, n] with ratio(cols) <= aspect (ratio is strictly increasing in cols).
        let c0 = if ratio(1) > aspect {
            None
        } else {
            let (mut lo, mut hi) = (1usize, n); // ratio(lo) <= aspect
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if ratio(mid) <= aspect {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            Some(lo)
        };
        let tighten = |cols: usize| {
            let rows = rows_for(cols);
            GridShape {
                cols: n.div_ceil(rows),
                rows,
            }
        };
        let mut candidates = Vec::with_capacity(2);
        match c0 {
            None => candidates.push(tighten(1)),
            Some(c) => {
                candidates.push(tighten(c));
                if c < n {
                    candidates.push(tighten(c + 1));
                }
            }
        }
        let target = aspect.ln();
        let key = |s: &GridShape| {
            let err = ((s.cols as f64 / s.rows as f64).ln() - target).abs();
            (err, s.cols * s.rows - n, std::cmp::Reverse(s.cols))
        };
        let mut best = candidates[0];
        for s in candidates.into_iter().skip(1) {
            let (a, b) = (key(&s), key(&best));
            if a.0 < b.0 || (a.0 == b.0 && (a.1, a.2) < (b.1, b.2)) {
                best = s;
            }
        }
        best
    }

    /// Distance between neighbouring cell centres in the normalised frame:
    /// `1 / (max(cols, rows) - 1)`, or `1.0` when the grid has a single cell per axis.
    pub fn pitch(&self) -> f64 {
        let longest = self.cols.max(self.rows);
        if longest > 1 {
            1.0 / (longest - 1) as f64
        } else {
            1.0
        }
    }

    /// Offset of cell (0, 0) in the normalised frame: the grid is centred in the unit square.
    pub(crate) fn origin(&self) -> [f64; 2] {
        let h = self.pitch();
        let off = |k: usize| {
            if k > 1 {
                0.5 * (1.0 - (k - 1) as f64 * h)
            } else {
                0.5
            }
        };
        [off(self.cols), off(self.rows)]
    }

    /// Centre of cell (`col`, `row`) in the normalised frame.
    ///
    /// Cells are square (the frame respects the aspect): the pitch is `h = 1 / (max(cols, rows) - 1)`,
    /// the longer side spans `[0, 1]` and the shorter side is centred in `[0, 1]`. For a square grid
    /// this is exactly `(col / (cols - 1), row / (rows - 1))`; a single column or row sits at `0.5`.
    /// Row 0 is at the smallest y (the same orientation as the input points).
    pub fn cell_position(&self, col: usize, row: usize) -> [f64; 2] {
        let h = self.pitch();
        let [ox, oy] = self.origin();
        [ox + col as f64 * h, oy + row as f64 * h]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule, by brute force over every cols in 1..=n.
    fn brute(n: usize, aspect: f64) -> GridShape {
        let mut best: Option<(f64, usize, usize, GridShape)> = None;
        for cols in 1..=n {
            let rows = n.div_ceil(cols);
            if n.div_ceil(rows) != cols {
                continue; // not tight
            }
            let err = ((cols as f64 / rows as f64).ln() - aspect.ln()).abs();
            let k = (
                err,
                cols * rows - n,
                usize::MAX - cols,
                GridShape { cols, rows },
            );
            if best.is_none_or(|b| (k.0, k.1, k.2) < (b.0, b.1, b.2)) {
                best = Some(k);
            }
        }
        best.map(|b| b.3).unwrap_or(GridShape { cols: 0, rows: 0 })
    }

    #[test]
    fn matches_brute_force() {
        for n in 1..=400 {
            for &a in &[1.0, 16.0 / 9.0, 9.0 / 16.0, 4.0 / 3.0, 2.0, 0.37, 1e-6, 1e6] {
                assert_eq!(GridShape::for_count(n, a), brute(n, a), "n={n} aspect={a}");
            }
        }
    }

    #[test]
    fn known_shapes() {
        let s = |n, a| GridShape::for_count(n, a);
        assert_eq!(s(0, 1.0), GridShape { cols: 0, rows: 0 });
        assert_eq!(s(1, 1.0), GridShape { cols: 1, rows: 1 });
        assert_eq!(s(2, 1.0), GridShape { cols: 2, rows: 1 });
        assert_eq!(s(1024, 1.0), GridShape { cols: 32, rows: 32 });
        assert_eq!(
            s(10000, 1.0),
            GridShape {
                cols: 100,
                rows: 100
            }
        );
        assert_eq!(
            s(10001, 1.0),
            GridShape {
                cols: 101,
                rows: 100
            }
        );
        assert_eq!(s(1000, 16.0 / 9.0), GridShape { cols: 42, rows: 24 });
        assert_eq!(s(7, 1e9), GridShape { cols: 7, rows: 1 });
        assert_eq!(s(7, 0.0), s(7, 1.0));
        assert_eq!(s(7, f64::NAN), s(7, 1.0));
    }

    #[test]
    fn tight_and_few_empty_cells() {
        for n in 1..2000 {
            let g = GridShape::for_count(n, 1.0);
            let cells = g.cols * g.rows;
            assert!(cells >= n);
            assert!(cells - n < g.cols.min(g.rows), "n={n} {g:?}");
        }
        let g = GridShape::for_count(usize::MAX / 3, 1.0);
        assert!(g.cells().is_some_and(|c| c >= usize::MAX / 3));
    }

    #[test]
    fn positions_respect_aspect() {
        let sq = GridShape { cols: 5, rows: 5 };
        assert_eq!(sq.cell_position(0, 0), [0.0, 0.0]);
        assert_eq!(sq.cell_position(4, 2), [1.0, 0.5]);
        let wide = GridShape { cols: 5, rows: 3 };
        let a = wide.cell_position(0, 0);
        let b = wide.cell_position(1, 1);
        assert!(
            ((b[0] - a[0]) - (b[1] - a[1])).abs() < 1e-15,
            "square cells"
        );
        assert_eq!(wide.cell_position(4, 2), [1.0, 0.75]);
        assert_eq!(
            GridShape { cols: 1, rows: 1 }.cell_position(0, 0),
            [0.5, 0.5]
        );
        assert_eq!(
            GridShape { cols: 3, rows: 1 }.cell_position(1, 0),
            [0.5, 0.5]
        );
    }
}
