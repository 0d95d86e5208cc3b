//! Detail streaming: keeps the renderer's detail tier filled with what the camera shows.
//!
//! Per frame ([`DetailStream::update`]):
//! 1. **plan** (when the camera or layout moved, and every few frames while images arrive):
//!    [`QuadRenderer::plan_detail`] lists the visible images that need more than their base
//!    cell, most urgent first; their resident slots are marked used (LRU);
//! 2. **request**: the ones not yet at their level go to the [`DetailLoader`]'s queue, which is
//!    *replaced* each time, so requests for images that left the view are dropped before they
//!    are decoded; a result that arrives for an image no longer wanted is dropped too;
//! 3. **upload**: finished cells are uploaded under a per-frame byte budget
//!    ([`DetailStream::upload_budget`], default 8 MiB, at least one cell a frame), so streaming
//!    never stalls a frame; a full level evicts its least recently used image that is off
//!    screen.
//!
//! An image whose larger version cannot be made keeps drawing from the base atlas; it is
//! reported once ([`DetailStream::take_warnings`]) and not asked for again.

use crate::cache::Cache;
use crate::detail::decode::load_detail;
use crate::render::detail::{
    detail_gutter, level_for_side, prepare_detail, PreparedDetail, DEFAULT_UPLOAD_BYTES_PER_FRAME,
    DETAIL_SIDES,
};
use crate::render::{Camera, LayoutParams, QuadRenderer};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};

/// One decode request.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Image index.
    pub index: usize,
    /// Detail level wanted.
    pub level: usize,
    /// The image file.
    pub path: PathBuf,
}

/// A finished request.
#[derive(Debug)]
pub struct Loaded {
    /// Image index.
    pub index: usize,
    /// The cell (its level may be lower than asked for when the source is small), or why
    /// there is none.
    pub result: Result<PreparedDetail, String>,
    /// The source's long side when it is smaller than the size asked for (0: it is not).
    pub side: u32,
}

#[derive(Default)]
struct Queue {
    /// Most urgent last (popped from the end).
    jobs: Vec<Job>,
    running: HashSet<usize>,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    cache: Cache,
}

/// Worker threads that decode larger versions (cache first) and prepare their cells.
pub struct DetailLoader {
    shared: Arc<Shared>,
    rx: Receiver<Loaded>,
}

impl DetailLoader {
    /// `threads` decoding threads (at least one) reading and writing `cache`.
    pub fn new(cache: Cache, threads: usize) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            cache,
        });
        let (tx, rx) = channel();
        for i in 0..threads.max(1) {
            let (shared, tx) = (shared.clone(), tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("itl-detail-{i}"))
                .spawn(move || worker(&shared, &tx));
            if let Err(e) = spawned {
                log::warn!("cannot start a detail decoding thread: {e}");
            }
        }
        Self { shared, rx }
    }

    /// Replaces the queue with `jobs` (most urgent first); jobs already running are skipped.
    pub fn set_jobs(&self, mut jobs: Vec<Job>) {
        let Ok(mut q) = self.shared.queue.lock() else {
            return;
        };
        jobs.retain(|j| !q.running.contains(&j.index));
        jobs.reverse();
        q.jobs = jobs;
        drop(q);
        self.shared.wake.notify_all();
    }

    /// Jobs queued or running.
    pub fn busy(&self) -> usize {
        self.shared
            .queue
            .lock()
            .map(|q| q.jobs.len() + q.running.len())
            .unwrap_or(0)
    }

    /// Finished results so far.
    pub fn try_recv(&self) -> Option<Loaded> {
        self.rx.try_recv().ok()
    }
}

impl Drop for DetailLoader {
    fn drop(&mut self) {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.stop = true;
            q.jobs.clear();
        }
        self.shared.wake.notify_all();
    }
}

/// Lowers the calling thread's priority (Linux: nice is per thread), so decoding yields the
/// CPU to the render loop — on a software rasterizer the frame is CPU work too.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; who = 0 is the calling thread on Linux.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

fn worker(shared: &Shared, tx: &Sender<Loaded>) {
    lower_priority();
    loop {
        let job = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            loop {
                if q.stop {
                    return;
                }
                if let Some(job) = q.jobs.pop() {
                    q.running.insert(job.index);
                    break job;
                }
                q = match shared.wake.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            load_job(&job, &shared.cache)
        }))
        .unwrap_or_else(|_| Loaded {
            index: job.index,
            result: Err("internal error while decoding".into()),
            side: 0,
        });
        // sent before the job leaves `running`: the stream sees the result before it could ask
        // for the same image again
        if tx.send(loaded).is_err() {
            return;
        }
        if let Ok(mut q) = shared.queue.lock() {
            q.running.remove(&job.index);
        }
    }
}

/// Decode one job: the larger version from the cache or the file, at the inner size of its
/// level's cell, then its cell at the level that fits it.
pub fn load_job(job: &Job, cache: &Cache) -> Loaded {
    let side = DETAIL_SIDES[job.level.min(DETAIL_SIDES.len() - 1)];
    let inner = side - 2 * detail_gutter(side);
    let fail = |e: String| Loaded {
        index: job.index,
        result: Err(e),
        side: 0,
    };
    let img = match load_detail(&job.path, cache, inner) {
        Ok(img) => img,
        Err(e) => return fail(e.to_string()),
    };
    let long = img.width().max(img.height());
    let level = level_for_side(long).min(job.level);
    match prepare_detail(level, &img) {
        Ok(cell) => Loaded {
            index: job.index,
            result: Ok(cell),
            // shorter than asked for: the source itself is that small
            side: if long < inner { long } else { 0 },
        },
        Err(e) => fail(e.to_string()),
    }
}

/// What a frame of streaming did and where it stands.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    /// Visible images that need a detail level.
    pub wanted: usize,
    /// Of those, the ones at their level (or that cannot get better: small source, failed).
    pub satisfied: usize,
    /// Cells uploaded this frame and their bytes.
    pub uploads: usize,
    pub uploaded_bytes: u64,
    /// Requests queued or decoding, and results waiting for upload budget.
    pub busy: usize,
}

impl Progress {
    /// Every visible image is drawn at its target level.
    pub fn complete(&self) -> bool {
        self.satisfied == self.wanted && self.busy == 0
    }
}

/// Totals since the stream started.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamTotals {
    pub uploads: u64,
    pub uploaded_bytes: u64,
    pub evictions: u64,
    /// Cells dropped because every slot of their level held an image on screen.
    pub no_slot: u64,
    /// Results dropped because their image had left the view.
    pub dropped: u64,
}

/// Camera + layout as compared between frames.
type ViewKey = [u32; 9];

fn view_key(camera: &Camera, layout: &LayoutParams) -> ViewKey {
    [
        camera.center[0].to_bits(),
        camera.center[1].to_bits(),
        camera.zoom.to_bits(),
        camera.viewport[0].to_bits(),
        camera.viewport[1].to_bits(),
        layout.t.to_bits(),
        layout.tsne_scale.to_bits(),
        layout.image_size.to_bits(),
        layout.grid_gap.to_bits(),
    ]
}

/// Re-plan at least this often (frames) while the view is still: thumbnails and t-SNE
/// positions that arrive change what is needed.
const REPLAN_EVERY: u64 = 15;

/// The per-renderer streaming state (see the module docs).
pub struct DetailStream {
    loader: DetailLoader,
    /// Image `i` is `paths[i]`; grows with the scene (see [`DetailStream::sync_paths`]).
    paths: Vec<PathBuf>,
    /// Images joined since the last plan: plan again at the next frame.
    grown: bool,
    frame: u64,
    last_key: Option<ViewKey>,
    last_plan: u64,
    /// Wanted level per visible image, from the last plan.
    wanted: HashMap<usize, usize>,
    /// Wanted images, most urgent first.
    order: Vec<usize>,
    /// Long side of the sources found smaller than a level asked for.
    source_side: HashMap<usize, u32>,
    failed: HashSet<usize>,
    /// Images that found every slot of their level held by images on screen (cleared when
    /// the view changes).
    no_slot: HashSet<usize>,
    pending: Vec<Loaded>,
    warnings: Vec<String>,
    /// Bytes uploaded per frame at most (at least one cell is uploaded per frame).
    pub upload_budget: u64,
    /// Totals since creation.
    pub totals: StreamTotals,
}

impl DetailStream {
    /// A stream for a renderer showing `paths` (image `i` is `paths[i]`), decoding on
    /// `threads` threads with `cache`.
    pub fn new(paths: Vec<PathBuf>, cache: Cache, threads: usize) -> Self {
        Self {
            loader: DetailLoader::new(cache, threads),
            paths,
            grown: false,
            frame: 0,
            last_key: None,
            last_plan: 0,
            wanted: HashMap::new(),
            order: Vec::new(),
            source_side: HashMap::new(),
            failed: HashSet::new(),
            no_slot: HashSet::new(),
            pending: Vec::new(),
            warnings: Vec::new(),
            upload_budget: DEFAULT_UPLOAD_BYTES_PER_FRAME,
            totals: StreamTotals::default(),
        }
    }

    /// Keeps the stream's paths in step with its scene's, which only ever grow (images that
    /// join a watched map are appended; removed ones stay, hidden): the paths past the ones
    /// known are taken and planned for at the next frame. Without this, images that joined
    /// after the stream was made would never be asked for (a plan skips indices it has no
    /// path for) and stay at base-atlas resolution. O(1) when nothing joined, so it can be
    /// called every frame.
    pub fn sync_paths(&mut self, paths: &[PathBuf]) {
        if paths.len() > self.paths.len() {
            self.paths.extend_from_slice(&paths[self.paths.len()..]);
            self.grown = true;
        }
    }

    /// Images the stream has paths for.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether the stream has no images.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Warnings since the last call (one per image whose larger version failed).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The level image `index` can usefully get for `want` (a small source caps it; a level
    /// without slots is replaced by the nearest one with slots).
    fn target_level(&self, r: &QuadRenderer, index: usize, want: usize) -> usize {
        let want = match self.source_side.get(&index) {
            Some(&side) => level_for_side(side).min(want),
            None => want,
        };
        r.detail_tier().plan().usable_level(want).unwrap_or(want)
    }

    fn satisfied(&self, r: &mut QuadRenderer, index: usize, want: usize) -> bool {
        if self.failed.contains(&index) || self.no_slot.contains(&index) {
            return true;
        }
        let target = self.target_level(r, index, want);
        if DETAIL_SIDES[target] <= r.atlas_plan().cell_size {
            return true;
        }
        r.touch_detail(index, self.frame)
            .is_some_and(|have| have >= target)
    }

    /// One frame of streaming for `renderer` drawn with `camera` and `layout`; uploads go
    /// through `queue` (`device`: the tier allocates its levels as they fill). Never blocks on
    /// decoding; never panics on bad files.
    pub fn update(
        &mut self,
        renderer: &mut QuadRenderer,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        camera: &Camera,
        layout: &LayoutParams,
    ) -> Progress {
        self.frame += 1;
        while let Some(l) = self.loader.try_recv() {
            self.pending.push(l);
        }
        let key = view_key(camera, layout);
        let enabled = renderer.detail_tier().plan().enabled();
        if enabled
            && (self.last_key != Some(key)
                || self.grown
                || self.frame - self.last_plan >= REPLAN_EVERY)
        {
            self.grown = false;
            if self.last_key != Some(key) {
                self.no_slot.clear();
            }
            self.last_key = Some(key);
            self.last_plan = self.frame;
            self.replan(renderer, camera, layout);
        }
        let (uploads, uploaded_bytes) = self.upload(renderer, device, queue);
        let mut satisfied = 0;
        for &i in &self.order {
            let want = self.wanted[&i];
            if self.satisfied(renderer, i, want) {
                satisfied += 1;
            }
        }
        Progress {
            wanted: self.order.len(),
            satisfied,
            uploads,
            uploaded_bytes,
            busy: self.loader.busy() + self.pending.len(),
        }
    }

    fn replan(&mut self, r: &mut QuadRenderer, camera: &Camera, layout: &LayoutParams) {
        let wants = r.plan_detail(camera, layout);
        self.wanted = wants.iter().map(|w| (w.index, w.level)).collect();
        self.order = wants.iter().map(|w| w.index).collect();
        let waiting: HashSet<usize> = self.pending.iter().map(|l| l.index).collect();
        let mut jobs = Vec::new();
        for w in &wants {
            if self.satisfied(r, w.index, w.level) || waiting.contains(&w.index) {
                continue;
            }
            let Some(path) = self.paths.get(w.index) else {
                continue;
            };
            jobs.push(Job {
                index: w.index,
                level: self.target_level(r, w.index, w.level),
                path: path.clone(),
            });
        }
        self.loader.set_jobs(jobs);
    }

    fn upload(
        &mut self,
        r: &mut QuadRenderer,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> (usize, u64) {
        let (mut n, mut bytes) = (0usize, 0u64);
        // most urgent first
        let rank: HashMap<usize, usize> = self
            .order
            .iter()
            .enumerate()
            .map(|(k, &i)| (i, k))
            .collect();
        self.pending
            .sort_by_key(|l| std::cmp::Reverse(rank.get(&l.index).copied().unwrap_or(usize::MAX)));
        while let Some(loaded) = self.pending.pop() {
            let index = loaded.index;
            let cell = match loaded.result {
                Ok(cell) => cell,
                Err(reason) => {
                    if self.failed.insert(index) {
                        let name = self
                            .paths
                            .get(index)
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| format!("image {index}"));
                        let text =
                            format!("{name}: no larger version ({reason}); showing its thumbnail");
                        log::warn!("{text}");
                        self.warnings.push(text);
                    }
                    continue;
                }
            };
            if loaded.side > 0 {
                self.source_side.insert(index, loaded.side);
            }
            if !self.wanted.contains_key(&index) {
                self.totals.dropped += 1;
                continue;
            }
            let have = r.touch_detail(index, self.frame);
            if have.is_some_and(|h| h >= cell.level)
                || DETAIL_SIDES
                    .get(cell.level)
                    .is_none_or(|&side| side <= r.atlas_plan().cell_size)
            {
                continue;
            }
            if n > 0 && bytes + cell.bytes() > self.upload_budget {
                self.pending.push(Loaded {
                    index,
                    result: Ok(cell),
                    side: loaded.side,
                });
                break;
            }
            let wanted = &self.wanted;
            match r.set_detail(device, queue, index, &cell, self.frame, |i| {
                wanted.contains_key(&i)
            }) {
                Ok(evicted) => {
                    n += 1;
                    bytes += cell.bytes();
                    self.totals.uploads += 1;
                    self.totals.uploaded_bytes += cell.bytes();
                    self.totals.evictions += evicted.is_some() as u64;
                }
                Err(_) => {
                    self.totals.no_slot += 1;
                    self.no_slot.insert(index);
                }
            }
        }
        (n, bytes)
    }
}
