//! Settle playback: the optimizer's frames shown over a chosen duration instead of as fast as
//! they are computed.
//!
//! Our t-SNE lays out a thousand images in a third of a second, which on screen is a jump from
//! the loading spiral to the final map. The frames it reports are buffered here and played back
//! at display time: the position along the run is measured by how far the images have moved
//! (the cumulative largest displacement of any image between consecutive frames, the "arc
//! length"), so the motion has an even pace whether the optimizer moves a lot per iteration
//! (early) or little (late), and no image moves more per displayed frame than the pace allows
//! (points move linearly between frames); that position follows a smoothstep of the elapsed time over the duration (eased in
//! and out), is never behind where it was (monotone), never ahead of what has been computed,
//! and moves at most [`MAX_SPEED`] × the expected arc length per duration, per second (no jumps,
//! also not from the spiral into the first frame). Between two buffered frames the points are
//! interpolated linearly. The computation is not slowed: frames are only buffered.
//!
//! While the run is still computing, the total arc length is estimated from the part computed so
//! far; a run slower than the duration is simply shown as it computes.

/// The most the shown position moves per second, in units of the (expected) total arc length
/// per duration. Smoothstep's steepest slope is 1.5; the rest is room for a low estimate.
pub const MAX_SPEED: f64 = 2.0;

/// Frames of one optimizer run, played back over `duration` seconds.
#[derive(Clone, Debug)]
pub struct Playback {
    duration: f64,
    /// Buffered frames not yet passed; `frames[0]` is at arc length `arc[0]`.
    frames: Vec<Vec<[f32; 2]>>,
    arc: Vec<f64>,
    /// Fraction of the run computed (for the estimate of the total).
    progress: f64,
    done: bool,
    start: Option<f64>,
    last: f64,
    /// Arc length shown now.
    shown: f64,
    current: Vec<[f32; 2]>,
}

impl Playback {
    /// Start from what is on screen now (the spiral, the previous map).
    pub fn new(from: Vec<[f32; 2]>, duration: f64) -> Self {
        Playback {
            duration: duration.max(1e-3),
            current: from.clone(),
            frames: vec![from],
            arc: vec![0.0],
            progress: 0.0,
            done: false,
            start: None,
            last: 0.0,
            shown: 0.0,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// A computed frame; `progress` is the fraction of the run done (0–1). A frame with
    /// another number of points is refused (false).
    pub fn push(&mut self, frame: Vec<[f32; 2]>, progress: f64) -> bool {
        let Some(prev) = self.frames.last() else {
            return false;
        };
        if frame.len() != prev.len() {
            return false;
        }
        let d = f64::from(max_distance(prev, &frame));
        let end = self.arc.last().copied().unwrap_or(0.0);
        self.arc.push(end + d);
        self.frames.push(frame);
        if progress.is_finite() {
            self.progress = self.progress.max(progress.clamp(0.0, 1.0));
        }
        true
    }

    /// The last frame has been pushed: the total is known.
    pub fn finish(&mut self) {
        self.done = true;
        self.progress = 1.0;
    }

    /// Whether the last frame is on screen.
    pub fn finished(&self) -> bool {
        self.done && self.shown >= self.total_computed()
    }

    fn total_computed(&self) -> f64 {
        self.arc.last().copied().unwrap_or(0.0)
    }

    /// The expected arc length of the whole run.
    fn expected_total(&self) -> f64 {
        let computed = self.total_computed();
        if self.done {
            computed
        } else {
            (computed / self.progress.max(0.05)).max(computed)
        }
    }

    /// The largest distance any image can move per second (the pace's bound; it grows while
    /// the run's total is still being estimated).
    pub fn speed_bound(&self) -> f64 {
        MAX_SPEED * self.expected_total() / self.duration
    }

    /// Arc length shown now (monotone over calls).
    pub fn position(&self) -> f64 {
        self.shown
    }

    /// The points to show at time `now` (seconds; the first call starts the clock).
    pub fn sample(&mut self, now: f64) -> &[[f32; 2]] {
        let start = *self.start.get_or_insert(now);
        let dt = (now - self.last).clamp(0.0, 0.25);
        self.last = now;
        let total = self.expected_total();
        let available = self.total_computed();
        let u = ((now - start) / self.duration).clamp(0.0, 1.0) as f32;
        let target = f64::from(crate::render::ease(u)) * total;
        let speed = MAX_SPEED * total / self.duration;
        let mut s = target.clamp(self.shown, self.shown + speed * dt);
        if self.done && u >= 1.0 && s >= available - 1e-12 {
            s = available;
        }
        self.shown = s.min(available).max(self.shown);
        // frames wholly behind the shown position are not needed any more
        while self.arc.len() > 2 && self.arc[1] <= self.shown {
            self.arc.remove(0);
            self.frames.remove(0);
        }
        self.interpolate();
        &self.current
    }

    /// The points at the shown position, without advancing.
    pub fn current(&self) -> &[[f32; 2]] {
        &self.current
    }

    fn interpolate(&mut self) {
        let k = self.arc.iter().rposition(|&a| a <= self.shown).unwrap_or(0);
        let (Some(a), next) = (self.frames.get(k), self.frames.get(k + 1)) else {
            return;
        };
        let Some(b) = next else {
            self.current.clone_from(a);
            return;
        };
        let span = self.arc[k + 1] - self.arc[k];
        let f = if span > 0.0 {
            ((self.shown - self.arc[k]) / span).clamp(0.0, 1.0) as f32
        } else {
            1.0
        };
        self.current = a
            .iter()
            .zip(b)
            .map(|(p, q)| [p[0] + (q[0] - p[0]) * f, p[1] + (q[1] - p[1]) * f])
            .collect();
    }
}

/// Grid cells gliding from where they were to where they are now (fractional cells of the
/// current grid), eased over a duration: images that changed cell when a map grew, newcomers
/// arriving from outside the grid, removed images leaving it.
#[derive(Clone, Debug)]
pub struct CellGlide {
    from: Vec<[f32; 2]>,
    to: Vec<[f32; 2]>,
    start: f64,
    duration: f64,
}

impl CellGlide {
    pub fn new(from: Vec<[f32; 2]>, to: Vec<[f32; 2]>, start: f64, duration: f64) -> Self {
        CellGlide {
            from,
            to,
            start,
            duration: duration.max(1e-3),
        }
    }

    /// The cells at time `now`.
    pub fn sample(&self, now: f64) -> Vec<[f32; 2]> {
        let u = ((now - self.start) / self.duration).clamp(0.0, 1.0) as f32;
        let e = crate::render::ease(u);
        self.from
            .iter()
            .zip(&self.to)
            .map(|(a, b)| [a[0] + (b[0] - a[0]) * e, a[1] + (b[1] - a[1]) * e])
            .collect()
    }

    pub fn finished(&self, now: f64) -> bool {
        now >= self.start + self.duration
    }

    pub fn len(&self) -> usize {
        self.to.len()
    }

    pub fn is_empty(&self) -> bool {
        self.to.is_empty()
    }
}

/// Mean Euclidean distance between matching points.
pub fn mean_distance(a: &[[f32; 2]], b: &[[f32; 2]]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(p, q)| f64::from((p[0] - q[0]).hypot(p[1] - q[1])))
        .filter(|d| d.is_finite())
        .sum();
    sum / a.len() as f64
}

/// Largest distance any point moved between two frames.
pub fn max_distance(a: &[[f32; 2]], b: &[[f32; 2]]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that jumps: from a spiral-like start to a far first frame, then smaller steps.
    fn frames(n: usize, count: usize) -> Vec<Vec<[f32; 2]>> {
        (0..count)
            .map(|k| {
                let r = 0.1 + 0.4 * (1.0 - (-(k as f32) / 10.0).exp());
                (0..n)
                    .map(|i| {
                        let a = i as f32 * 0.7 + k as f32 * 0.01;
                        [0.5 + r * a.cos(), 0.5 + r * a.sin()]
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn plays_eased_monotone_without_jumps_over_the_duration() {
        let n = 50;
        let from: Vec<[f32; 2]> = vec![[0.5, 0.5]; n];
        let run = frames(n, 40);
        let mut p = Playback::new(from.clone(), 4.0);
        // everything computed almost at once, as our t-SNE does
        for (k, f) in run.iter().enumerate() {
            assert!(p.push(f.clone(), (k + 1) as f64 / run.len() as f64));
        }
        p.finish();
        let total = {
            let mut t = f64::from(max_distance(&from, &run[0]));
            for w in run.windows(2) {
                t += f64::from(max_distance(&w[0], &w[1]));
            }
            t
        };
        let mut prev = from.clone();
        let mut last_pos = 0.0;
        let mut steps = vec![];
        let dt = 1.0 / 60.0;
        let mut now = 0.0;
        while !p.finished() {
            assert!(now < 10.0, "ends");
            let shown = p.sample(now).to_vec();
            assert!(p.position() >= last_pos, "monotone");
            steps.push(p.position() - last_pos);
            last_pos = p.position();
            // no point jumps more than the pace allows (plus the interpolation's slack)
            let jump = max_distance(&prev, &shown);
            let bound = MAX_SPEED * total / 4.0 * dt;
            assert!(
                f64::from(jump) <= bound + 1e-6,
                "jump {jump} > {bound} at {now}"
            );
            prev = shown;
            now += dt;
        }
        assert!((3.9..4.2).contains(&now), "takes the duration: {now}");
        assert_eq!(
            p.current(),
            &run[run.len() - 1][..],
            "ends on the last frame"
        );
        // eased: slow at both ends, fastest in the middle
        let m = steps.len();
        let mid = steps[m / 2];
        assert!(
            steps[1] < mid * 0.2 && steps[m - 2] < mid * 0.2,
            "{steps:?}"
        );
        assert!(
            (last_pos - total).abs() < 1e-9,
            "the whole arc: {last_pos} vs {total}"
        );
    }

    #[test]
    fn a_slow_run_is_shown_as_it_computes_and_never_ahead() {
        let n = 10;
        let run = frames(n, 20);
        let mut p = Playback::new(vec![[0.5, 0.5]; n], 1.0);
        let mut now = 0.0;
        for (k, f) in run.iter().enumerate() {
            p.push(f.clone(), (k + 1) as f64 / 100.0);
            for _ in 0..20 {
                p.sample(now);
                now += 1.0 / 60.0;
            }
            // never beyond the frame just computed
            assert!(p.position() <= p.arc.last().copied().unwrap() + 1e-12);
        }
        assert!(!p.finished());
        p.finish();
        for _ in 0..600 {
            p.sample(now);
            now += 1.0 / 60.0;
        }
        assert!(p.finished());
        assert_eq!(p.current(), &run[19][..]);
        // a frame of another size is refused
        assert!(!p.push(vec![[0.0, 0.0]; 3], 1.0));
    }

    #[test]
    fn cells_glide_eased_from_start_to_end() {
        let g = CellGlide::new(
            vec![[0.0, 0.0], [5.0, 1.0]],
            vec![[2.0, 0.0], [5.0, 1.0]],
            1.0,
            2.0,
        );
        assert_eq!(g.sample(0.0), vec![[0.0, 0.0], [5.0, 1.0]]);
        assert_eq!(g.sample(2.0), vec![[1.0, 0.0], [5.0, 1.0]]);
        assert_eq!(g.sample(3.5), vec![[2.0, 0.0], [5.0, 1.0]]);
        assert!(g.sample(1.2)[0][0] < 0.2, "eased in");
        assert!(!g.finished(2.9) && g.finished(3.0));
    }

    #[test]
    fn a_run_that_does_not_move_ends_at_once() {
        let pts = vec![[0.2, 0.3]; 4];
        let mut p = Playback::new(pts.clone(), 4.0);
        p.push(pts.clone(), 1.0);
        p.finish();
        p.sample(0.0);
        assert!(p.finished());
        assert_eq!(p.current(), &pts[..]);
    }
}
