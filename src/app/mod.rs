//! App: the live nannou viewer — model / update / view. [`state`] holds and decides everything
//! (testable without a window), [`worker`] runs analysis and I/O off the render thread,
//! [`ui`] is the egui panel, [`gallery`] the unattended tour; this module is the glue that feeds
//! window events in and carries the state's effects out to the GPU ([`crate::render`]).

pub mod gallery;
pub mod state;
pub mod ui;
pub mod worker;

use crate::cache::Cache;
use crate::render::{
    srgb_u8_to_clear_color, FrameParams, QuadRenderer, ScreenshotOptions, Style, TargetDesc,
};
use anyhow::{bail, Result};
use clap::Args;
use nannou::prelude::*;
use nannou::winit::event::VirtualKeyCode;
use nannou_egui::{egui, Egui};
use state::{Action, AppState, Effect};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use worker::{Msg, Workers};

/// Options of the live viewer (`image-tsne-live [PATH] [OPTIONS]`).
#[derive(Args, Debug, Clone, Default)]
pub struct AppArgs {
    /// A layout JSON to open, or a folder to analyze. Default: the bundled demo set.
    pub path: Option<PathBuf>,
    /// Start fullscreen.
    #[arg(long)]
    pub fullscreen: bool,
    /// Start with the GUI hidden (H shows it).
    #[arg(long)]
    pub hide_gui: bool,
    /// Unattended gallery tour: slow camera moves and layout toggles; input takes over.
    #[arg(long)]
    pub gallery: bool,
    /// In gallery mode, toggle t-SNE ⇄ grid every this many seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub toggle_every: f64,
    /// In gallery mode, resume the tour after this many seconds without input (0: never).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub gallery_resume: f64,
    /// Write the window's frames as numbered PNGs: every SECONDS into DIR (for videos).
    #[arg(long, num_args = 2, value_names = ["SECONDS", "DIR"])]
    pub capture_every: Option<Vec<String>>,
    /// Start in grid view (once the grid is ready).
    #[arg(long)]
    pub grid: bool,
    /// `max num images` for analyses.
    #[arg(long, default_value_t = 500)]
    pub max_images: usize,
    /// t-SNE perplexity.
    #[arg(long, default_value_t = 50.0)]
    pub perplexity: f32,
    /// t-SNE theta.
    #[arg(long, default_value_t = 0.3)]
    pub theta: f32,
    /// Background colour (#RRGGBB).
    #[arg(long, default_value = "#101014")]
    pub background: String,
    /// Window size in points, WxH.
    #[arg(long, default_value = "1280x800")]
    pub size: String,
    /// Folder for screenshots and frame captures (S and P).
    #[arg(long, default_value = ".")]
    pub screenshot_dir: PathBuf,
    /// ONNX feature model instead of the bundled one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Feature/thumbnail cache folder.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Do not use the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Quit this many frames after the startup analysis/load has finished (for scripts, tests).
    #[arg(long, value_name = "FRAMES")]
    pub quit_after: Option<u64>,
    /// With --quit-after: capture the last frame to this PNG.
    #[arg(long, value_name = "PNG")]
    pub capture_on_quit: Option<PathBuf>,
    /// Press these hotkeys, one every 30 frames, once the startup job has finished
    /// (e.g. `--press gs`: glide to the grid, then save a screenshot). For scripts and tests.
    #[arg(long, value_name = "KEYS")]
    pub press: Option<String>,
}

static ARGS: OnceLock<AppArgs> = OnceLock::new();

/// Time per frame spent on messages from background work.
const MESSAGE_BUDGET: std::time::Duration = std::time::Duration::from_millis(8);
/// Two clicks closer than this are a double-click.
const DOUBLE_CLICK_SECONDS: f64 = 0.35;

/// Check the arguments, then open the window and run until it closes.
pub fn run(args: AppArgs) -> Result<()> {
    if let Some(p) = &args.path {
        if !p.exists() {
            bail!("{} does not exist", p.display());
        }
    }
    if crate::render::parse_hex_color(&args.background).is_none() {
        bail!("--background: expected #RRGGBB, got {:?}", args.background);
    }
    parse_size(&args.size)?;
    if let Some(c) = &args.capture_every {
        parse_capture_every(c)?;
    }
    #[cfg(target_os = "linux")]
    {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            bail!("no display: set DISPLAY (e.g. run under `xvfb-run`), or use the headless subcommands (analyze, grid, render)");
        }
    }

    crate::progress::init_stderr_logger(log::LevelFilter::Warn);
    let _ = ARGS.set(args);
    nannou::app(model).update(update).exit(exit).run();
    Ok(())
}

fn parse_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow::anyhow!("--size: expected WxH, got {s:?}"))?;
    let (w, h): (u32, u32) = (w.trim().parse()?, h.trim().parse()?);
    if w < 100 || h < 100 || w > 16384 || h > 16384 {
        bail!("--size {s} is out of range");
    }
    Ok((w, h))
}

fn parse_capture_every(v: &[String]) -> Result<(f64, PathBuf)> {
    let [secs, dir] = v else {
        bail!("--capture-every takes SECONDS DIR")
    };
    let secs: f64 = secs
        .parse()
        .map_err(|_| anyhow::anyhow!("--capture-every: {secs:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        bail!("--capture-every: seconds must be positive");
    }
    Ok((secs, PathBuf::from(dir)))
}

/// Map a key (with Ctrl held or not) to an action. Characters such as `?`, `+` and `-` come
/// through [`action_for_char`] so they work on any keyboard layout.
pub fn action_for_key(key: VirtualKeyCode, ctrl: bool) -> Option<Action> {
    use VirtualKeyCode as K;
    Some(match (key, ctrl) {
        (K::Q, true) => Action::Quit,
        (_, true) => return None,
        (K::G, _) => Action::ToggleGrid,
        (K::F, _) => Action::Fit,
        (K::S, _) => Action::SaveScreenshot(None),
        (K::P, _) => Action::CaptureFrame,
        (K::H, _) => Action::ToggleGui,
        (K::Space, _) => Action::ToggleGallery,
        (K::F11, _) => Action::ToggleFullscreen,
        (K::Escape, _) => Action::Escape,
        (K::A, _) => Action::AnalyzeDialog,
        (K::L, _) => Action::LoadDialog,
        (K::J, _) => Action::SaveDialog,
        (K::Left, _) => Action::Pan([80.0, 0.0]),
        (K::Right, _) => Action::Pan([-80.0, 0.0]),
        (K::Up, _) => Action::Pan([0.0, 80.0]),
        (K::Down, _) => Action::Pan([0.0, -80.0]),
        _ => return None,
    })
}

/// The hotkey action of a character typed on the command line (`--press`).
pub fn action_for_press(c: char) -> Option<Action> {
    use VirtualKeyCode as K;
    let key = match c.to_ascii_lowercase() {
        'g' => K::G,
        'f' => K::F,
        's' => K::S,
        'p' => K::P,
        'h' => K::H,
        ' ' => K::Space,
        'a' => K::A,
        'l' => K::L,
        'j' => K::J,
        _ => return action_for_char(c),
    };
    action_for_key(key, false)
}

/// Map a typed character to an action.
pub fn action_for_char(c: char) -> Option<Action> {
    Some(match c {
        '?' => Action::ToggleHelp,
        '+' | '=' => Action::Zoom(1.25, None),
        '-' | '_' => Action::Zoom(0.8, None),
        _ => return None,
    })
}

struct Mouse {
    /// Position in window pixels, y down.
    px: [f32; 2],
    /// Position in egui points, y down.
    points: [f32; 2],
    down: Option<([f32; 2], f64)>,
    dragged: bool,
    last_click: Option<([f32; 2], f64)>,
}

struct Model {
    window: WindowId,
    egui: Egui,
    state: AppState,
    renderers: HashMap<u64, QuadRenderer>,
    rx: Receiver<Msg>,
    workers: Arc<Workers>,
    background: [u8; 3],
    mouse: Mouse,
    lightbox: Option<(usize, egui::TextureHandle)>,
    start: Instant,
    startup_done: Option<u64>,
    frames: u64,
    quit_at: Option<u64>,
    capture_on_quit: Option<PathBuf>,
    press: Vec<char>,
    render_errors: u32,
    hover_key: Option<HoverKey>,
    /// A click on an image, waiting to see whether a second click makes it a double-click.
    pending_click: Option<(usize, f64)>,
    /// Counts t-SNE/grid uploads, so hover is recomputed when images move.
    position_uploads: u64,
}

fn model(app: &App) -> Model {
    let args = ARGS.get().cloned().unwrap_or_default();
    let (w, h) = parse_size(&args.size).unwrap_or((1280, 800));
    app.set_exit_on_escape(false);
    app.set_fullscreen_on_shortcut(false);
    let mut builder = app
        .new_window()
        .title("image-tsne-live")
        .size(w, h)
        .view(view)
        .raw_event(raw_window_event)
        .event(window_event);
    if args.fullscreen {
        builder = builder.fullscreen();
    }
    let window = match builder.build() {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: cannot open a window: {e}");
            std::process::exit(1);
        }
    };
    let (egui, viewport) = match app.window(window) {
        Some(win) => {
            let (pw, ph) = win.inner_size_pixels();
            (Egui::from_window(&win), [pw as f32, ph as f32])
        }
        None => {
            eprintln!("error: the window closed while starting");
            std::process::exit(1);
        }
    };
    let cache = match (&args.cache_dir, args.no_cache) {
        (_, true) => Cache::disabled(),
        (Some(d), false) => Cache::at(d),
        (None, false) => Cache::default_location(),
    };
    let (tx, rx) = channel();
    let workers = Workers::new(tx, cache.clone(), args.model.clone());
    let mut state = AppState::new(viewport);
    state.analysis.max_images = args.max_images.max(1);
    state.analysis.perplexity = args.perplexity;
    state.analysis.theta = args.theta;
    state.view.view_as_grid = args.grid;
    state.gui_visible = !args.hide_gui;
    state.fullscreen = args.fullscreen;
    state.screenshot_dir = args.screenshot_dir.clone();
    state.gallery.toggle_every = args.toggle_every.max(0.0);
    state.gallery.resume_after = args.gallery_resume.max(0.0);
    if args.gallery {
        state.gallery.set_enabled(true, 0.0);
    }
    state.capture_every = args
        .capture_every
        .as_deref()
        .and_then(|c| parse_capture_every(c).ok());
    let first = match &args.path {
        Some(p) if p.is_dir() => Action::Analyze(p.clone()),
        Some(p) => Action::Load(p.clone()),
        None => match crate::demo::demo_dir(&cache) {
            Ok(dir) => Action::Analyze(dir),
            Err(e) => {
                state.error(format!("cannot unpack the demo set: {e}"));
                Action::AnalyzeDialog
            }
        },
    };
    state.act(first);
    let background = crate::render::parse_hex_color(&args.background).unwrap_or([16, 16, 20]);
    Model {
        window,
        egui,
        state,
        renderers: HashMap::new(),
        rx,
        workers,
        background,
        mouse: Mouse {
            px: [0.0; 2],
            points: [0.0; 2],
            down: None,
            dragged: false,
            last_click: None,
        },
        lightbox: None,
        start: Instant::now(),
        startup_done: None,
        frames: 0,
        quit_at: args.quit_after,
        capture_on_quit: args.capture_on_quit.clone(),
        press: args.press.as_deref().unwrap_or("").chars().rev().collect(),
        render_errors: 0,
        hover_key: None,
        pending_click: None,
        position_uploads: 0,
    }
}

fn update(app: &App, model: &mut Model, update: Update) {
    let now = model.start.elapsed().as_secs_f64();
    // Messages from background work, for at most a few milliseconds a frame (the rest waits
    // for the next frame); several live t-SNE frames collapse into one upload (see below).
    let budget = Instant::now();
    while budget.elapsed() < MESSAGE_BUDGET {
        let Ok(msg) = model.rx.try_recv() else { break };
        match msg {
            Msg::Lightbox { index, image } => lightbox_ready(model, index, image),
            other => model.state.handle(other),
        }
    }
    // A single click opens the lightbox once it is clear it was not a double-click.
    if let Some((index, at)) = model.pending_click {
        if now - at > DOUBLE_CLICK_SECONDS {
            model.pending_click = None;
            model.state.act(Action::OpenLightbox(index));
        }
    }
    model.state.update(now);

    // The egui panel.
    model.egui.set_elapsed_time(update.since_start);
    let hover_label = model
        .state
        .hovered
        .and_then(|i| model.state.shown()?.paths.get(i))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, model.mouse.points)
        });
    let fps = app.fps();
    let (actions, panel_right) = {
        let ctx = model.egui.begin_frame();
        let tex = model
            .lightbox
            .as_ref()
            .filter(|(i, _)| Some(*i) == model.state.lightbox)
            .map(|(_, t)| t);
        ui::draw(&ctx, &mut model.state, fps, tex, hover_label)
    };
    let inset = panel_right * model.egui.ctx().pixels_per_point();
    if (inset - model.state.left_inset_px).abs() > 1.0 {
        model.state.left_inset_px = inset;
        if model.state.camera_fitted {
            model.state.fit_camera(false);
        }
    }
    for a in actions {
        model.state.user_input();
        model.state.act(a);
    }
    apply_effects(app, model);
    update_hover(model);

    // Scripted runs: quit a number of frames after the startup job finished.
    model.frames += 1;
    if model.startup_done.is_none() && model.state.job.is_none() {
        model.startup_done = Some(model.frames);
    }
    if let Some(done) = model.startup_done {
        if model.frames > done && (model.frames - done).is_multiple_of(30) {
            if let Some(a) = model.press.pop().and_then(action_for_press) {
                model.state.act(a);
                apply_effects(app, model);
            }
        }
    }
    if let (Some(k), Some(done)) = (model.quit_at, model.startup_done) {
        let due = done + k;
        if model.frames == due {
            if let (Some(path), Some(win)) = (&model.capture_on_quit, app.window(model.window)) {
                win.capture_frame(path);
            }
        }
        if model.frames >= due + 3 {
            app.quit();
        }
    }
}

fn apply_effects(app: &App, model: &mut Model) {
    let effects = coalesce(model.state.drain_effects());
    if effects.is_empty() {
        return;
    }
    let Some(win) = app.window(model.window) else {
        return;
    };
    let (device, queue) = (win.device(), win.queue());
    for effect in effects {
        let result: crate::render::Result<()> = (|| {
            match effect {
                Effect::CreateScene { scene, plan } => {
                    let target = TargetDesc {
                        format: Frame::TEXTURE_FORMAT,
                        sample_count: win.msaa_samples(),
                    };
                    let renderer = QuadRenderer::with_plan(device, target, plan)?;
                    eprintln!("{}", renderer.atlas_plan());
                    model.renderers.insert(scene, renderer);
                }
                Effect::DropScene { scene } => {
                    model.renderers.remove(&scene);
                }
                Effect::Thumb { scene, index, cell } => {
                    if let Some(r) = model.renderers.get_mut(&scene) {
                        r.set_prepared_image(queue, index, &cell)?;
                    }
                }
                Effect::Placeholder { scene, index } => {
                    if let Some(r) = model.renderers.get_mut(&scene) {
                        r.set_placeholder(queue, index, None)?;
                    }
                }
                Effect::Visibility {
                    scene,
                    index,
                    visible,
                } => {
                    if let Some(r) = model.renderers.get_mut(&scene) {
                        r.set_hidden(queue, index, !visible)?;
                    }
                }
                Effect::Positions { scene } => {
                    let points = find_scene(&model.state, scene).map(|s| s.points.clone());
                    model.position_uploads += 1;
                    if let (Some(r), Some(points)) = (model.renderers.get_mut(&scene), points) {
                        r.update_tsne_positions(queue, &points)?;
                    }
                }
                Effect::Grid { scene } => {
                    let data = find_scene(&model.state, scene).map(|s| {
                        let cells = s
                            .grid
                            .as_ref()
                            .map(|g| g.cells.clone())
                            .unwrap_or_else(|| vec![[0, 0]; s.len()]);
                        (s.geometry(), cells)
                    });
                    model.position_uploads += 1;
                    if let (Some(r), Some((geometry, cells))) =
                        (model.renderers.get_mut(&scene), data)
                    {
                        r.set_grid(queue, geometry, &cells)?;
                    }
                }
                Effect::StartJob(request) => model.workers.start(request),
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
                Effect::Screenshot { path } => screenshot(model, device, queue, path),
                Effect::CaptureFrame { path } => {
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    win.capture_frame(&path);
                }
                Effect::SaveJson { path, entries } => model.workers.save_json(path, entries),
                Effect::LoadLightbox { index, path } => {
                    model.lightbox = None;
                    model.workers.load_lightbox(index, path);
                }
                Effect::SetFullscreen(on) => win.set_fullscreen(on),
                Effect::Quit => app.quit(),
            }
            Ok(())
        })();
        if let Err(e) = result {
            model.state.error(format!("GPU: {e}"));
        }
    }
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

fn find_scene(state: &AppState, id: u64) -> Option<&state::Scene> {
    state
        .pending
        .iter()
        .chain(state.current.iter())
        .find(|s| s.id == id)
}

/// Render the whole layout offscreen on the window's device and write the PNG on a thread.
fn screenshot(model: &mut Model, device: &wgpu::Device, queue: &wgpu::Queue, path: PathBuf) {
    let Some(scene) = model.state.shown() else {
        return;
    };
    let Some(renderer) = model.renderers.get(&scene.id) else {
        return;
    };
    let mut opts = ScreenshotOptions::default();
    let [r, g, b] = model.background;
    opts.offscreen.background = [r, g, b, 255];
    // Screenshots of the layout at the blend the view is heading to (not mid-glide).
    let layout = model.state.layout_params().with_t(model.state.target_t());
    match renderer.screenshot(device, queue, &layout, &opts) {
        Ok(image) => {
            model.state.notify(format!(
                "saving {}×{} screenshot …",
                image.width(),
                image.height()
            ));
            model.workers.save_png(path, image);
        }
        Err(e) => model.state.error(format!("screenshot failed: {e}")),
    }
}

fn lightbox_ready(
    model: &mut Model,
    index: usize,
    image: std::result::Result<image::RgbaImage, String>,
) {
    if model.state.lightbox != Some(index) {
        return;
    }
    match image {
        Ok(img) => {
            let size = [img.width() as usize, img.height() as usize];
            let color = egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw());
            let tex = model.egui.ctx().load_texture(
                format!("lightbox-{index}"),
                color,
                egui::TextureOptions::LINEAR,
            );
            model.lightbox = Some((index, tex));
        }
        Err(e) => {
            model.state.lightbox = None;
            model.state.error(e);
        }
    }
}

/// What the hovered image depends on; the O(n) hit test runs only when this changes.
#[derive(Clone, Copy, PartialEq)]
struct HoverKey {
    mouse: [f32; 2],
    center: [f32; 2],
    zoom: f32,
    t: f32,
    scale: f32,
    image_size: f32,
    scene: Option<u64>,
    positions: u64,
    blocked: bool,
}

fn update_hover(model: &mut Model) {
    let blocked = model.egui.ctx().is_pointer_over_area()
        || model.mouse.down.is_some()
        || model.state.lightbox.is_some();
    let s = &model.state;
    let key = HoverKey {
        mouse: model.mouse.px,
        center: s.camera.center,
        zoom: s.camera.zoom,
        t: s.t,
        scale: s.view.scale,
        image_size: s.view.image_size,
        scene: s.shown().map(|sc| sc.id),
        positions: model.position_uploads,
        blocked,
    };
    if model.hover_key == Some(key) {
        return;
    }
    model.hover_key = Some(key);
    let hovered = if blocked {
        None
    } else {
        s.shown().and_then(|sc| {
            let r = model.renderers.get(&sc.id)?;
            let world = s.camera.screen_to_world(model.mouse.px);
            r.hit_test(world, &s.layout_params())
        })
    };
    model.state.hovered = hovered;
}

fn raw_window_event(_app: &App, model: &mut Model, event: &nannou::winit::event::WindowEvent) {
    model.egui.handle_raw_event(event);
}

fn window_event(app: &App, model: &mut Model, event: WindowEvent) {
    let egui_wants_keys = model.egui.ctx().wants_keyboard_input();
    let egui_wants_pointer =
        model.egui.ctx().wants_pointer_input() || model.egui.ctx().is_pointer_over_area();
    let now = model.start.elapsed().as_secs_f64();
    match event {
        WindowEvent::KeyPressed(key) if !egui_wants_keys => {
            model.state.user_input();
            if let Some(a) = action_for_key(key, app.keys.mods.ctrl()) {
                model.state.act(a);
            }
        }
        WindowEvent::ReceivedCharacter(c) if !egui_wants_keys => {
            if let Some(a) = action_for_char(c) {
                model.state.user_input();
                model.state.act(a);
            }
        }
        WindowEvent::MouseMoved(p) => {
            let Some(win) = app.window(model.window) else {
                return;
            };
            let (w, h) = win.inner_size_points();
            let scale = win.scale_factor();
            let points = [p.x + w / 2.0, h / 2.0 - p.y];
            let px = [points[0] * scale, points[1] * scale];
            if let Some((down, _)) = model.mouse.down {
                let moved = (px[0] - down[0]).hypot(px[1] - down[1]);
                if model.mouse.dragged || moved > 4.0 {
                    model.mouse.dragged = true;
                    model.state.user_input();
                    model.state.act(Action::Pan([
                        px[0] - model.mouse.px[0],
                        px[1] - model.mouse.px[1],
                    ]));
                }
            }
            model.mouse.px = px;
            model.mouse.points = points;
        }
        WindowEvent::MousePressed(MouseButton::Left)
            if (!egui_wants_pointer || model.state.lightbox.is_some())
                && model.state.lightbox.is_none() =>
        {
            model.mouse.down = Some((model.mouse.px, now));
            model.mouse.dragged = false;
        }
        WindowEvent::MouseReleased(MouseButton::Left) => {
            let Some((down, _)) = model.mouse.down.take() else {
                return;
            };
            if model.mouse.dragged {
                model.mouse.dragged = false;
                return;
            }
            model.state.user_input();
            let double = model.mouse.last_click.is_some_and(|(p, t)| {
                now - t < DOUBLE_CLICK_SECONDS && (p[0] - down[0]).hypot(p[1] - down[1]) < 6.0
            });
            if double {
                model.mouse.last_click = None;
                model.pending_click = None;
                model.state.act(Action::Fit);
            } else {
                model.mouse.last_click = Some((down, now));
                model.pending_click = model.state.hovered.map(|i| (i, now));
            }
        }
        WindowEvent::MouseWheel(delta, _) if !egui_wants_pointer => {
            let lines = match delta {
                MouseScrollDelta::LineDelta(_, y) => y,
                MouseScrollDelta::PixelDelta(p) => p.y as f32 / 40.0,
            };
            if lines != 0.0 {
                model.state.user_input();
                model
                    .state
                    .act(Action::Zoom(1.15f32.powf(lines), Some(model.mouse.px)));
            }
        }
        WindowEvent::Resized(_) => {
            if let Some(win) = app.window(model.window) {
                let (pw, ph) = win.inner_size_pixels();
                model.state.set_viewport([pw as f32, ph as f32]);
            }
        }
        WindowEvent::DroppedFile(path) => {
            model.state.user_input();
            model.state.act(if path.is_dir() {
                Action::Analyze(path)
            } else {
                Action::Load(path)
            });
        }
        _ => {}
    }
}

fn view(app: &App, model: &Model, frame: Frame) {
    let [w, h] = frame.texture_size();
    let [r, g, b] = model.background;
    let shown = model.state.shown().and_then(|s| model.renderers.get(&s.id));
    match shown {
        Some(renderer) => {
            let mut camera = model.state.camera;
            camera.set_viewport([w as f32, h as f32]);
            let params = FrameParams {
                camera,
                layout: model.state.layout_params(),
                hovered: model.state.hovered,
                style: Style::default(),
            };
            let queue = frame.device_queue_pair().queue();
            let mut encoder = frame.command_encoder();
            renderer.render(
                queue,
                &mut encoder,
                frame.texture_view(),
                None,
                Some(srgb_u8_to_clear_color([r, g, b, 255])),
                &params,
            );
        }
        None => frame.clear(nannou::color::rgb8(r, g, b)),
    }
    if let Err(e) = model.egui.draw_to_frame(&frame) {
        if model.render_errors == 0 {
            log::warn!("GUI draw failed: {e}");
        }
    }
    let _ = app;
}

fn exit(_app: &App, model: Model) {
    if let Some(job) = &model.state.job {
        job.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // Nothing the user saved is lost: let screenshots and JSON files finish writing.
    if !model
        .workers
        .wait_for_saves(std::time::Duration::from_secs(60))
    {
        eprintln!("warning: a file was still being written when the app quit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotkeys_map_to_actions() {
        assert_eq!(
            action_for_key(VirtualKeyCode::G, false),
            Some(Action::ToggleGrid)
        );
        assert_eq!(
            action_for_key(VirtualKeyCode::S, false),
            Some(Action::SaveScreenshot(None))
        );
        assert_eq!(
            action_for_key(VirtualKeyCode::Escape, false),
            Some(Action::Escape)
        );
        assert_eq!(action_for_key(VirtualKeyCode::Q, true), Some(Action::Quit));
        assert_eq!(
            action_for_key(VirtualKeyCode::Q, false),
            None,
            "plain Q must not quit an installation"
        );
        assert_eq!(action_for_char('?'), Some(Action::ToggleHelp));
        // every documented hotkey letter is handled
        for (key, _) in ui::HOTKEYS {
            if key.len() == 1 && key.chars().all(|c| c.is_ascii_uppercase()) {
                let code = match *key {
                    "G" => VirtualKeyCode::G,
                    "F" => VirtualKeyCode::F,
                    "S" => VirtualKeyCode::S,
                    "P" => VirtualKeyCode::P,
                    "H" => VirtualKeyCode::H,
                    "A" => VirtualKeyCode::A,
                    "L" => VirtualKeyCode::L,
                    "J" => VirtualKeyCode::J,
                    other => panic!("hotkey {other} not covered by this test"),
                };
                assert!(action_for_key(code, false).is_some(), "{key}");
            }
        }
    }

    #[test]
    fn argument_parsing() {
        assert_eq!(parse_size("1280x800").unwrap(), (1280, 800));
        assert!(parse_size("10x10").is_err());
        assert!(parse_size("big").is_err());
        assert_eq!(
            parse_capture_every(&["2.5".into(), "/tmp/f".into()]).unwrap(),
            (2.5, PathBuf::from("/tmp/f"))
        );
        assert!(parse_capture_every(&["0".into(), "/tmp/f".into()]).is_err());
    }
}
