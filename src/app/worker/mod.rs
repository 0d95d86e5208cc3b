//! Background work for the live app: analysis, loading a layout, re-running t-SNE, saving,
//! dialogs and the lightbox image — each on its own thread, reporting to the UI over a channel
//! ([`Msg`]) so a frame never waits for disk or computation. Jobs stop promptly when their
//! cancel flag is set.
//!
//! What goes over the channel is in [`crate::app::protocol`]. Rooms: [`jobs`] (analyze, load, re-run),
//! [`reporter`] (progress for the GUI), [`saving`], [`dialogs`], [`lightbox`], [`reload`]
//! (thumbnails back onto a rebuilt GPU atlas), [`newcomers`] (new images join the map, removed
//! ones leave, through [`crate::map::grow()`]), [`watching`] (the folder watch and the autosave),
//! [`clusters`] (the map's named clusters).

mod clusters;
mod dialogs;
mod jobs;
mod lightbox;
mod newcomers;
mod reload;
mod reporter;
mod saving;
mod watching;

pub use watching::write_autosave;

use crate::app::protocol::{capacity_with_headroom, AutosaveRequest, DialogKind, JobRequest, Msg};
use crate::cache::Cache;
use crate::features::FeatureModel;
use crate::pipeline::{self, AnalyzeOptions};
use anyhow::{anyhow, Result};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};

/// Send a live t-SNE frame every this many iterations.
pub const TSNE_FRAME_EVERY: usize = 5;

/// What all background work shares: the channel, the analysis options (cache, model, PCA size,
/// t-SNE iterations and seed — the same [`AnalyzeOptions`] as the `analyze` command), the model
/// (loaded once).
pub struct Workers {
    tx: Sender<Msg>,
    pub cache: Cache,
    options: AnalyzeOptions,
    model: OnceLock<Result<Arc<FeatureModel>, String>>,
    pool: Option<Arc<rayon::ThreadPool>>,
    /// Files being written right now (the app waits for them before it exits).
    saving: Arc<std::sync::atomic::AtomicUsize>,
    /// The autosave thread's queue, once started.
    autosaver: std::sync::Mutex<Option<std::sync::mpsc::Sender<AutosaveRequest>>>,
    /// Plan atlases with room for images that will join (a watched map grows).
    pub headroom: std::sync::atomic::AtomicBool,
}

impl Workers {
    /// Workers that analyze with `options` (its `max_images`, perplexity and theta are
    /// replaced by the sliders' values for each job).
    pub fn new(tx: Sender<Msg>, options: AnalyzeOptions) -> Arc<Self> {
        // Leave a core for the render loop when there are several.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(if threads > 2 { threads - 1 } else { threads })
            .thread_name(|i| format!("itl-worker-{i}"))
            .build()
            .ok()
            .map(Arc::new);
        Arc::new(Workers {
            tx,
            cache: options.cache.clone(),
            options,
            model: OnceLock::new(),
            pool,
            saving: Default::default(),
            autosaver: Default::default(),
            headroom: Default::default(),
        })
    }

    /// Images an atlas is planned for when a scene has `count`: with room for a quarter more
    /// (at least 16) when maps grow, so that new images go into free cells.
    pub fn capacity_for(&self, count: usize) -> usize {
        if self.headroom.load(std::sync::atomic::Ordering::Relaxed) {
            capacity_with_headroom(count)
        } else {
            count
        }
    }

    fn model(&self) -> Result<Arc<FeatureModel>> {
        self.model
            .get_or_init(|| {
                FeatureModel::load(self.options.model.as_deref())
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(|e| anyhow!(e))
    }

    fn send(&self, msg: Msg) {
        // The UI is gone when this fails: nothing to do.
        let _ = self.tx.send(msg);
    }

    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Run `f` on a new named thread. When the thread cannot be started the failure is
    /// returned (the caller tells the UI; nothing is dropped in silence).
    fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map(|_| ())
    }

    /// Start a job on its own thread. If no thread can be started the job fails at once
    /// (the UI ends it and says why), so the app never waits for a job that does not run.
    pub fn start(self: &Arc<Self>, request: JobRequest) {
        let job = request.job();
        let this = self.clone();
        let spawned = self.spawn("itl-job", move || {
            // A panic in a stage (a decoder, the CNN runtime, a solver) ends the job with an
            // error instead of leaving the UI waiting for a job that will never finish.
            let run = || {
                this.install(|| match request {
                    JobRequest::Analyze(r) => {
                        this.analyze(r.job, r.dir.as_deref(), r.paths, r.settings, r.cancel)
                    }
                    JobRequest::Load(r) => this.load(r.job, &r.path, r.cancel),
                    JobRequest::Retsne(r) => this.retsne(r),
                    JobRequest::Grow(r) => this.grow(r),
                })
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    Err(anyhow!("internal error in the background job: {what}"))
                });
            match result {
                Ok(()) => this.send(Msg::Done { job }),
                Err(e) if pipeline::is_cancelled(&e) => {}
                Err(e) => this.send(Msg::Failed {
                    job,
                    error: format!("{e:#}"),
                }),
            }
        });
        if let Err(e) = spawned {
            log::error!("cannot start a worker thread: {e}");
            self.send(Msg::Failed {
                job,
                error: format!("cannot start a worker thread: {e}"),
            });
        }
    }

    /// Find out off the render thread whether `path` is a folder (analyze) or a file (load).
    pub fn open(self: &Arc<Self>, path: PathBuf) {
        let this = self.clone();
        let fallback = path.clone();
        let spawned = self.spawn("itl-open", move || {
            let is_dir = path.is_dir();
            this.send(Msg::Opened { path, is_dir });
        });
        if let Err(e) = spawned {
            log::error!("cannot start a thread to open {}: {e}", fallback.display());
            self.send(Msg::DialogResult {
                kind: DialogKind::LoadJson,
                result: Err(format!("cannot open {}: {e}", fallback.display())),
            });
        }
    }
}
