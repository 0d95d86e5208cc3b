//! ε-scaling forward auction (Gauss-Seidel) on the square problem points + dummies x cells, with
//! price-aware candidate lists whose thresholds bound every cell outside the list.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use super::problem::Problem;
use super::pyramid::{Pyramid, SearchHeap};
use super::{is_cancelled, GridError};

pub(crate) const NONE: u32 = u32::MAX;

/// Tuning knobs (the defaults were measured on the shared clustered t-SNE sets).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// Candidate list length per point (groups of `d` identical points get up to `k * sqrt(d)`).
    pub k: usize,
    /// ε divisor between phases.
    pub theta: i64,
    /// First ε without a warm start, in grid units².
    pub eps0_cells2: f64,
    /// First ε after a multiscale warm start, in grid units².
    pub warm_eps_cells2: f64,
    /// Coarse levels stop once ε (in their grid units²) is at most this.
    pub coarse_stop_cells2: f64,
    /// No coarsening below this many points.
    pub coarse_min_n: usize,
    /// Refit the pyramid's price tilts every this many bids.
    pub tilt_every: usize,
    /// Lists may grow (up to 256) in phases with ε below this (grid units²).
    pub grow_below_cells2: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            k: 32,
            theta: 6,
            eps0_cells2: 300.0,
            warm_eps_cells2: 1.5,
            coarse_stop_cells2: 0.05,
            coarse_min_n: 1500,
            tilt_every: 16384,
            grow_below_cells2: 0.1,
        }
    }
}

/// Largest candidate list (groups of identical points).
const MAX_LIST: usize = 256;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub bids: u64,
    pub rebuilds: u64,
    pub phases: u32,
}

/// Auction state.
///
/// Minimisation form: person `i` holding cell `j` pays `value = c'(i, j) + price[j]`, where
/// `c' = M * cost` and `M = m + 1`, so that ε = 1 (scaled) proves the integer optimum. The `m - n`
/// dummy persons (cost 0 to every cell) make the problem square; the cells they hold stay empty.
/// Dummies are identical, so they bid as a group (`place_dummies`: the cheapest cells, levelled at
/// the next price + ε) and an evicted dummy never evicts a sibling (`bid_dummy`).
///
/// Candidate lists: for each group of identical points (usually a single point), the `k` cells
/// with the smallest value, found exactly by branch and bound on the min-price [`Pyramid`], plus a
/// threshold = the `(k+1)`-th smallest value. Prices never decrease, so the threshold stays a lower
/// bound for every cell outside the list; a list is rebuilt only when its best value is more than
/// ε - 1 above the threshold (then a bid could break ε-complementary slackness).
pub(crate) struct Auction<'a> {
    pub p: &'a Problem,
    pub params: Params,
    /// `M = m + 1`.
    pub mult: i64,
    /// Group (identical normalised coordinates) of each point; `rep` is a member of each group.
    group_of: Vec<u32>,
    rep: Vec<u32>,
    /// Group `g`'s candidate list: (cell, scaled cost), its target length and its threshold.
    lists: Vec<Vec<(u32, i64)>>,
    list_len: Vec<u32>,
    thr: Vec<i64>,
    /// Lists that keep going stale immediately grow (see `rebuild`).
    churn: Vec<u8>,
    /// Whether ε is small enough (see `Params::grow_below_cells2`) for lists to grow.
    fine_phase: bool,
    pub price: Vec<i64>,
    /// Person holding each cell (`NONE` if free). Persons `0..n` are points, `n..m` dummies.
    owner: Vec<u32>,
    /// Cell held by each person (`NONE` if unassigned).
    pub assigned: Vec<u32>,
    pyr: Pyramid,
    stack: Vec<(u32, u32)>,
    scratch: Vec<(i64, u32)>,
    seed: Vec<u32>,
    queue: Vec<u32>,
    pub eps: i64,
    pub stats: Stats,
    /// Prices of the cells not held by dummies (others `i64::MAX`), and of the cells held by
    /// dummies (others `i64::MAX`): what an evicted dummy needs to re-bid in O(log m).
    open: Pyramid,
    held: Pyramid,
    heap: SearchHeap,
}

impl<'a> Auction<'a> {
    /// Auction with zero prices and the default ε schedule, or with warm prices (grid units², one
    /// per cell) and a first ε of `warm.1` grid units².
    pub fn new(
        p: &'a Problem,
        params: Params,
        warm: Option<(&[f64], f64)>,
        cancel: Option<&AtomicBool>,
    ) -> Result<Auction<'a>, GridError> {
        let (n, m) = (p.n, p.m);
        let mult = m as i64 + 1;
        let unit = p.scale * mult as f64;
        let max_scaled = p.max_cost as f64 * mult as f64;
        let mut price = vec![0i64; m];
        let mut eps0 = params.eps0_cells2 * unit;
        if let Some((prices, eps_cells2)) = warm.filter(|w| w.0.len() == m) {
            let lo = prices.iter().copied().fold(f64::INFINITY, f64::min);
            for (dst, &v) in price.iter_mut().zip(prices) {
                *dst = ((v - lo) * unit).clamp(0.0, max_scaled) as i64;
            }
            eps0 = eps_cells2 * unit;
        }
        // Groups of identical points share one list (their costs are identical).
        let mut order: Vec<u32> = (0..n as u32).collect();
        let key = |i: u32| (p.px[i as usize].to_bits(), p.py[i as usize].to_bits());
        order.sort_unstable_by_key(|&i| (key(i), i));
        let mut group_of = vec![0u32; n];
        let mut rep = Vec::new();
        let mut size = Vec::new();
        for (t, &i) in order.iter().enumerate() {
            if t == 0 || key(order[t - 1]) != key(i) {
                rep.push(i);
                size.push(0usize);
            }
            group_of[i as usize] = (rep.len() - 1) as u32;
            if let Some(s) = size.last_mut() {
                *s += 1;
            }
        }
        let list_len: Vec<u32> = size
            .iter()
            .map(|&d| {
                (params.k.max(1) * (d as f64).sqrt().ceil() as usize)
                    .min(MAX_LIST.max(params.k))
                    .min(m.max(1)) as u32
            })
            .collect();
        let pyr = Pyramid::new(p.cols, p.rows, &price);
        let mut a = Auction {
            p,
            params,
            mult,
            group_of,
            thr: vec![i64::MAX; rep.len()],
            lists: vec![Vec::new(); rep.len()],
            churn: vec![0; rep.len()],
            fine_phase: false,
            rep,
            list_len,
            price,
            owner: vec![NONE; m],
            assigned: vec![NONE; m],
            pyr,
            stack: Vec::new(),
            scratch: Vec::new(),
            seed: Vec::new(),
            queue: Vec::with_capacity(m),
            eps: eps0.min(max_scaled).max(1.0) as i64,
            stats: Stats::default(),
            open: Pyramid::new(1, 1, &[i64::MAX]),
            held: Pyramid::new(1, 1, &[i64::MAX]),
            heap: SearchHeap::new(),
        };
        if m > n {
            a.open = Pyramid::new(p.cols, p.rows, &a.price);
            a.held = Pyramid::new(p.cols, p.rows, &vec![i64::MAX; m]);
        }
        a.pyr.refresh_tilt();
        a.build_all_lists(cancel)?;
        Ok(a)
    }

    /// Build every group's list (in parallel).
    fn build_all_lists(&mut self, cancel: Option<&AtomicBool>) -> Result<(), GridError> {
        let (p, pyr, mult) = (self.p, &self.pyr, self.mult);
        let (rep, list_len) = (&self.rep, &self.list_len);
        type Built = (i64, Vec<(i64, u32)>);
        let built: Option<Vec<Built>> = (0..rep.len())
            .into_par_iter()
            .map_init(Vec::new, |stack, g| {
                if is_cancelled(cancel) {
                    return None;
                }
                let k = list_len[g] as usize;
                let mut buf = Vec::with_capacity(k + 1);
                let thr = pyr.smallest_dfs(p, rep[g] as usize, mult, k + 1, &[], stack, &mut buf);
                Some((thr, buf))
            })
            .collect();
        let built = built.ok_or(GridError::Cancelled)?;
        for (g, (thr, buf)) in built.into_iter().enumerate() {
            self.store_list(g, thr, &buf);
        }
        Ok(())
    }

    fn store_list(&mut self, g: usize, thr: i64, buf: &[(i64, u32)]) {
        self.thr[g] = thr;
        let k = self.list_len[g] as usize;
        let price = &self.price;
        let list = &mut self.lists[g];
        list.clear();
        list.extend(
            buf.iter()
                .take(k)
                .map(|&(v, j)| (j, v.saturating_sub(price[j as usize]))),
        );
    }

    fn rebuild(&mut self, g: usize) {
        self.stats.rebuilds += 1;
        // `churn` counts this phase's rebuilds; in the fine phases (prices already settled) a list
        // that keeps going stale sits on a plateau of near-equal values shared with neighbours.
        self.churn[g] = self.churn[g].saturating_add(1);
        if self.churn[g] >= 3
            && self.fine_phase
            && (self.list_len[g] as usize) < MAX_LIST.min(self.p.m)
        {
            // Consumed again and again within one phase (a plateau of near-equal values shared
            // with neighbours): a longer list is cheaper than rebuilding it every bid.
            self.list_len[g] = (2 * self.list_len[g]).min(MAX_LIST.min(self.p.m) as u32);
            self.churn[g] = 0;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        let mut seed = std::mem::take(&mut self.seed);
        seed.clear();
        seed.extend(self.lists[g].iter().map(|e| e.0));
        let thr = self.pyr.smallest_dfs(
            self.p,
            self.rep[g] as usize,
            self.mult,
            self.list_len[g] as usize + 1,
            &seed,
            &mut self.stack,
            &mut buf,
        );
        self.store_list(g, thr, &buf);
        self.scratch = buf;
        self.seed = seed;
    }

    /// Best value over group `g`'s list: (best, its cell, second best within the list).
    #[inline]
    fn scan_list(&self, g: usize) -> (i64, u32, i64) {
        let (mut b1, mut j1, mut b2) = (i64::MAX, NONE, i64::MAX);
        for &(j, c) in &self.lists[g] {
            let v = c.saturating_add(self.price[j as usize]);
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

    /// Lower bound on `min_j c'(i, j) + price[j]` over all cells, for point `i`.
    pub fn value_lower_bound(&self, i: usize) -> i64 {
        let g = self.group_of[i] as usize;
        self.scan_list(g).0.min(self.thr[g])
    }

    /// Value person `person` pays (`c' + price`), if assigned.
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
        let n = self.p.n;
        let prev = self.owner[j];
        if prev != NONE {
            self.assigned[prev as usize] = NONE;
            self.queue.push(prev);
        }
        self.owner[j] = person;
        self.assigned[person as usize] = cell;
        self.price[j] = new_price;
        self.pyr.raise(j, new_price);
        if self.p.m > n {
            if (person as usize) < n {
                self.open.set(j, new_price);
                self.held.set(j, i64::MAX);
            } else {
                self.open.set(j, i64::MAX);
                self.held.set(j, new_price);
            }
        }
    }

    /// Start a phase with ε = `eps`: keep only assignments that satisfy ε-CS, queue the rest.
    fn start_phase(&mut self, eps: i64) {
        self.eps = eps;
        self.stats.phases += 1;
        self.churn.fill(0);
        self.fine_phase = self.eps_cells2() < self.params.grow_below_cells2;
        let n = self.p.n;
        self.queue.clear();
        for person in (0..n).rev() {
            let keep = self
                .paid(person)
                .is_some_and(|v| v <= self.value_lower_bound(person).saturating_add(eps));
            if !keep {
                let j = self.assigned[person];
                if j != NONE {
                    self.owner[j as usize] = NONE;
                    self.assigned[person] = NONE;
                }
                self.queue.push(person as u32);
            }
        }
        self.place_dummies(eps);
        self.pyr.refresh_tilt();
    }

    /// The `m - n` dummies (identical persons of cost 0) bid together: they take the `m - n`
    /// cheapest cells, each raised to the `(m - n + 1)`-th smallest price + ε, which gives every
    /// dummy ε-CS at once (re-bidding them one by one is a price war among identical persons).
    /// Points evicted from those cells are queued.
    fn place_dummies(&mut self, eps: i64) {
        let (n, m) = (self.p.n, self.p.m);
        if m <= n {
            return;
        }
        let d = m - n;
        for person in n..m {
            let j = std::mem::replace(&mut self.assigned[person], NONE);
            if j != NONE {
                self.owner[j as usize] = NONE;
                self.open.set(j as usize, self.price[j as usize]);
                self.held.set(j as usize, i64::MAX);
            }
        }
        let mut order: Vec<(i64, u32)> = self
            .price
            .iter()
            .enumerate()
            .map(|(j, &pr)| (pr, j as u32))
            .collect();
        order.select_nth_unstable(d);
        let level = order[d].0.saturating_add(eps);
        for (t, &(_, j)) in order[..d].iter().enumerate() {
            self.stats.bids += 1;
            self.give((n + t) as u32, j, level);
        }
    }

    /// Run the current phase until every person is assigned (ε-CS then holds for all).
    fn run_phase(&mut self, cancel: Option<&AtomicBool>) -> Result<(), GridError> {
        let (n, eps) = (self.p.n, self.eps);
        let mut since_poll = 0usize;
        let mut since_tilt = 0usize;
        while let Some(person) = self.queue.pop() {
            since_poll += 1;
            if since_poll == 256 {
                since_poll = 0;
                if is_cancelled(cancel) {
                    return Err(GridError::Cancelled);
                }
                since_tilt += 256;
                if since_tilt >= self.params.tilt_every {
                    since_tilt = 0;
                    self.pyr.refresh_tilt();
                }
            }
            if (person as usize) < n {
                self.bid(person as usize, eps)?;
            } else if self.assigned[person as usize] == NONE {
                self.bid_dummy(person, eps)?;
            }
        }
        Ok(())
    }

    /// An evicted dummy takes the cheapest cell not held by a dummy (taking a sibling's cell would
    /// only pass the eviction on, through all dummies in turn), at the price that keeps its ε-CS
    /// against both the other open cells and the dummies' cells. When that is no raise (every open
    /// cell costs at least the dummies' level + ε), all dummies are re-levelled together.
    fn bid_dummy(&mut self, person: u32, eps: i64) -> Result<(), GridError> {
        self.stats.bids += 1;
        let mut buf = std::mem::take(&mut self.scratch);
        self.open
            .smallest(self.p, None, 0, 2, &mut self.heap, &mut buf);
        let first = buf.first().copied();
        let p2 = buf.get(1).map_or(i64::MAX, |t| t.0);
        self.scratch = buf;
        let Some((p1, j1)) = first else {
            return Err(GridError::InvalidInput("internal: no open cell".into()));
        };
        let cap = p2.min(self.held.min_price());
        let q = if cap == i64::MAX { p1 } else { cap }.saturating_add(eps);
        if q > p1 {
            self.give(person, j1, q);
        } else {
            self.place_dummies(eps);
        }
        Ok(())
    }

    /// One bid of point `pi` (unassigned).
    fn bid(&mut self, pi: usize, eps: i64) -> Result<(), GridError> {
        self.stats.bids += 1;
        let g = self.group_of[pi] as usize;
        let (mut b1, mut j1, mut b2) = self.scan_list(g);
        // The list's best must be within ε - 1 of the threshold (every cell outside the list)
        // for the bid below to keep ε-CS; otherwise rebuild the list.
        if b1 > self.thr[g].saturating_add(eps - 1) {
            self.rebuild(g);
            (b1, j1, b2) = self.scan_list(g);
        }
        if j1 == NONE {
            return Err(GridError::InvalidInput(
                "internal: empty candidate list".into(),
            ));
        }
        let second = b2.min(self.thr[g]);
        let second = if second == i64::MAX { b1 } else { second };
        let np = self.price[j1 as usize]
            .saturating_add(second - b1)
            .saturating_add(eps);
        self.give(pi as u32, j1, np);
        Ok(())
    }

    /// Run ε phases: the first ε, then divided by θ down to 1; `stop` is asked after each phase
    /// (except the last) whether to stop early.
    pub fn solve(
        &mut self,
        cancel: Option<&AtomicBool>,
        mut stop: impl FnMut(&mut Self) -> bool,
    ) -> Result<(), GridError> {
        let mut eps = self.eps.max(1);
        loop {
            self.start_phase(eps);
            self.run_phase(cancel)?;
            log::trace!(
                "grid auction: n={} eps={:.3e} cells² bids={} rebuilds={}",
                self.p.n,
                self.eps_cells2(),
                self.stats.bids,
                self.stats.rebuilds
            );
            if eps == 1 || stop(self) {
                return Ok(());
            }
            eps = (eps / self.params.theta.max(2)).max(1);
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

    /// Cell of each point (after `solve`).
    pub fn cells_of_points(&self) -> Vec<u32> {
        self.assigned[..self.p.n].to_vec()
    }

    /// Certified gap from the lists' thresholds, in scaled units: `sum(paid - lower bound of the
    /// best value)` over all persons, an upper bound of `cost' - OPT'` (see `exact`).
    pub fn list_gap(&self) -> i128 {
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

    /// Total scaled cost of the points' cells.
    pub fn primal(&self) -> i128 {
        (0..self.p.n)
            .map(|i| {
                let j = self.assigned[i];
                if j == NONE {
                    return 0;
                }
                let j = j as usize;
                (self.p.cost(i, j % self.p.cols, j / self.p.cols) * self.mult) as i128
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::GridShape;

    #[test]
    fn final_phase_gives_one_cs_against_every_cell() {
        let mut s = 99u64;
        let mut r = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        // Clustered points with duplicates, on a grid with empty cells.
        let mut pts: Vec<[f64; 2]> = (0..150).map(|_| [r() * r(), r() * r()]).collect();
        for i in 0..20 {
            pts[i + 100] = pts[i];
        }
        let p = Problem::new(&pts, GridShape { cols: 14, rows: 13 }).unwrap();
        let mut a = Auction::new(&p, Params::default(), None, None).unwrap();
        a.solve(None, |_| false).unwrap();
        assert_eq!(a.eps, 1);
        let min_price = *a.price.iter().min().unwrap();
        for person in 0..p.m {
            let paid = a.paid(person).expect("assigned");
            let best = if person < p.n {
                (0..p.m)
                    .map(|j| p.cost(person, j % p.cols, j / p.cols) * a.mult + a.price[j])
                    .min()
                    .unwrap()
            } else {
                min_price
            };
            assert!(paid <= best + 1, "person {person}: paid {paid} best {best}");
        }
        let mut cells = a.assigned.clone();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), p.m, "not a bijection");
        // Duplicates share one group (and list).
        assert_eq!(a.group_of[100], a.group_of[0]);
        assert!(a.rep.len() <= 130);
    }

    #[test]
    fn cancel_stops_the_auction() {
        let pts: Vec<[f64; 2]> = (0..400)
            .map(|i| [(i % 20) as f64, (i / 20) as f64])
            .collect();
        let p = Problem::new(&pts, GridShape { cols: 20, rows: 20 }).unwrap();
        let flag = AtomicBool::new(true);
        assert!(matches!(
            Auction::new(&p, Params::default(), None, Some(&flag)),
            Err(GridError::Cancelled)
        ));
    }
}
