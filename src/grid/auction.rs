//! ε-scaling forward auction (Gauss-Seidel) on the square problem points + dummies x cells, with
//! price-aware candidate lists whose thresholds bound every cell outside the list.
//!
//! Minimisation form: person `i` holding cell `j` "pays" `value = c'(i, j) + price[j]`, where
//! `c' = M * cost` with `M = m + 1` (so that ε = 1 in scaled units proves the integer optimum).
//! The `m - n` dummy persons (cost 0 to every cell) make the problem square; the cells they hold are
//! the empty cells. Prices never decrease, so a list threshold (a lower bound, taken when the list was
//! built, of `c' + price` over every cell outside the list) stays a valid lower bound forever.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use super::problem::Problem;
use super::pyramid::{Pyramid, SearchHeap};
use super::{is_cancelled, GridError};

pub(crate) const NONE: u32 = u32::MAX;

/// Tuning knobs (defaults are what the solvers use).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// Candidate list length per point.
    pub k: usize,
    /// ε divisor between phases.
    pub theta: i64,
    /// Initial ε in grid units² (times `S * M`).
    pub eps0_cells2: f64,
    /// First ε (grid units²) after a multiscale warm start.
    pub warm_eps_cells2: f64,
    /// Coarse levels stop once ε (their grid units²) is at most this.
    pub coarse_stop_cells2: f64,
    /// No coarsening below this many points.
    pub coarse_min_n: usize,
    /// Build lists with the min-price pyramid (else row scans).
    pub pyramid_lists: bool,
    /// Refit the pyramid's price tilts every this many bids.
    pub tilt_every: usize,
}

impl Default for Params {
    fn default() -> Self {
        let env = |k: &str, d: f64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        Params {
            k: env("GRID_K", 16.0) as usize,
            theta: env("GRID_THETA", 6.0) as i64,
            eps0_cells2: env("GRID_EPS0", 300.0),
            warm_eps_cells2: env("GRID_WEPS", 1.0),
            coarse_stop_cells2: env("GRID_CSTOP", 0.05),
            coarse_min_n: env("GRID_CMIN", 1500.0) as usize,
            pyramid_lists: env("GRID_PYR", 1.0) > 0.5,
            tilt_every: env("GRID_TILT", 16384.0) as usize,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub bids: u64,
    pub rebuilds: u64,
    pub phases: u32,
}

pub(crate) struct Auction<'a> {
    pub p: &'a Problem,
    pub params: Params,
    /// `M = m + 1`.
    pub mult: i64,
    k: usize,
    lists: Vec<u32>,
    lcost: Vec<i64>,
    thr: Vec<i64>,
    pub price: Vec<i64>,
    /// Person holding each cell (`NONE` if free). Persons `0..n` are points, `n..m` dummies.
    pub owner: Vec<u32>,
    /// Cell held by each person (`NONE` if unassigned).
    pub assigned: Vec<u32>,
    pyr: Pyramid,
    heap: SearchHeap,
    /// Per-row lower bounds of the prices (exact at phase start; prices only rise).
    row_min: Vec<i64>,
    stack: Vec<(u32, u32)>,
    queue: Vec<u32>,
    pub eps: i64,
    pub stats: Stats,
    scratch: Vec<(i64, u32)>,
}

impl<'a> Auction<'a> {
    /// Auction with zero prices and the default ε schedule, or warm prices (grid units², per cell)
    /// with a first ε of `warm_eps_cells2`.
    pub fn new(p: &'a Problem, params: Params, warm: Option<(&[f64], f64)>) -> Auction<'a> {
        let (n, m) = (p.n, p.m);
        let k = params.k.clamp(1, m.max(1));
        let mult = m as i64 + 1;
        let mut a = Auction {
            p,
            params,
            mult,
            k,
            lists: vec![0; n * k],
            lcost: vec![0; n * k],
            thr: vec![i64::MAX; n],
            price: vec![0; m],
            owner: vec![NONE; m],
            assigned: vec![NONE; m],
            pyr: Pyramid::new(p.cols, p.rows, &vec![0; m]),
            heap: SearchHeap::new(),
            row_min: vec![0; p.rows],
            stack: Vec::new(),
            queue: Vec::with_capacity(m),
            eps: 1,
            stats: Stats::default(),
            scratch: Vec::with_capacity(k + 1),
        };
        let unit = p.scale * mult as f64;
        let max_scaled = p.max_cost as f64 * mult as f64;
        let mut eps0 = params.eps0_cells2 * unit;
        if let Some((prices, eps_cells2)) = warm {
            if prices.len() == m {
                let lo = prices.iter().copied().fold(f64::INFINITY, f64::min);
                for (dst, &v) in a.price.iter_mut().zip(prices) {
                    *dst = ((v - lo) * unit).clamp(0.0, max_scaled) as i64;
                }
                eps0 = eps_cells2 * unit;
            }
        }
        a.eps = eps0.min(max_scaled).max(1.0) as i64;
        a.pyr.reset(&a.price);
        a.refresh_row_min();
        a.pyr.refresh_tilt();
        a.build_all_lists();
        a
    }

    /// Rebuild every candidate list (in parallel).
    fn build_all_lists(&mut self) {
        let k = self.k;
        let (p, price, row_min, mult) = (self.p, &self.price, &self.row_min, self.mult);
        let (pyr, use_pyr) = (&self.pyr, self.params.pyramid_lists);
        self.lists
            .par_chunks_mut(k)
            .zip(self.lcost.par_chunks_mut(k))
            .zip(self.thr.par_iter_mut())
            .enumerate()
            .for_each_init(
                || (Vec::with_capacity(k + 1), Vec::new()),
                |(buf, stack), (i, ((cells, costs), thr))| {
                    *thr = if use_pyr {
                        let t = pyr.smallest_dfs(p, i, mult, k + 1, &[], stack, buf);
                        buf.truncate(k);
                        t
                    } else {
                        build_list(p, price, row_min, mult, i, k, buf)
                    };
                    for (t, &(v, j)) in buf.iter().take(k).enumerate() {
                        cells[t] = j;
                        costs[t] = v - price[j as usize];
                    }
                },
            );
    }

    fn rebuild(&mut self, i: usize) {
        self.stats.rebuilds += 1;
        let k = self.k;
        let mut buf = std::mem::take(&mut self.scratch);
        self.thr[i] = if self.params.pyramid_lists {
            let seed = &self.lists[i * k..(i + 1) * k];
            let t =
                self.pyr
                    .smallest_dfs(self.p, i, self.mult, k + 1, seed, &mut self.stack, &mut buf);
            buf.truncate(k);
            t
        } else {
            build_list(
                self.p,
                &self.price,
                &self.row_min,
                self.mult,
                i,
                k,
                &mut buf,
            )
        };
        for (t, &(v, j)) in buf.iter().take(k).enumerate() {
            self.lists[i * k + t] = j;
            self.lcost[i * k + t] = v - self.price[j as usize];
        }
        self.scratch = buf;
    }

    /// Exact per-row minimum prices.
    fn refresh_row_min(&mut self) {
        let cols = self.p.cols;
        for (r, rm) in self.row_min.iter_mut().enumerate() {
            *rm = self.price[r * cols..(r + 1) * cols]
                .iter()
                .copied()
                .min()
                .unwrap_or(0);
        }
    }

    /// Best value over the list of real person `i`: (best, cell, second best within the list).
    #[inline]
    fn scan_list(&self, i: usize) -> (i64, u32, i64) {
        let k = self.k;
        let cells = &self.lists[i * k..(i + 1) * k];
        let costs = &self.lcost[i * k..(i + 1) * k];
        let (mut b1, mut j1, mut b2) = (i64::MAX, NONE, i64::MAX);
        for (&j, &c) in cells.iter().zip(costs) {
            let v = c + self.price[j as usize];
            if v < b1 {
                b2 = b1;
                b1 = v;
                j1 = j;
            } else if v < b2 {
                b2 = v;
            }
        }
        (b1, j1, b2)
    }

    /// Lower bound on `min_j c'(i, j) + price[j]` over all cells (real person `i`).
    pub fn value_lower_bound(&self, i: usize) -> i64 {
        self.scan_list(i).0.min(self.thr[i])
    }

    /// Value person `i` currently pays (`c' + price`), if assigned.
    pub fn paid(&self, person: usize) -> Option<i64> {
        let j = *self.assigned.get(person)?;
        if j == NONE {
            return None;
        }
        let j = j as usize;
        let c = if person < self.p.n {
            self.p.cost(person, j % self.p.cols, j / self.p.cols) * self.mult
        } else {
            0
        };
        Some(c + self.price[j])
    }

    fn give(&mut self, person: u32, cell: u32, new_price: i64) {
        let j = cell as usize;
        let prev = self.owner[j];
        if prev != NONE {
            self.assigned[prev as usize] = NONE;
            self.queue.push(prev);
        }
        self.owner[j] = person;
        self.assigned[person as usize] = cell;
        self.price[j] = new_price;
        self.pyr.raise(j, new_price);
    }

    /// Start a phase with ε = `eps`: keep only assignments that satisfy ε-CS, queue the rest.
    fn start_phase(&mut self, eps: i64) {
        self.eps = eps;
        self.stats.phases += 1;
        self.refresh_row_min();
        self.pyr.refresh_tilt();
        let (n, m) = (self.p.n, self.p.m);
        let min_price = self.pyr.min_price();
        self.queue.clear();
        for person in (0..m).rev() {
            let keep = match self.paid(person) {
                None => false,
                Some(v) if person < n => v <= self.value_lower_bound(person).saturating_add(eps),
                Some(v) => v <= min_price.saturating_add(eps),
            };
            if !keep {
                let j = self.assigned[person];
                if j != NONE {
                    self.owner[j as usize] = NONE;
                    self.assigned[person] = NONE;
                }
                self.queue.push(person as u32);
            }
        }
    }

    /// Run one ε phase to completion (every person assigned, ε-CS holds).
    fn run_phase(&mut self, cancel: Option<&AtomicBool>) -> Result<(), GridError> {
        let n = self.p.n;
        let eps = self.eps;
        let mut since_poll = 0u32;
        let mut since_tilt = 0usize;
        while let Some(person) = self.queue.pop() {
            since_poll += 1;
            if since_poll >= 4096 {
                since_poll = 0;
                if is_cancelled(cancel) {
                    return Err(GridError::Cancelled);
                }
                since_tilt += 4096;
                if since_tilt >= self.params.tilt_every.max(4096) {
                    since_tilt = 0;
                    self.pyr.refresh_tilt();
                }
            }
            self.stats.bids += 1;
            let pi = person as usize;
            if pi < n {
                let (mut b1, mut j1, mut b2) = self.scan_list(pi);
                if b1 > self.thr[pi] {
                    self.rebuild(pi);
                    (b1, j1, b2) = self.scan_list(pi);
                }
                let second = b2.min(self.thr[pi]);
                let second = if second == i64::MAX { b1 } else { second };
                let np = self.price[j1 as usize] + (second - b1) + eps;
                self.give(person, j1, np);
            } else {
                let mut buf = std::mem::take(&mut self.scratch);
                self.pyr
                    .smallest(self.p, None, 0, 2, &mut self.heap, &mut buf);
                let Some(&(p1, j1)) = buf.first() else {
                    return Err(GridError::InvalidInput(
                        "internal: no cell to bid on".into(),
                    ));
                };
                let p2 = buf.get(1).map_or(p1, |t| t.0);
                self.scratch = buf;
                self.give(person, j1, p2 + eps);
            }
        }
        Ok(())
    }

    /// Run ε phases: ε0, ε0/θ, ... down to 1, calling `stop` after each phase (true = stop early).
    pub fn solve(
        &mut self,
        cancel: Option<&AtomicBool>,
        mut stop: impl FnMut(&mut Self) -> bool,
    ) -> Result<(), GridError> {
        let mut eps = self.eps.max(1);
        let dbg = std::env::var("GRID_DEBUG").is_ok();
        loop {
            let t = std::time::Instant::now();
            let (b0, r0) = (self.stats.bids, self.stats.rebuilds);
            self.start_phase(eps);
            self.run_phase(cancel)?;
            if dbg {
                eprintln!(
                    "  eps={eps:>20} ({:>10.4} cells2) bids={:>8} rebuilds={:>8} t={:.3}",
                    eps as f64 / self.p.scale / self.mult as f64,
                    self.stats.bids - b0,
                    self.stats.rebuilds - r0,
                    t.elapsed().as_secs_f64()
                );
            }
            log::debug!(
                "grid auction: phase eps={eps} bids={} rebuilds={}",
                self.stats.bids,
                self.stats.rebuilds
            );
            if eps == 1 || stop(self) {
                return Ok(());
            }
            eps = (eps / self.params.theta).max(1);
        }
    }

    /// Current ε in grid units².
    pub fn eps_cells2(&self) -> f64 {
        self.eps as f64 / (self.p.scale * self.mult as f64)
    }

    /// Prices in grid units².
    pub fn prices_cells2(&self) -> Vec<f64> {
        let unit = self.p.scale * self.mult as f64;
        self.price.iter().map(|&v| v as f64 / unit).collect()
    }

    /// Cell of each real point (after `solve`).
    pub fn cells_of_points(&self) -> Vec<u32> {
        self.assigned[..self.p.n].to_vec()
    }

    /// Certified gap from the lists: `sum(paid - lower bound of the best value)` in scaled units.
    pub fn list_gap(&mut self) -> i128 {
        let n = self.p.n;
        let min_price = self.pyr.min_price();
        let mut gap = 0i128;
        for person in 0..self.p.m {
            let paid = self.paid(person).unwrap_or(i64::MAX) as i128;
            let lb = if person < n {
                self.value_lower_bound(person)
            } else {
                min_price
            };
            gap += paid - lb as i128;
        }
        gap
    }
}

/// The `k` smallest `c' + price` of point `i` (ascending, in `buf`), returning the threshold: a lower
/// bound of `c' + price` over every cell not in the list (`i64::MAX` if there is none).
///
/// Rows are visited by distance from the point; a row is skipped when `M * round(S dy²)` plus its
/// minimum price cannot beat the current `(k+1)`-th value, and within a row the scan goes outwards
/// and stops when the cost alone plus the row's minimum price cannot (cost is monotone in |dx|).
/// Every skipped cell contributes its bound to the threshold, so the threshold is exact-safe.
fn build_list(
    p: &Problem,
    price: &[i64],
    row_min: &[i64],
    mult: i64,
    i: usize,
    k: usize,
    buf: &mut Vec<(i64, u32)>,
) -> i64 {
    buf.clear();
    let cap = k + 1;
    let cols = p.cols;
    let mut skipped = i64::MAX;
    let mut worst = i64::MAX;
    let r0 = (p.py[i].round().max(0.0) as usize).min(p.rows - 1);
    let c0 = (p.px[i].round().max(0.0) as usize).min(cols - 1);
    let (px, py, scale) = (p.px[i], p.py[i], p.scale);
    let mut visit_row =
        |r: usize, buf: &mut Vec<(i64, u32)>, worst: &mut i64, skipped: &mut i64| {
            let rm = row_min[r];
            let dy = py - r as f64;
            let dy2 = dy * dy;
            let lb = ((scale * dy2 + 0.5) as i64) * mult + rm;
            if lb >= *worst {
                *skipped = (*skipped).min(lb);
                return;
            }
            let row = &price[r * cols..(r + 1) * cols];
            let mut try_cell = |c: usize, buf: &mut Vec<(i64, u32)>, worst: &mut i64| -> bool {
                let dx = px - c as f64;
                let cc = ((scale * (dx * dx + dy2) + 0.5) as i64) * mult;
                if cc + rm >= *worst {
                    *skipped = (*skipped).min(cc + rm);
                    return false;
                }
                let v = cc + row[c];
                if v < *worst {
                    let j = (r * cols + c) as u32;
                    let pos = buf.partition_point(|&(bv, bj)| (bv, bj) < (v, j));
                    if buf.len() == cap {
                        buf.pop();
                    }
                    buf.insert(pos, (v, j));
                    if buf.len() == cap {
                        *worst = buf[cap - 1].0;
                    }
                }
                true
            };
            for c in (0..=c0).rev() {
                if !try_cell(c, buf, worst) {
                    break;
                }
            }
            for c in c0 + 1..cols {
                if !try_cell(c, buf, worst) {
                    break;
                }
            }
        };
    visit_row(r0, buf, &mut worst, &mut skipped);
    for d in 1..p.rows {
        if d <= r0 {
            visit_row(r0 - d, buf, &mut worst, &mut skipped);
        }
        if r0 + d < p.rows {
            visit_row(r0 + d, buf, &mut worst, &mut skipped);
        }
    }
    let thr = if buf.len() == cap {
        worst.min(skipped)
    } else {
        skipped
    };
    buf.truncate(k);
    thr
}
