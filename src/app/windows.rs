//! The output windows (glue for [`outputs`](super::outputs)): opening the extra windows of
//! `--outputs` (each fullscreen on its monitor, or a window of its size), checking that they
//! share the main window's GPU device (one atlas, one detail tier for all), keeping the canvas
//! in step with their sizes, and capturing every output when the main window is captured.

use super::outputs::{capture_path, parse_outputs, Canvas, OutputKind, OutputSpec};
use super::Model;
use crate::render::{EdgeBlend, TargetDesc};
use nannou::prelude::*;
use nannou::winit::window::Fullscreen;
use std::path::PathBuf;

/// The windows drawn into (the main one first), the canvas they share and the blend pass.
pub(super) struct Outputs {
    pub ids: Vec<WindowId>,
    pub kinds: Vec<OutputKind>,
    pub canvas: Canvas,
    overlap: f32,
    gamma: f32,
    /// The soft-edge/letterbox pass; `None` if it could not be built (outputs then draw
    /// without it, warned once).
    pub blend: Option<EdgeBlend>,
}

impl Outputs {
    /// The output that window `id` is (0: the main window).
    pub fn index(&self, id: WindowId) -> Option<usize> {
        self.ids.iter().position(|w| *w == id)
    }

    /// Re-lays the canvas when a window's size changed (or one went away: its last size
    /// stays); tells whether it changed.
    pub fn refresh(&mut self, app: &App) -> bool {
        let sizes: Vec<[f32; 2]> = self
            .ids
            .iter()
            .enumerate()
            .map(|(k, id)| match app.window(*id) {
                Some(win) => {
                    let (w, h) = win.inner_size_pixels();
                    [w as f32, h as f32]
                }
                None => self.canvas.windows.get(k).copied().unwrap_or([1.0, 1.0]),
            })
            .collect();
        if sizes == self.canvas.windows {
            return false;
        }
        self.canvas = Canvas::new(&self.kinds, &sizes, self.overlap, self.gamma);
        true
    }
}

/// The kinds of the windows `--outputs` asks for (the main window alone without it).
pub(super) fn specs(args: &super::AppArgs) -> Vec<OutputSpec> {
    args.outputs
        .as_deref()
        .and_then(|o| parse_outputs(o).ok())
        .unwrap_or_else(|| {
            vec![OutputSpec {
                kind: OutputKind::View,
                monitor: None,
                size: None,
            }]
        })
}

/// Fullscreen on monitor `index` of those the system lists; a monitor that is not there (a
/// projector switched off at boot) is warned about and the window opens on the first one.
pub(super) fn fullscreen_on(app: &App, index: usize, what: &str) -> Option<Fullscreen> {
    let monitors = app.available_monitors();
    let monitor = match monitors.get(index) {
        Some(m) => Some(m.clone()),
        None => {
            log::warn!(
                "{what}: monitor {index} is not there ({} found: {}); fullscreen on the first",
                monitors.len(),
                monitors
                    .iter()
                    .enumerate()
                    .map(|(i, m)| format!("{i} {}", m.name().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            monitors.first().cloned()
        }
    };
    Some(Fullscreen::Borderless(monitor))
}

/// Opens the windows after the main one and builds the canvas and the blend pass. A window
/// that cannot open, or that got another GPU device than the main window, ends the app with
/// the reason (an installation must not run with a dark projector unnoticed).
pub(super) fn open(
    app: &App,
    main: WindowId,
    specs: &[OutputSpec],
    args: &super::AppArgs,
) -> Outputs {
    let (w, h) = super::args::parse_size(&args.size).unwrap_or((1280, 800));
    let mut ids = vec![main];
    let main_device = app.window(main).map(|win| win.device_queue_pair().clone());
    for (k, spec) in specs.iter().enumerate().skip(1) {
        let (ww, wh) = spec.size.unwrap_or((w, h));
        let kind = match spec.kind {
            OutputKind::Wall => "wall",
            OutputKind::View => "mirror",
        };
        let mut builder = app
            .new_window()
            .title(format!("image-tsne-live — output {k} ({kind})"))
            .size(ww, wh)
            .view(super::view::view);
        if let Some(m) = spec.monitor {
            builder = builder.fullscreen_with(fullscreen_on(app, m, &format!("output {k}")));
        }
        let id = match builder.build() {
            Ok(id) => id,
            Err(e) => {
                eprintln!("error: cannot open output {k} ({kind}): {e}");
                std::process::exit(1);
            }
        };
        let same_device = match (app.window(id), &main_device) {
            (Some(win), Some(main)) => std::sync::Arc::ptr_eq(win.device_queue_pair(), main),
            _ => false,
        };
        if !same_device {
            eprintln!(
                "error: output {k} got its own GPU device; every output must share the main \
                 window's (one atlas for all): put the monitors on one GPU"
            );
            std::process::exit(1);
        }
        ids.push(id);
    }
    let sizes: Vec<[f32; 2]> = ids
        .iter()
        .map(|id| {
            app.window(*id).map_or([1.0, 1.0], |win| {
                let (w, h) = win.inner_size_pixels();
                [w as f32, h as f32]
            })
        })
        .collect();
    let kinds: Vec<OutputKind> = specs.iter().map(|s| s.kind).collect();
    let canvas = Canvas::new(&kinds, &sizes, args.wall_overlap, args.wall_gamma);
    let blend = app.window(main).and_then(|win| {
        let target = TargetDesc {
            format: Frame::TEXTURE_FORMAT,
            sample_count: win.msaa_samples(),
        };
        match EdgeBlend::new(win.device(), target) {
            Ok(b) => Some(b),
            Err(e) => {
                log::warn!(
                    "the soft-edge blend pass could not be built ({e}); outputs draw without it"
                );
                None
            }
        }
    });
    Outputs {
        ids,
        kinds,
        canvas,
        overlap: args.wall_overlap,
        gamma: args.wall_gamma,
        blend,
    }
}

/// Captures every output's next frame: the main window's into `path`, output k's into
/// `NAME-k.EXT` beside it. A missing folder is handed back (see [`super::apply::capture_frame`]).
pub(super) fn capture_all(app: &App, model: &Model, path: PathBuf) -> Result<(), PathBuf> {
    for (k, id) in model.outputs.ids.iter().enumerate() {
        if let Some(win) = app.window(*id) {
            super::apply::capture_frame(&win, capture_path(&path, k)).map_err(|_| path.clone())?;
        }
    }
    Ok(())
}
