//! App: the live nannou viewer — model / update / view. [`state`] holds and decides everything
//! (testable without a window; the unattended tour is [`state::gallery`]), [`worker`] runs
//! analysis and I/O off the render thread, [`protocol`] is what the two say to each other,
//! [`ui`] is the egui panel, [`playback`] paces how the optimizer's frames are shown. The glue that feeds the window
//! into the state and carries the state's effects out is split by concern: [`args`] (options),
//! [`hotkeys`], [`input`] (window events, hover), [`osc`] (show control over the network),
//! [`show`] (the options from a show file), [`schedule`] (opening hours), [`outputs`] (the
//! windows of a projector wall and mirrors: window-free) and [`windows`] (opening them),
//! [`apply`] (effects carried out), [`gpu`] (renderers, screenshots, GPU errors),
//! [`stats`] (health figures for soak tests), [`view`] (drawing a frame); this module is the
//! model/update loop.
//!
//! The render loop never waits for the disk or the GPU's long work and never panics: GPU
//! errors are counted and survived (see [`gpu`]), a screenshot renders one tile per frame.

mod apply;
pub mod args;
pub mod gpu;
pub mod hotkeys;
mod input;
pub mod osc;
pub mod outputs;
pub mod playback;
pub mod protocol;
pub mod schedule;
pub mod show;
pub mod state;
pub mod stats;
pub mod ui;
mod view;
mod windows;
pub mod worker;

pub use args::AppArgs;
pub use hotkeys::{action_for_char, action_for_key, action_for_press};

use crate::pipeline::AnalyzeOptions;
use crate::render::TargetDesc;
use anyhow::{bail, Result};
use apply::{apply_effects, lightbox_ready, screenshot_done};
use args::{parse_capture_every, parse_fault, parse_size, Fault};
use gpu::Gpu;
use input::Mouse;
use nannou::prelude::*;
use nannou_egui::{egui, Egui};
use protocol::Msg;
use state::{Action, AppState};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use worker::Workers;

static ARGS: OnceLock<AppArgs> = OnceLock::new();

/// Time per frame spent on messages from background work.
const MESSAGE_BUDGET: std::time::Duration = std::time::Duration::from_millis(8);
/// Two clicks closer than this are a double-click.
const DOUBLE_CLICK_SECONDS: f64 = 0.35;

/// Check the arguments, then open the window and run until it closes.
pub fn run(args: AppArgs) -> Result<()> {
    args.check()?;
    #[cfg(target_os = "linux")]
    {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            bail!("no display: set DISPLAY (e.g. run under `xvfb-run`), or use the headless subcommands (analyze, grid, render)");
        }
    }
    crate::progress::init_stderr_logger(log::LevelFilter::Warn);
    // Ctrl-C / SIGTERM: finish the files being written, then exit with 130 / 143.
    if let Err(e) = crate::util::signals::install(None) {
        log::warn!("cannot handle Ctrl-C ({e}); it will end the app at once");
    }
    let _ = ARGS.set(args);
    nannou::app(model)
        .event(event)
        .update(update)
        .exit(exit)
        .run();
    Ok(())
}

struct Model {
    /// The main window (the panel, mouse and touch); it is `outputs.ids[0]`.
    window: WindowId,
    /// Every window drawn into and the canvas they share.
    outputs: windows::Outputs,
    egui: Egui,
    state: AppState,
    gpu: Gpu,
    rx: Receiver<Msg>,
    workers: Arc<Workers>,
    background: [u8; 3],
    mouse: Mouse,
    /// The lightbox image: its index, texture and plate colour (when it is drawn on one).
    lightbox: Option<(usize, egui::TextureHandle, Option<[u8; 3]>)>,
    start: Instant,
    startup_done: Option<u64>,
    /// The startup job has been seen running (a path is looked at by a worker first, so the
    /// first frames have no job yet).
    startup_job_seen: bool,
    frames: u64,
    quit_at: Option<u64>,
    capture_on_quit: Option<PathBuf>,
    press: Vec<char>,
    /// Simulated GPU faults (test hook): what, and the frame after startup.
    faults: Vec<(Fault, u64)>,
    /// GUI draws that failed in `view` (which cannot change the model); reported in `update`.
    gui_errors: AtomicU64,
    gui_errors_reported: u64,
    hover_key: Option<input::HoverKey>,
    /// A click on an image, waiting to see whether a second click makes it a double-click.
    pending_click: Option<(usize, f64)>,
    /// Counts t-SNE/grid uploads, so hover is recomputed when images move.
    position_uploads: u64,
    stats: stats::Stats,
    quitting: bool,
    /// Show control over OSC (`--osc-in`, `--osc-out`).
    remote: ShowControl,
    /// Opening hours, and whether the show is closed now (black, idle).
    schedule: Option<schedule::Schedule>,
    closed: bool,
    next_schedule_check: f64,
}

/// OSC in and out, and what was refused.
struct ShowControl {
    input: Option<osc::OscIn>,
    output: Option<osc::OscOut>,
    refused: osc::BadCounts,
    next_heartbeat: f64,
}

impl ShowControl {
    /// Open what the arguments ask for; a port that cannot be listened on ends the app with
    /// the reason (an installation must not run deaf).
    fn open(args: &AppArgs) -> ShowControl {
        let input = args.osc_in.as_deref().map(|spec| {
            match osc::listen_address(spec).and_then(|a| osc::OscIn::bind(a, args.osc_allow_quit)) {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::exit(1);
                }
            }
        });
        let output = args.osc_out.as_deref().map(|spec| {
            match osc::send_address(spec).and_then(osc::OscOut::new) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::exit(1);
                }
            }
        });
        ShowControl {
            input,
            output,
            refused: osc::BadCounts::default(),
            next_heartbeat: 0.0,
        }
    }
}

fn model(app: &App) -> Model {
    let args = ARGS.get().cloned().unwrap_or_default();
    let specs = windows::specs(&args);
    let main_spec = specs[0];
    let (w, h) = main_spec
        .size
        .unwrap_or_else(|| parse_size(&args.size).unwrap_or((1280, 800)));
    app.set_exit_on_escape(false);
    app.set_fullscreen_on_shortcut(false);
    let mut builder = app
        .new_window()
        .title("image-tsne-live")
        .size(w, h)
        .view(view::view)
        .raw_event(input::raw_window_event)
        .event(input::window_event)
        .closed(main_closed);
    if let Some(m) = main_spec.monitor {
        builder = builder.fullscreen_with(windows::fullscreen_on(app, m, "the main window"));
    } else if args.fullscreen {
        builder = builder.fullscreen();
    }
    let window = match builder.build() {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: cannot open a window: {e}");
            std::process::exit(1);
        }
    };
    let (egui, gpu) = match app.window(window) {
        Some(win) => {
            let target = TargetDesc {
                format: Frame::TEXTURE_FORMAT,
                sample_count: win.msaa_samples(),
            };
            (
                Egui::from_window(&win),
                Gpu::new(win.device(), target).with_gpu_memory(args.gpu_memory),
            )
        }
        None => {
            eprintln!("error: the window closed while starting");
            std::process::exit(1);
        }
    };
    let (tx, rx) = channel();
    let options = AnalyzeOptions {
        cache: args.cache.cache(),
        model: args.model.clone(),
        ..AnalyzeOptions::default()
    };
    let workers = Workers::new(tx, options);
    // a watched map grows: its atlas gets room for newcomers
    workers
        .headroom
        .store(args.watch, std::sync::atomic::Ordering::Relaxed);
    // the other windows; the camera's viewport is the canvas (the wall, or the main window)
    let outputs = windows::open(app, window, &specs, &args);
    let mut state = AppState::new(outputs.canvas.size);
    state.analysis.max_images = args.max_images.max(1);
    state.analysis.perplexity = args.perplexity;
    state.analysis.theta = args.theta;
    state.view.view_as_grid = args.grid;
    state.overlays.gui_visible = !args.hide_gui;
    // a show without the panel is a clean map unless it asks for the names
    state.clusters.labels_visible = !args.hide_gui || args.cluster_names;
    state.overlays.fullscreen = args.fullscreen;
    state.captures.screenshot_dir = args.screenshot_dir.clone();
    state.settle_seconds = args.settle_seconds;
    state.growing.autosave = args.autosave.clone();
    state.growing.watch_wanted = args.watch;
    state.growing.watch_dir = args.path.clone().filter(|p| p.is_dir());
    state.gallery.toggle_every = args.toggle_every.max(0.0);
    state.gallery.resume_after = args.gallery_resume.max(0.0);
    state.attract_after = args.attract_after.max(0.0);
    if args.gallery {
        state.gallery.set_enabled(true, 0.0);
    }
    state.captures.every = args
        .capture_every
        .as_deref()
        .and_then(|c| parse_capture_every(c).ok())
        .map(|(seconds, dir)| state::CaptureEvery { seconds, dir });
    // The first job looks at the disk on a worker (folder or layout; the demo set is unpacked
    // there too), never on the render thread.
    // An existing autosave is the map to continue.
    let resume = args.autosave.clone().filter(|f| f.is_file());
    state.act(match (&resume, &args.path) {
        (Some(f), _) => Action::Load(f.clone()),
        (None, Some(p)) => Action::Open(p.clone()),
        (None, None) => Action::AnalyzeDemo,
    });
    state.view.plates = args.plates;
    if let Some(m) = &args.metadata {
        state.act(Action::LoadMetadata(m.clone()));
    }
    let remote = ShowControl::open(&args);
    state.remote_listening = remote.output.is_some();
    let background = crate::render::parse_hex_color(&args.background).unwrap_or([16, 16, 20]);
    Model {
        window,
        outputs,
        egui,
        state,
        gpu,
        rx,
        workers,
        background,
        mouse: Mouse::default(),
        lightbox: None,
        start: Instant::now(),
        startup_done: None,
        startup_job_seen: false,
        frames: 0,
        quit_at: args.quit_after,
        capture_on_quit: args.capture_on_quit.clone(),
        press: args.press.as_deref().unwrap_or("").chars().rev().collect(),
        faults: args
            .inject_gpu_fault
            .iter()
            .filter_map(|f| parse_fault(f).ok())
            .collect(),
        gui_errors: AtomicU64::new(0),
        gui_errors_reported: 0,
        hover_key: None,
        pending_click: None,
        position_uploads: 0,
        stats: stats::Stats::new(args.stats.clone(), args.heartbeat.clone()),
        quitting: false,
        remote,
        schedule: args
            .schedule_hours
            .as_deref()
            .and_then(|h| schedule::Schedule::parse(h, args.schedule_days.as_deref()).ok()),
        closed: false,
        next_schedule_check: 0.0,
    }
}

fn update(app: &App, model: &mut Model, update: Update) {
    let now = model.start.elapsed().as_secs_f64();
    model.stats.frame();
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
    if !model.quitting && crate::util::signals::received().is_some() {
        model.state.act(Action::Quit);
    }
    remote_commands(model);
    opening_hours(app, model, now);
    // a window's size changed (or it went fullscreen): the canvas is laid out again, and the
    // camera's viewport follows; checked once a frame, for every output at once
    if model.outputs.refresh(app) {
        model.state.set_viewport(model.outputs.canvas.size);
    }
    model.state.update(now);
    report_gui_errors(model);

    // The egui panel.
    model.egui.set_elapsed_time(update.since_start);
    // (the label is the panel's, so it shows where the pointer is in the main window)
    let hover_label = model
        .state
        .overlays
        .hovered
        .filter(|_| model.mouse.output == 0)
        // the title from the metadata, else the file name
        .and_then(|i| model.state.caption(i))
        .map(|name| (name, model.mouse.points));
    let fps = app.fps();
    let (actions, panel_right) = {
        let ctx = model.egui.begin_frame();
        let lightbox = if model.outputs.canvas.draws_lightbox(0) {
            ui::Lightbox::OnMap
        } else {
            ui::Lightbox::Panel(
                model
                    .lightbox
                    .as_ref()
                    .filter(|(i, _, _)| Some(*i) == model.state.overlays.lightbox)
                    .map(|(_, t, plate)| (t, *plate)),
            )
        };
        // the cluster names, placed through the main window's camera
        let window = ctx.screen_rect().size() * ctx.pixels_per_point();
        let main_camera = model
            .outputs
            .canvas
            .camera(0, &model.state.camera, [window.x, window.y]);
        let labels = model.state.cluster_labels(&main_camera);
        // the lasso being drawn, in the main window's pixels
        let lasso: Vec<[f32; 2]> = model
            .state
            .selection
            .lasso
            .iter()
            .flatten()
            .map(|&p| main_camera.world_to_screen(model.state.camera.screen_to_world(p)))
            .collect();
        ui::draw(
            &ctx,
            &mut model.state,
            fps,
            lightbox,
            hover_label,
            ui::Overlay {
                labels: &labels,
                lasso: &lasso,
            },
        )
    };
    // the panel narrows the map's room only where the main window is the canvas (over a
    // wall, the map is fitted to the wall and the panel floats over the control view)
    let inset = if model.outputs.canvas.is_whole_canvas(0) {
        panel_right * model.egui.ctx().pixels_per_point()
    } else {
        0.0
    };
    if (inset - model.state.framing.left_inset_px).abs() > 1.0 {
        model.state.framing.left_inset_px = inset;
        if model.state.framing.fitted {
            model.state.fit_camera(false);
        }
    }
    for a in actions {
        model.state.user_input();
        model.state.act(a);
    }
    apply_effects(app, model);
    gpu_frame(app, model, now);
    input::update_hover(model);
    scripted(app, model);
    let figures = || stats::Figures {
        images: model.state.shown().map_or(0, |s| s.used_count()),
        job_running: model.state.job.is_some(),
        gpu_bytes: model.gpu.bytes(),
        gpu_errors: model.gpu.errors.total(),
        rebuilds: model.gpu.rebuilds,
        warnings: model.state.overlays.warnings.len(),
    };
    model.stats.maybe_report(now, figures);
    remote_reports(model, fps, now);
}

/// Commands from the show controller: a few a frame, each carried out like a key press;
/// refused ones counted by kind, the first of each kind warned about.
fn remote_commands(model: &mut Model) {
    let Some(input) = model.remote.input.as_mut() else {
        return;
    };
    for _ in 0..osc::MAX_PER_FRAME {
        let Some(msg) = input.try_recv() else { break };
        let refused = match msg {
            Ok(cmd) => {
                let what = format!("{cmd:?}");
                match model.state.remote(cmd) {
                    Ok(()) => None,
                    Err(r) => Some(osc::Bad {
                        kind: osc::BadKind::Refused,
                        detail: format!("{what}: {}", r.0),
                    }),
                }
            }
            Err(bad) => Some(bad),
        };
        if let Some(bad) = refused {
            if model.remote.refused.record(bad.kind) {
                let text = format!(
                    "OSC: {} (further {:?} messages are counted, not told)",
                    bad.detail, bad.kind
                );
                log::warn!("{text}");
                model.state.warn(text);
            }
        }
    }
}

/// Outside the opening hours the window is black and the loop runs once a second (enough to
/// wake on time, answer OSC and beat the heart); inside, at the display's rate.
fn opening_hours(app: &App, model: &mut Model, now: f64) {
    let Some(schedule) = &model.schedule else {
        return;
    };
    if now < model.next_schedule_check {
        return;
    }
    model.next_schedule_check = now + 1.0;
    let closed = !schedule.is_open_now();
    if closed != model.closed {
        model.closed = closed;
        if closed {
            log::warn!("outside the opening hours: the window is black until they begin");
            app.set_loop_mode(LoopMode::rate_fps(1.0));
        } else {
            log::warn!("opening hours: the show goes on");
            app.set_loop_mode(LoopMode::RefreshSync);
        }
    }
}

/// The heartbeat and the state's events, to the show controller.
fn remote_reports(model: &mut Model, fps: f32, now: f64) {
    let events = model.state.take_remote_events();
    let Some(out) = model.remote.output.as_mut() else {
        return;
    };
    for e in &events {
        out.event(e);
    }
    if now >= model.remote.next_heartbeat {
        model.remote.next_heartbeat = now + osc::HEARTBEAT_SECONDS;
        out.heartbeat(
            fps,
            model.state.shown().map_or(0, |s| s.used_count()),
            model.gpu.errors.total(),
            now,
        );
    }
}

/// The plates images are drawn with: the panel's mode on the window's background, the
/// analysis' composite colour (what transparent pixels showed the CNN) for the plates.
fn plates(model: &Model) -> crate::render::Plates {
    crate::render::Plates::new(
        model.state.view.plates,
        model.background,
        crate::images::Preprocess::default().background,
    )
}

/// Per-frame GPU work besides drawing: one screenshot tile, GPU error checks, test faults.
fn gpu_frame(app: &App, model: &mut Model, now: f64) {
    let Some(win) = app.window(model.window) else {
        return;
    };
    let (device, queue) = (win.device(), win.queue());
    // the panel's plate setting, on every scene (a no-op while it stays the same)
    let plates = plates(model);
    for r in model.gpu.renderers.values_mut() {
        r.set_plates(queue, plates);
    }
    if let Some(done) = model.gpu.step_screenshot(device, queue, false) {
        screenshot_done(model, done);
    }
    // while the outputs draw a lightbox, the detail tier serves its image at that size
    let focus = model
        .state
        .overlays
        .lightbox
        .filter(|_| model.outputs.canvas.any_draws_lightbox())
        .and_then(|i| {
            let renderer = model.gpu.renderers.get(&model.state.shown()?.id)?;
            let image = renderer.instance_world_rect(i, &model.state.layout_params())?;
            model.outputs.canvas.lightbox_camera(&image)
        });
    model
        .gpu
        .stream_details(device, queue, &mut model.state, &model.workers.cache, focus);
    for text in std::mem::take(&mut model.gpu.notices) {
        model.state.error(text.clone());
        model.state.warn(text);
    }
    model.state.overlays.glue_status = model
        .gpu
        .screenshot_progress()
        .map(|(done, total)| format!("screenshot {done}/{total} tiles"));
    if model
        .gpu
        .check_errors(device, queue, &mut model.state, &model.workers, now)
    {
        model.position_uploads += 1;
    }
    // Test hook: simulated faults, counted from the end of the startup job.
    if let Some(done) = model.startup_done {
        let frame = model.frames.saturating_sub(done);
        let due: Vec<Fault> = model
            .faults
            .iter()
            .filter(|(_, at)| *at == frame)
            .map(|(f, _)| *f)
            .collect();
        for fault in due {
            eprintln!("injecting a GPU fault ({fault:?}) at frame {frame}");
            match fault {
                Fault::InvalidUpload => {
                    if let Some(r) = model.gpu.renderers.values().next() {
                        r.inject_invalid_upload(queue);
                    }
                }
                Fault::DeviceLost => model.gpu.errors.record(
                    crate::render::GpuErrorKind::DeviceLost,
                    "simulated device loss (test hook)",
                ),
                Fault::OutOfMemory => model.gpu.errors.record(
                    crate::render::GpuErrorKind::OutOfMemory,
                    "simulated out-of-memory (test hook)",
                ),
            }
        }
    }
}

/// `--press`, `--quit-after` and `--capture-on-quit`: scripted runs for tests and demos.
fn scripted(app: &App, model: &mut Model) {
    model.frames += 1;
    model.startup_job_seen |= model.state.job.is_some();
    let nothing_to_wait_for = model.state.job.is_none()
        && (model.startup_job_seen || model.state.shown().is_some() || model.frames > 600);
    if model.startup_done.is_none() && nothing_to_wait_for {
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
            if let Some(path) = &model.capture_on_quit {
                // never into a missing folder (nannou would make it or panic on this thread)
                if let Err(path) = windows::capture_all(app, model, path.clone()) {
                    eprintln!(
                        "warning: frame not captured: the folder of {} is missing",
                        path.display()
                    );
                }
            }
        }
        if model.frames >= due + 3 {
            model.state.act(Action::Quit);
            apply_effects(app, model);
        }
    }
}

/// GUI draws that failed in `view` are told once in the warnings and counted.
fn report_gui_errors(model: &mut Model) {
    let n = model.gui_errors.load(Ordering::Relaxed);
    if n > model.gui_errors_reported {
        if model.gui_errors_reported == 0 {
            model
                .state
                .warn("the GUI panel could not be drawn (see the log); the map goes on".into());
        }
        model.gui_errors_reported = n;
    }
}

/// Events of the other outputs (the main window's come through its own handlers): nannou's
/// per-window handlers do not say which window, the app's event does.
fn event(app: &App, model: &mut Model, event: Event) {
    if let Event::WindowEvent {
        id,
        simple: Some(e),
    } = event
    {
        if let Some(k) = model.outputs.index(id).filter(|&k| k > 0) {
            input::output_event(app, model, k, e);
        }
    }
}

/// The main window closed: the show ends (the other outputs close with it).
fn main_closed(app: &App, model: &mut Model) {
    model.state.act(Action::Quit);
    apply_effects(app, model);
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
    if let Some(status) = crate::util::signals::received() {
        eprintln!("stopped by a signal; files written");
        std::process::exit(status);
    }
}
