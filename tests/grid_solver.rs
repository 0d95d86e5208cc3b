//! Integration tests of `grid::assign`: exact optimality against an independent dense
//! `pathfinding::kuhn_munkres` reference on exact integer costs, bijection, determinism, shape rules,
//! robustness on degenerate input, the fast mode's gap, and cancellation.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use image_tsne_live::grid::{assign, poll_hook, GridAssignment, GridError, GridShape, Solver};
use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Raw little-endian f64 (x, y) pairs from `tests/fixtures/grid` (real t-SNE output, see its
/// README); panics with a clear message when the file is missing.
fn load_points(name: &str) -> Vec<[f64; 2]> {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grid")).join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "test fixture {} is missing ({e}); see tests/fixtures/README.md",
            path.display()
        )
    });
    assert_eq!(bytes.len() % 16, 0, "{} is not f64 pairs", path.display());
    bytes
        .chunks_exact(16)
        .map(|c| {
            let f = |b: &[u8]| f64::from_le_bytes(b.try_into().expect("8 bytes"));
            [f(&c[..8]), f(&c[8..])]
        })
        .collect()
}

/// Distinct cells, all inside the grid, one per point.
fn assert_bijection(points: usize, a: &GridAssignment) {
    assert_eq!(a.cells.len(), points);
    let mut seen = vec![false; a.shape.cols * a.shape.rows];
    for &[c, r] in &a.cells {
        assert!(
            (c as usize) < a.shape.cols && (r as usize) < a.shape.rows,
            "cell out of range"
        );
        let j = r as usize * a.shape.cols + c as usize;
        assert!(!seen[j], "cell ({c}, {r}) used twice");
        seen[j] = true;
    }
}

/// A lattice instance whose normalised costs are exact integers (times `(lx * ly)²`).
struct Lattice {
    shape: GridShape,
    lx: i64,
    ly: i64,
    pts: Vec<[i64; 2]>,
}

impl Lattice {
    /// Random points on `[0, lx] x [0, ly]` (duplicates likely), with both extremes present on each
    /// axis so that the per-axis min-max normalisation maps `x` to exactly `x (cols - 1) / lx`.
    fn random(rng: &mut ChaCha8Rng) -> Lattice {
        let cols = rng.random_range(2..=7usize);
        let rows = rng.random_range(2..=7usize);
        let m = cols * rows;
        let n = rng.random_range(2..=m);
        let (lx, ly) = (rng.random_range(1..=6i64), rng.random_range(1..=6i64));
        let mut pts: Vec<[i64; 2]> = (0..n)
            .map(|_| [rng.random_range(0..=lx), rng.random_range(0..=ly)])
            .collect();
        pts[0] = [0, rng.random_range(0..=ly)];
        pts[1] = [lx, rng.random_range(0..=ly)];
        let a = rng.random_range(0..n);
        let b = (a + 1 + rng.random_range(0..n - 1)) % n;
        pts[a][1] = 0;
        pts[b][1] = ly;
        Lattice {
            shape: GridShape { cols, rows },
            lx,
            ly,
            pts,
        }
    }

    fn points(&self) -> Vec<[f64; 2]> {
        self.pts
            .iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect()
    }

    /// Exact cost of point `i` in cell (c, r), in grid units² times `(lx ly)²`.
    fn cost(&self, i: usize, c: usize, r: usize) -> i64 {
        let (cols, rows) = (self.shape.cols as i64, self.shape.rows as i64);
        let dx = (self.pts[i][0] * (cols - 1) - c as i64 * self.lx) * self.ly;
        let dy = (self.pts[i][1] * (rows - 1) - r as i64 * self.ly) * self.lx;
        dx * dx + dy * dy
    }

    /// Optimum by the dense Hungarian reference (independent of the crate's cost model).
    fn reference_optimum(&self) -> i64 {
        let (n, cols) = (self.pts.len(), self.shape.cols);
        let m = cols * self.shape.rows;
        let w = Matrix::from_fn(n, m, |(i, j)| -self.cost(i, j % cols, j / cols));
        -kuhn_munkres(&w).0
    }

    fn cost_of(&self, a: &GridAssignment) -> i64 {
        a.cells
            .iter()
            .enumerate()
            .map(|(i, &[c, r])| self.cost(i, c as usize, r as usize))
            .sum()
    }
}

#[test]
fn exact_matches_kuhn_munkres_on_lattices_with_ties_duplicates_and_empty_cells() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut with_empty = 0;
    for case in 0..300 {
        let lat = Lattice::random(&mut rng);
        let pts = lat.points();
        let best = lat.reference_optimum();
        if pts.len() < lat.shape.cols * lat.shape.rows {
            with_empty += 1;
        }
        for solver in [Solver::Exact, Solver::Auto, Solver::Hungarian] {
            let a = assign(&pts, lat.shape, solver, None).expect("solve");
            assert_bijection(pts.len(), &a);
            assert_eq!(
                lat.cost_of(&a),
                best,
                "case {case} {solver:?}: {:?} lx={} ly={} pts={:?}",
                lat.shape,
                lat.lx,
                lat.ly,
                lat.pts
            );
            assert!(a.optimal, "case {case} {solver:?} not proven optimal");
            // Reported cost is in the frame: grid units² times pitch².
            let h = lat.shape.pitch();
            let expect = best as f64 / ((lat.lx * lat.ly) as f64).powi(2) * h * h;
            assert!(
                (a.cost - expect).abs() <= 1e-9 * expect.max(1e-12),
                "case {case}: cost {} vs {expect}",
                a.cost
            );
        }
    }
    assert!(with_empty > 100, "too few rectangular cases: {with_empty}");
}

#[test]
fn medium_lattices_match_reference() {
    // Larger than the small cases, many ties: 12 x 11 grid, points on a 5 x 5 lattice.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..4 {
        let shape = GridShape { cols: 12, rows: 11 };
        let n = rng.random_range(100..=132);
        let mut pts: Vec<[i64; 2]> = (0..n)
            .map(|_| [rng.random_range(0..=4), rng.random_range(0..=4)])
            .collect();
        pts[0] = [0, 0];
        pts[1] = [4, 4];
        let lat = Lattice {
            shape,
            lx: 4,
            ly: 4,
            pts,
        };
        let a = assign(&lat.points(), shape, Solver::Exact, None).expect("solve");
        assert_bijection(n, &a);
        assert!(a.optimal);
        assert_eq!(lat.cost_of(&a), lat.reference_optimum());
    }
}

#[test]
fn mostly_empty_grids_match_reference() {
    // Many more cells than points (many dummies in the solver): 20..60 points on up to 15 x 12.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..6 {
        let shape = GridShape {
            cols: rng.random_range(9..=15),
            rows: rng.random_range(8..=12),
        };
        let n = rng.random_range(20..=60);
        let (lx, ly) = (rng.random_range(2..=9i64), rng.random_range(2..=9i64));
        let mut pts: Vec<[i64; 2]> = (0..n)
            .map(|_| [rng.random_range(0..=lx), rng.random_range(0..=ly)])
            .collect();
        pts[0] = [0, 0];
        pts[1] = [lx, ly];
        let lat = Lattice { shape, lx, ly, pts };
        for solver in [Solver::Exact, Solver::Fast] {
            let a = assign(&lat.points(), shape, solver, None).expect("solve");
            assert_bijection(n, &a);
            if solver == Solver::Exact {
                assert!(a.optimal);
                assert_eq!(lat.cost_of(&a), lat.reference_optimum());
            }
        }
    }
    // And a large, very empty grid: 300 points on 10 000 cells, against kuhn_munkres.
    let pts: Vec<[f64; 2]> = (0..300).map(|_| [rng.random(), rng.random()]).collect();
    let shape = GridShape {
        cols: 100,
        rows: 100,
    };
    let a = assign(&pts, shape, Solver::Exact, None).expect("exact");
    let h = assign(&pts, shape, Solver::Hungarian, None).expect("hungarian");
    assert!(a.optimal);
    assert!((a.cost - h.cost).abs() <= 1e-9 * h.cost);
}

#[test]
fn real_tsne_1024_exact_equals_hungarian() {
    let pts = load_points("tsne_points_1024.f64");
    let shape = GridShape::for_count(pts.len(), 1.0);
    assert_eq!(shape, GridShape { cols: 32, rows: 32 });
    let ours = assign(&pts, shape, Solver::Exact, None).expect("exact");
    let reference = assign(&pts, shape, Solver::Hungarian, None).expect("hungarian");
    assert_bijection(pts.len(), &ours);
    assert!(ours.optimal);
    assert!(
        (ours.cost - reference.cost).abs() <= 1e-9 * reference.cost,
        "exact {} vs kuhn_munkres {}",
        ours.cost,
        reference.cost
    );
}

#[test]
fn fast_mode_within_one_percent_on_real_tsne() {
    let pts = load_points("tsne_points_4096.f64");
    let shape = GridShape::for_count(pts.len(), 1.0);
    let exact = assign(&pts, shape, Solver::Exact, None).expect("exact");
    let fast = assign(&pts, shape, Solver::Fast, None).expect("fast");
    assert!(exact.optimal);
    assert_bijection(pts.len(), &fast);
    assert!(fast.cost >= exact.cost * (1.0 - 1e-12));
    assert!(
        fast.cost <= exact.cost * 1.01,
        "fast {} exact {}",
        fast.cost,
        exact.cost
    );
    // The certified bound is a true lower bound.
    assert!(fast.lower_bound <= exact.cost * (1.0 + 1e-12));
    assert!(fast.cost <= fast.lower_bound * 1.01);
}

#[test]
fn deterministic_across_runs_and_thread_counts() {
    let pts = load_points("tsne_points_4096.f64");
    let shape = GridShape::for_count(pts.len(), 16.0 / 9.0);
    let a = assign(&pts, shape, Solver::Exact, None).expect("solve");
    let b = assign(&pts, shape, Solver::Exact, None).expect("solve");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let c = pool
        .install(|| assign(&pts, shape, Solver::Exact, None))
        .expect("solve");
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_bijection(pts.len(), &a);
}

#[test]
fn shape_rules() {
    for n in 1..=300 {
        for aspect in [1.0, 16.0 / 9.0, 9.0 / 16.0, 3.0] {
            let s = GridShape::for_count(n, aspect);
            let cells = s.cols * s.rows;
            assert!(cells >= n);
            assert!(
                cells - n < s.cols.min(s.rows),
                "n={n} {s:?}: an empty row or column"
            );
            // No tight shape is closer to the aspect.
            let err = |c: usize, r: usize| ((c as f64 / r as f64).ln() - aspect.ln()).abs();
            for cols in 1..=n {
                let rows = n.div_ceil(cols);
                if n.div_ceil(rows) == cols {
                    assert!(
                        err(s.cols, s.rows) <= err(cols, rows) + 1e-12,
                        "n={n} {s:?}"
                    );
                }
            }
        }
    }
    assert_eq!(
        GridShape::for_count(4096, 1.0),
        GridShape { cols: 64, rows: 64 }
    );
    assert_eq!(
        GridShape::for_count(1000, 16.0 / 9.0),
        GridShape { cols: 42, rows: 24 }
    );
    assert_eq!(GridShape::for_count(0, 1.0), GridShape { cols: 0, rows: 0 });
}

#[test]
fn empty_cells_sit_at_the_margins() {
    // A round Gaussian blob on a grid with a partly empty last row: the empty cells must be
    // spread over the border, not lined up in the last row.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 2000;
    let shape = GridShape::for_count(n, 1.0);
    let empty = shape.cols * shape.rows - n;
    assert!(empty >= 10, "{shape:?}");
    let pts: Vec<[f64; 2]> = (0..n)
        .map(|_| {
            let (u, v): (f64, f64) = (rng.random(), rng.random());
            let r = (-2.0 * (1.0 - u).ln()).sqrt();
            let t = std::f64::consts::TAU * v;
            [r * t.cos(), r * t.sin()]
        })
        .collect();
    let a = assign(&pts, shape, Solver::Exact, None).expect("solve");
    let mut used = vec![false; shape.cols * shape.rows];
    for &[c, r] in &a.cells {
        used[r as usize * shape.cols + c as usize] = true;
    }
    let empty_rows: std::collections::BTreeSet<usize> = (0..used.len())
        .filter(|&j| !used[j])
        .map(|j| j / shape.cols)
        .collect();
    assert!(empty_rows.len() >= 3, "empty cells in rows {empty_rows:?}");
    let (cx, cy) = ((shape.cols - 1) as f64 / 2.0, (shape.rows - 1) as f64 / 2.0);
    let mean_dist = |pred: &dyn Fn(usize) -> bool| {
        let v: Vec<f64> = (0..used.len())
            .filter(|&j| pred(j))
            .map(|j| ((j % shape.cols) as f64 - cx).hypot((j / shape.cols) as f64 - cy))
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean_dist(&|j| !used[j]) > 1.2 * mean_dist(&|_| true));
}

#[test]
fn degenerate_inputs() {
    let g = |cols, rows| GridShape { cols, rows };
    for solver in [Solver::Exact, Solver::Fast, Solver::Auto, Solver::Hungarian] {
        // n = 0, any shape.
        let a = assign(&[], g(0, 0), solver, None).expect("empty");
        assert!(a.cells.is_empty() && a.cost == 0.0 && a.optimal);
        let a = assign(&[], g(3, 2), solver, None).expect("empty");
        assert!(a.cells.is_empty());
        // n = 1 and 2.
        let a = assign(&[[5.0, -3.0]], g(1, 1), solver, None).expect("one");
        assert_eq!(a.cells, vec![[0, 0]]);
        let a = assign(&[[5.0, -3.0]], g(3, 3), solver, None).expect("one in 3x3");
        assert_eq!(a.cells, vec![[1, 1]], "a lone point sits in the centre");
        let a = assign(&[[0.0, 0.0], [1.0, 0.0]], g(2, 1), solver, None).expect("two");
        assert_eq!(a.cells, vec![[0, 0], [1, 0]]);
        assert!(a.cost < 1e-12 && a.optimal);
        // All identical, duplicates, collinear, with empty cells.
        let same = vec![[0.25, 0.75]; 50];
        let a = assign(&same, GridShape::for_count(50, 1.0), solver, None).expect("same");
        assert_bijection(50, &a);
        let line: Vec<[f64; 2]> = (0..60).map(|i| [i as f64, 2.0 * i as f64 + 1.0]).collect();
        let a = assign(&line, g(9, 7), solver, None).expect("line");
        assert_bijection(60, &a);
        let dup: Vec<[f64; 2]> = (0..70).map(|i| [(i % 3) as f64, (i % 2) as f64]).collect();
        let a = assign(&dup, g(10, 8), solver, None).expect("dup");
        assert_bijection(70, &a);
        // Invalid input.
        let bad = [[0.0, 0.0], [f64::NAN, 1.0]];
        assert!(matches!(
            assign(&bad, g(2, 1), solver, None),
            Err(GridError::InvalidInput(_))
        ));
        let inf = [[0.0, f64::INFINITY]];
        assert!(matches!(
            assign(&inf, g(1, 1), solver, None),
            Err(GridError::InvalidInput(_))
        ));
        assert!(matches!(
            assign(&same, g(7, 7), solver, None),
            Err(GridError::InvalidInput(_))
        ));
        assert!(matches!(
            assign(&same, g(usize::MAX, 3), solver, None),
            Err(GridError::InvalidInput(_))
        ));
    }
    // Exact on larger degenerate sets stays exact (cost equals the Hungarian reference).
    let same = vec![[0.3, 0.7]; 400];
    let line: Vec<[f64; 2]> = (0..400).map(|i| [i as f64, 0.5 * i as f64]).collect();
    for pts in [same, line] {
        let shape = GridShape::for_count(pts.len() + 5, 1.0);
        let a = assign(&pts, shape, Solver::Exact, None).expect("exact");
        let h = assign(&pts, shape, Solver::Hungarian, None).expect("hungarian");
        assert!(a.optimal);
        assert!((a.cost - h.cost).abs() <= 1e-9 * h.cost.max(1e-9));
    }
}

#[test]
fn huge_coordinates_are_fine() {
    let pts = [
        [-1e300, 5.0],
        [1e300, -5.0],
        [0.0, 0.0],
        [f64::MAX, f64::MIN],
    ];
    let a = assign(&pts, GridShape { cols: 2, rows: 2 }, Solver::Exact, None).expect("solve");
    assert_bijection(4, &a);
    assert!(a.cost.is_finite());
}

#[test]
fn cancellation() {
    let pts = load_points("tsne_points_10000.f64");
    let shape = GridShape::for_count(pts.len(), 1.0);
    // Already cancelled: every solver returns Cancelled.
    let flag = AtomicBool::new(true);
    for solver in [Solver::Exact, Solver::Fast, Solver::Auto, Solver::Hungarian] {
        let r = assign(
            &pts[..1024],
            GridShape::for_count(1024, 1.0),
            solver,
            Some(&flag),
        );
        assert!(matches!(r, Err(GridError::Cancelled)), "{solver:?}");
    }
    // Cancelled while running: stops at the next poll. The flag is set from the solver's own
    // poll of it (a hook counts the polls), halfway through a full solve's polls: no thread
    // races the solve, and no wall clock is read.
    for solver in [Solver::Exact, Solver::Fast] {
        let flag = AtomicBool::new(false);
        poll_hook::arm(&flag, u64::MAX);
        let full = assign(&pts, shape, solver, Some(&flag));
        let total = poll_hook::disarm(&flag);
        assert!(full.is_ok(), "{solver:?}: {full:?}");
        assert!(total >= 4, "{solver:?}: polled the flag only {total} times");
        let cancel_at = total / 2;
        poll_hook::arm(&flag, cancel_at);
        let r = assign(&pts, shape, solver, Some(&flag));
        let polls = poll_hook::disarm(&flag);
        assert!(matches!(r, Err(GridError::Cancelled)), "{solver:?}: {r:?}");
        // the poll that set the flag, plus at most one pending poll per worker thread
        let threads = rayon::current_num_threads() as u64;
        assert!(
            polls <= cancel_at + threads,
            "{solver:?}: {polls} polls after cancelling at poll {cancel_at} of {total}"
        );
    }
}
