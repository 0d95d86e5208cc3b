//! The GPU side of the glue: one [`QuadRenderer`] per scene on the window's device, the
//! state's GPU effects carried out, whole-layout screenshots rendered a tile per frame (so the
//! window keeps its frame rate), and uncaptured GPU errors survived: each kind is logged once,
//! all are counted in the status line, and after an out-of-memory or device-lost error the
//! renderers are rebuilt from what the app keeps (positions, grid, thumbnails on disk).
//! Each renderer has a detail tier (larger versions of the images on screen) that a
//! [`DetailStream`] keeps filled from the camera, a few MB of uploads per frame.

use super::state::{AppState, Scene};
use super::worker::Workers;
use crate::detail::stream::DetailStream;
use crate::render::{
    detail_budget, DetailPlan, GpuErrorKind, GpuErrorLog, OffscreenJob, QuadRenderer,
    ScreenshotOptions, TargetDesc, DEFAULT_GPU_MEMORY_BYTES, MAX_OOM_HALVINGS,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Seconds between two rebuilds (a device that stays broken is not rebuilt every frame).
const REBUILD_BACKOFF_SECONDS: f64 = 5.0;

/// A whole-layout screenshot being rendered, one tile per frame.
struct ScreenshotTask {
    scene: u64,
    path: PathBuf,
    job: OffscreenJob,
    /// Frames drawn since the job started (the window keeps presenting meanwhile).
    frames: u64,
}

/// What a finished screenshot job reports.
pub struct FinishedScreenshot {
    pub path: PathBuf,
    pub result: crate::render::Result<image::RgbaImage>,
    pub tiles: u32,
    pub frames: u64,
}

/// The renderers and GPU bookkeeping of the window.
pub struct Gpu {
    pub renderers: HashMap<u64, QuadRenderer>,
    /// The atlas plan of every scene the app shows or builds, whether or not its renderer
    /// exists right now (a rebuild makes the missing ones).
    plans: HashMap<u64, crate::render::AtlasPlan>,
    /// Messages for the user that the glue shows (e.g. a screenshot that had to be dropped).
    pub notices: Vec<String>,
    pub errors: GpuErrorLog,
    target: TargetDesc,
    screenshot: Option<ScreenshotTask>,
    last_rebuild: Option<f64>,
    /// A rebuild is wanted but waits for the back-off.
    rebuild_pending: bool,
    /// Renderers rebuilt so far (after device loss or out-of-memory).
    pub rebuilds: u64,
    /// GPU memory for images, base atlas and detail tier together (`--gpu-memory`).
    pub gpu_memory: u64,
    /// Detail streaming per scene (made when the scene is first drawn).
    streams: HashMap<u64, DetailStream>,
    /// Times the device ran out of memory: each halves the detail tier (see [`detail_budget`]).
    oom_halvings: u32,
    /// Decoding threads per detail stream: half the cores (asked once, not every frame).
    detail_threads: usize,
}

impl Gpu {
    /// Take over `device`'s uncaptured errors (wgpu's default handler would panic).
    pub fn new(device: &wgpu::Device, target: TargetDesc) -> Self {
        let errors = GpuErrorLog::new();
        errors.install(device);
        Gpu {
            renderers: HashMap::new(),
            plans: HashMap::new(),
            notices: Vec::new(),
            errors,
            target,
            screenshot: None,
            last_rebuild: None,
            rebuild_pending: false,
            rebuilds: 0,
            gpu_memory: DEFAULT_GPU_MEMORY_BYTES,
            streams: HashMap::new(),
            oom_halvings: 0,
            detail_threads: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 2).max(1)),
        }
    }

    /// `--gpu-memory` in MiB (the base atlas keeps its own plan; the detail tier gets the
    /// rest, none when the atlas alone needs more).
    pub fn with_gpu_memory(mut self, mebibytes: u64) -> Self {
        self.gpu_memory = mebibytes.saturating_mul(1024 * 1024);
        self
    }

    /// The detail tier of a scene whose base atlas is `plan`: what is left of `gpu_memory`
    /// (less after out-of-memory errors).
    fn detail_plan(&self, device: &wgpu::Device, plan: &crate::render::AtlasPlan) -> DetailPlan {
        let budget = detail_budget(self.gpu_memory, plan.bytes, self.oom_halvings);
        DetailPlan::new(budget, &device.limits())
    }

    /// One frame of detail streaming for the scene on screen: plan from the camera (or from
    /// `focus`, the lightbox's camera while the outputs draw one), start decodes, upload what
    /// is ready within the frame's budget. Warnings go to the panel.
    pub fn stream_details(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        state: &mut AppState,
        cache: &crate::cache::Cache,
        focus: Option<crate::render::Camera>,
    ) {
        let Some(scene) = state.shown() else {
            return;
        };
        let id = scene.id;
        let Some(renderer) = self.renderers.get_mut(&id) else {
            return;
        };
        if !renderer.detail_tier().plan().enabled() {
            return;
        }
        let threads = self.detail_threads;
        let stream = self
            .streams
            .entry(id)
            .or_insert_with(|| DetailStream::new(scene.paths.clone(), cache.clone(), threads));
        // images that joined a watched map since the stream was made
        stream.sync_paths(&scene.paths);
        let layout = state.layout_params();
        let camera = focus.unwrap_or(state.camera);
        stream.update(renderer, device, queue, &camera, &layout);
        for text in stream.take_warnings() {
            state.warn(text);
        }
    }

    /// A renderer for a new scene.
    pub fn create_scene(
        &mut self,
        device: &wgpu::Device,
        scene: u64,
        plan: crate::render::AtlasPlan,
    ) -> crate::render::Result<()> {
        self.plans.insert(scene, plan);
        let mut detail = self.detail_plan(device, &plan);
        let renderer = match QuadRenderer::with_detail(device, self.target, plan, detail) {
            Ok(r) => r,
            Err(e) if detail.enabled() => {
                // the images still show, from the base atlas
                log::warn!("no detail tier ({e}); drawing from the base atlas only");
                self.oom_halvings = MAX_OOM_HALVINGS;
                detail = DetailPlan::disabled();
                QuadRenderer::with_detail(device, self.target, plan, detail)?
            }
            Err(e) => return Err(e),
        };
        eprintln!(
            "GPU memory for images: {:.0} MiB = base atlas {:.1} MiB ({} px cells) + {}",
            self.gpu_memory as f64 / 1048576.0,
            plan.mebibytes(),
            plan.cell_size,
            detail
        );
        log::info!("{}", renderer.atlas_plan());
        self.renderers.insert(scene, renderer);
        Ok(())
    }

    pub fn drop_scene(&mut self, scene: u64) {
        self.renderers.remove(&scene);
        self.streams.remove(&scene);
        self.plans.remove(&scene);
        if self.screenshot.as_ref().is_some_and(|s| s.scene == scene) {
            self.drop_screenshot("its layout was replaced");
        }
    }

    /// Give up the screenshot being rendered, and say so.
    fn drop_screenshot(&mut self, why: &str) {
        if let Some(task) = self.screenshot.take() {
            let text = format!("screenshot {} not saved: {why}", task.path.display());
            log::warn!("{text}");
            self.notices.push(text);
        }
    }

    /// GPU bytes held by all renderers.
    pub fn bytes(&self) -> u64 {
        self.renderers.values().map(QuadRenderer::gpu_bytes).sum()
    }

    /// Whether a screenshot is being rendered, as `(tiles done, tiles in all)`.
    pub fn screenshot_progress(&self) -> Option<(u32, u32)> {
        self.screenshot
            .as_ref()
            .map(|s| (s.job.tiles_done(), s.job.total_tiles()))
    }

    /// Start a whole-layout screenshot of `scene`; its tiles are about half the window's
    /// pixels, so that a frame that also renders a tile takes at most about twice as long.
    pub fn start_screenshot(
        &mut self,
        device: &wgpu::Device,
        state: &AppState,
        background: [u8; 3],
        path: PathBuf,
    ) -> Result<[u32; 2], String> {
        if self.screenshot.is_some() {
            return Err("a screenshot is still being rendered; try again when it is saved".into());
        }
        let scene = state.shown().ok_or("nothing to save yet")?;
        let renderer = self
            .renderers
            .get(&scene.id)
            .ok_or("the layout is not on the GPU yet")?;
        let [w, h] = state.camera.viewport;
        let tile = crate::render::tile_for_window(w, h);
        let mut opts = ScreenshotOptions::default();
        let [r, g, b] = background;
        opts.offscreen.background = [r, g, b, 255];
        opts.offscreen.max_tile = tile;
        // The layout at the blend the view is heading to (not mid-glide).
        let layout = state.layout_params().with_t(state.target_t());
        let job = renderer
            .start_screenshot(device, &layout, &opts)
            .map_err(|e| format!("screenshot failed: {e}"))?;
        let size = job.size();
        self.screenshot = Some(ScreenshotTask {
            scene: scene.id,
            path,
            job,
            frames: 0,
        });
        Ok(size)
    }

    /// Advance the screenshot by at most one tile; never waits for the GPU unless `finish`
    /// (quitting: the file the user asked for is still written).
    pub fn step_screenshot(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        finish: bool,
    ) -> Option<FinishedScreenshot> {
        let task = self.screenshot.as_mut()?;
        task.frames += 1;
        let Some(renderer) = self.renderers.get(&task.scene) else {
            self.drop_screenshot("its layout is not on the GPU");
            return None;
        };
        let result = loop {
            match task.job.step(renderer, device, queue, finish) {
                Ok(Some(image)) => break Ok(image),
                Ok(None) if finish => continue,
                Ok(None) => return None,
                Err(e) => break Err(e),
            }
        };
        let task = self.screenshot.take()?;
        Some(FinishedScreenshot {
            path: task.path,
            result,
            tiles: task.job.total_tiles(),
            frames: task.frames,
        })
    }

    /// Look at the GPU errors since the last frame: report new ones to the state (once per
    /// kind is logged by the log itself), and rebuild the renderers after a device loss or
    /// an out-of-memory error. Returns whether a rebuild happened.
    pub fn check_errors(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        state: &mut AppState,
        workers: &Arc<Workers>,
        now: f64,
    ) -> bool {
        let fresh = self.errors.take_new();
        state.overlays.gpu_errors = self.errors.total();
        for (kind, message) in &fresh {
            // each distinct error once in the panel (the count is in the status line)
            if !state
                .overlays
                .warnings
                .iter()
                .any(|w| w.ends_with(message.as_str()))
            {
                state.warn(format!("GPU error ({kind:?}); the app goes on: {message}"));
            }
        }
        if fresh.iter().any(|(k, _)| *k == GpuErrorKind::OutOfMemory)
            && self.oom_halvings < MAX_OOM_HALVINGS
        {
            self.oom_halvings += 1;
            let left = self
                .plans
                .values()
                .map(|p| detail_budget(self.gpu_memory, p.bytes, self.oom_halvings))
                .max()
                .unwrap_or(0);
            let text = format!(
                "out of GPU memory: the detail tier gets {:.0} MiB from now on",
                left as f64 / 1048576.0
            );
            eprintln!("{text}");
            state.warn(text);
        }
        if fresh.iter().any(|(k, _)| *k != GpuErrorKind::Validation) | self.errors.take_rebuild() {
            self.rebuild_pending = true;
        }
        let backing_off = self
            .last_rebuild
            .is_some_and(|t| now - t < REBUILD_BACKOFF_SECONDS);
        if !self.rebuild_pending || backing_off {
            return false;
        }
        self.rebuild_pending = false;
        self.last_rebuild = Some(now);
        self.rebuild(device, queue, state, workers);
        true
    }

    /// Throw away every renderer and make them anew from the state (positions, grid cells,
    /// visibility) and the thumbnails on disk, which a worker streams back in. Every scene with
    /// a plan is made, also one whose renderer could not be created before. The old renderers go
    /// first (after out-of-memory their memory is needed); if a new one cannot be made, the
    /// plans stay and the next try (after the back-off) makes them all. Success is announced
    /// only when every scene has its renderer again.
    pub fn rebuild(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        state: &mut AppState,
        workers: &Arc<Workers>,
    ) {
        self.drop_screenshot("the GPU resources were rebuilt");
        self.renderers.clear();
        self.streams.clear();
        let mut fresh = HashMap::new();
        for (&id, &plan) in &self.plans {
            let Some(scene) = find_scene(state, id) else {
                continue;
            };
            let detail = self.detail_plan(device, &plan);
            let result =
                QuadRenderer::with_detail(device, self.target, plan, detail).and_then(|mut r| {
                    upload_scene(&mut r, queue, scene)?;
                    Ok(r)
                });
            match result {
                Ok(r) => {
                    fresh.insert(id, (r, scene.paths.clone()));
                }
                Err(e) => {
                    let text = format!("cannot rebuild the GPU resources: {e}; retrying");
                    state.error(text.clone());
                    state.warn(text);
                    // try again after the back-off
                    self.rebuild_pending = true;
                    return;
                }
            }
        }
        for (id, (r, paths)) in fresh {
            workers.reload_cells(id, paths, *r.atlas_plan());
            self.renderers.insert(id, r);
        }
        self.rebuilds += 1;
        log::warn!(
            "GPU resources rebuilt (#{}) after a GPU error",
            self.rebuilds
        );
        state.notify("the GPU resources were rebuilt after a GPU error");
    }
}

/// A scene of the state by id (the one being built or the current one).
pub fn find_scene(state: &AppState, id: u64) -> Option<&Scene> {
    state
        .pending
        .iter()
        .chain(state.current.iter())
        .find(|s| s.id == id)
}

/// Hide the renderer's slots from `len` on (room for images that will join a growing map).
pub fn hide_free_slots(
    r: &mut QuadRenderer,
    queue: &wgpu::Queue,
    len: usize,
) -> crate::render::Result<()> {
    for i in len..r.len() {
        r.set_hidden(queue, i, true)?;
    }
    Ok(())
}

/// Upload what the state knows of a scene (not the thumbnails): t-SNE points, grid cells and
/// the hidden (skipped) images.
fn upload_scene(
    r: &mut QuadRenderer,
    queue: &wgpu::Queue,
    scene: &Scene,
) -> crate::render::Result<()> {
    // a growing scene's atlas has free slots: padded and hidden
    let mut points = scene.points.clone();
    points.resize(r.len(), [0.5, 0.5]);
    r.update_tsne_positions(queue, &points)?;
    let mut cells = scene
        .grid
        .as_ref()
        .map(|g| g.cells.clone())
        .unwrap_or_else(|| vec![[0, 0]; scene.len()]);
    cells.resize(r.len(), [0, 0]);
    r.set_grid(queue, scene.geometry(), &cells)?;
    hide_free_slots(r, queue, scene.len())?;
    for (i, used) in scene.used.iter().enumerate() {
        if !used {
            r.set_hidden(queue, i, true)?;
        }
    }
    Ok(())
}
