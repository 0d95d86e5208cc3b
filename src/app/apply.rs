//! Effects carried out: the state's [`Effect`]s turned into GPU uploads, worker jobs,
//! dialogs, screenshots and window changes — the only place the glue acts on the state's
//! decisions. A failing effect is reported on screen; the app goes on.

use super::gpu::{self, FinishedScreenshot};
use super::state::{self, Effect};
use super::Model;
use nannou::prelude::*;
use nannou_egui::egui;
use std::path::PathBuf;

/// A screenshot's tiles are all in: hand the PNG to a saving thread.
pub(super) fn screenshot_done(model: &mut Model, done: FinishedScreenshot) {
    match done.result {
        Ok(image) => {
            eprintln!(
                "screenshot {}×{}: {} tiles over {} frames",
                image.width(),
                image.height(),
                done.tiles,
                done.frames
            );
            model.state.notify(format!(
                "saving {}×{} screenshot …",
                image.width(),
                image.height()
            ));
            model.workers.save_png(done.path, image);
        }
        Err(e) => model.state.error(format!("screenshot failed: {e}")),
    }
}

pub(super) fn apply_effects(app: &App, model: &mut Model) {
    let effects = coalesce(model.state.drain_effects());
    if effects.is_empty() {
        return;
    }
    // (the outputs share the main window's device: any of them will do once it has closed)
    let Some(win) = app
        .window(model.window)
        .or_else(|| model.outputs.ids.iter().find_map(|id| app.window(*id)))
    else {
        return;
    };
    let (device, queue) = (win.device(), win.queue());
    let mut quit = false;
    for effect in effects {
        let result = match effect {
            Effect::Quit => {
                model.quitting = true;
                // A screenshot the user asked for is finished and written, not dropped.
                if let Some(done) = model.gpu.step_screenshot(device, queue, true) {
                    screenshot_done(model, done);
                }
                quit = true;
                Ok(())
            }
            Effect::CaptureFrame { path } => {
                if let Err(path) = super::windows::capture_all(app, model, path) {
                    model.state.capture_folder_missing(path);
                }
                Ok(())
            }
            Effect::SetFullscreen(on) => {
                win.set_fullscreen(on);
                Ok(())
            }
            Effect::Screenshot { path } => {
                match model
                    .gpu
                    .start_screenshot(device, &model.state, model.background, path)
                {
                    Ok([w, h]) => model
                        .state
                        .notify(format!("rendering a {w}×{h} screenshot …")),
                    Err(e) => model.state.error(e),
                }
                Ok(())
            }
            effect @ (Effect::CreateScene { .. }
            | Effect::DropScene { .. }
            | Effect::Thumb { .. }
            | Effect::Placeholder { .. }
            | Effect::Visibility { .. }
            | Effect::Opacity { .. }
            | Effect::Positions { .. }
            | Effect::Grid { .. }
            | Effect::Marks { .. }) => apply_gpu_effect(model, device, queue, effect),
            effect @ (Effect::StartJob(_)
            | Effect::Open(_)
            | Effect::Dialog(_)
            | Effect::MakeCaptureFolder { .. }
            | Effect::SaveJson { .. }
            | Effect::LoadLightbox { .. }
            | Effect::LoadCells { .. }
            | Effect::StartWatch { .. }
            | Effect::Autosave(_)
            | Effect::FindClusters(_)
            | Effect::SaveClusters { .. }
            | Effect::ExportPaths { .. }
            | Effect::CopyFiles { .. }
            | Effect::ReadMetadata(_)) => {
                apply_worker_effect(model, effect);
                Ok(())
            }
        };
        if let Err(e) = result {
            // counted and shown once per kind with the uncaptured GPU errors (a failing upload
            // can repeat for every image; it must not flood the screen)
            model.gpu.errors.record_render_error(&e);
        }
    }
    // The window is borrowed above; quitting needs it released.
    drop(win);
    if quit {
        app.quit();
    }
}

/// An effect on a scene's renderer: create or drop it, upload a cell, a flag, positions or
/// grid cells.
fn apply_gpu_effect(
    model: &mut Model,
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    effect: Effect,
) -> crate::render::Result<()> {
    match effect {
        Effect::CreateScene { scene, plan } => {
            // (a grown scene's renderer is replaced by a larger one)
            model.gpu.create_scene(device, scene, plan)?;
            let len = gpu::find_scene(&model.state, scene).map_or(0, |s| s.len());
            let marks = model.state.marks(scene);
            if let Some(r) = model.gpu.renderers.get_mut(&scene) {
                gpu::hide_free_slots(r, queue, len)?;
                r.set_marks(queue, &marks);
            }
        }
        Effect::Marks { scene } => {
            let marks = model.state.marks(scene);
            if let Some(r) = model.gpu.renderers.get_mut(&scene) {
                r.set_marks(queue, &marks);
            }
        }
        Effect::DropScene { scene } => model.gpu.drop_scene(scene),
        Effect::Thumb { scene, index, cell } => {
            if let Some(r) = model.gpu.renderers.get_mut(&scene) {
                r.set_prepared_image(queue, index, &cell)?;
            }
        }
        Effect::Placeholder { scene, index } => {
            if let Some(r) = model.gpu.renderers.get_mut(&scene) {
                r.set_placeholder(queue, index, None)?;
            }
        }
        Effect::Visibility {
            scene,
            index,
            visible,
        } => {
            if let Some(r) = model.gpu.renderers.get_mut(&scene) {
                r.set_hidden(queue, index, !visible)?;
            }
        }
        Effect::Opacity {
            scene,
            index,
            opacity,
        } => {
            if let Some(r) = model.gpu.renderers.get_mut(&scene) {
                r.set_opacity(queue, index, opacity)?;
            }
        }
        Effect::Positions { scene } => {
            let points = model.state.displayed_points(scene);
            model.position_uploads += 1;
            if let (Some(r), Some(mut points)) = (model.gpu.renderers.get_mut(&scene), points) {
                // slots for images still to come sit hidden at the centre
                points.resize(r.len(), [0.5, 0.5]);
                r.update_tsne_positions(queue, &points)?;
            }
        }
        Effect::Grid { scene } => upload_grid(model, queue, scene)?,
        _ => {} // (the other effects are dispatched elsewhere by `apply_effects`)
    }
    Ok(())
}

/// A scene's grid cells to its renderer: the gliding fractional cells while they glide after
/// the map grew, else the cells.
fn upload_grid(model: &mut Model, queue: &wgpu::Queue, scene: u64) -> crate::render::Result<()> {
    let data = gpu::find_scene(&model.state, scene).map(|s| {
        let cells = s
            .grid
            .as_ref()
            .map(|g| g.cells.clone())
            .unwrap_or_else(|| vec![[0, 0]; s.len()]);
        (s.geometry(), cells)
    });
    let gliding = model.state.displayed_cells(scene);
    model.position_uploads += 1;
    if let (Some(r), Some((geometry, mut cells))) = (model.gpu.renderers.get_mut(&scene), data) {
        match gliding {
            Some(mut f) => {
                f.resize(r.len(), [0.0, 0.0]);
                r.set_grid_positions(queue, geometry, &f)?;
            }
            None => {
                cells.resize(r.len(), [0, 0]);
                r.set_grid(queue, geometry, &cells)?;
            }
        }
    }
    Ok(())
}

/// An effect for the background workers: a job, a dialog, a save, cells or a lightbox image
/// to load, the folder watch, an autosave.
fn apply_worker_effect(model: &mut Model, effect: Effect) {
    match effect {
        Effect::StartJob(request) => model.workers.start(request),
        Effect::Open(path) => model.workers.open(path),
        Effect::Dialog(kind) => {
            let location = state::dialog_location(
                model
                    .state
                    .shown()
                    .and_then(|s| s.paths.first())
                    .map(|p| p.as_path()),
            );
            model.workers.dialog(kind, location);
        }
        Effect::MakeCaptureFolder { dir } => model.workers.make_capture_folder(dir),
        Effect::SaveJson {
            path,
            entries,
            tsne,
            map,
        } => model.workers.save_json(path, entries, tsne, map),
        Effect::LoadLightbox { index, path } => {
            model.lightbox = None;
            model.workers.load_lightbox(index, path);
        }
        Effect::LoadCells { scene, cells } => {
            if let Some(r) = model.gpu.renderers.get(&scene) {
                model.workers.load_cells(scene, cells, *r.atlas_plan());
            }
        }
        Effect::StartWatch { dir, known, stop } => {
            // from now on atlases get room for images that join
            model
                .workers
                .headroom
                .store(true, std::sync::atomic::Ordering::Relaxed);
            model.workers.watch(dir, known, stop)
        }
        Effect::Autosave(request) => model.workers.autosave(request),
        Effect::FindClusters(request) => model.workers.find_clusters(request),
        Effect::ExportPaths { file, paths } => model.workers.export_paths(file, paths),
        Effect::CopyFiles { dir, paths } => model.workers.copy_files(dir, paths),
        Effect::ReadMetadata(path) => model.workers.read_metadata(path),
        Effect::SaveClusters { layout, snapshot } => model.workers.save_clusters(layout, snapshot),
        _ => {} // (the other effects are dispatched elsewhere by `apply_effects`)
    }
}

/// Capture the window's next frame into `path` if its folder is there. nannou would make a
/// missing folder itself on the render thread and panic if it cannot: a missing folder is
/// handed back instead (the state has a worker make it). One `stat` per capture.
pub(super) fn capture_frame(win: &nannou::window::Window, path: PathBuf) -> Result<(), PathBuf> {
    if !state::capture_folder(&path).is_dir() {
        return Err(path);
    }
    // the folder could still vanish in between: a panic there must not end the app
    let captured = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        win.capture_frame(&path);
    }));
    captured.map_err(|_| path)
}

/// Keep only the last of repeated position/grid uploads of a scene: they re-read the scene's
/// current data, so earlier ones are redundant (many live t-SNE frames can arrive per frame).
fn coalesce(effects: Vec<Effect>) -> Vec<Effect> {
    use std::collections::HashSet;
    let mut seen = HashSet::new();
    let mut kept: Vec<Effect> = effects
        .into_iter()
        .rev()
        .filter(|e| match e {
            Effect::Positions { scene } => seen.insert((0u8, *scene)),
            Effect::Grid { scene } => seen.insert((1u8, *scene)),
            _ => true,
        })
        .collect();
    kept.reverse();
    kept
}

pub(super) fn lightbox_ready(
    model: &mut Model,
    index: usize,
    image: std::result::Result<image::RgbaImage, String>,
) {
    if model.state.overlays.lightbox != Some(index) {
        return;
    }
    match image {
        Ok(img) => {
            // decided like on the map, against the lightbox's darkened backdrop
            let map = super::plates(model);
            let backdrop = map.background.map(|c| (c as u32 * 55 / 255) as u8);
            let plates = crate::render::Plates::new(map.mode, backdrop, map.color);
            let stats = crate::render::PlateStats::of_premultiplied(&img);
            let plate = plates.wants(&stats).then_some(plates.color);
            let size = [img.width() as usize, img.height() as usize];
            let color = egui::ColorImage::from_rgba_premultiplied(size, img.as_raw());
            let tex = model.egui.ctx().load_texture(
                format!("lightbox-{index}"),
                color,
                egui::TextureOptions::LINEAR,
            );
            model.lightbox = Some((index, tex, plate));
        }
        Err(e) => {
            model.state.overlays.lightbox = None;
            model.state.error(e);
        }
    }
}
