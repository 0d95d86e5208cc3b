//! Input: window events (keys, mouse, wheel, touch, drops) turned into [`Action`]s
//! (touch gestures are recognised in the state: [`super::state::TouchPoint`]), and the
//! hovered image (hit-tested only when something that affects it changed).

use super::hotkeys::{action_for_char, action_for_key};
use super::state::{Action, TouchPhase, TouchPoint};
use super::{Model, DOUBLE_CLICK_SECONDS};
use nannou::prelude::*;

/// The mouse as the app tracks it.
#[derive(Default)]
pub(super) struct Mouse {
    /// Position on the canvas in pixels, y down (the window's pixels mapped through its
    /// output's placement: what the state's camera sees).
    pub px: [f32; 2],
    /// Position in egui points, y down (of the window it is in).
    pub points: [f32; 2],
    /// The output the pointer is in (0: the main window).
    pub output: usize,
    pub down: Option<([f32; 2], f64)>,
    pub dragged: bool,
    /// The press came with shift: the drag draws a lasso (a click picks one image).
    pub lasso: bool,
    pub last_click: Option<([f32; 2], f64)>,
}

/// What the hovered image depends on; the O(n) hit test runs only when this changes.
#[derive(Clone, Copy, PartialEq)]
pub(super) struct HoverKey {
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

pub(super) fn update_hover(model: &mut Model) {
    let blocked = model.egui.ctx().is_pointer_over_area()
        || model.mouse.down.is_some()
        || model.state.overlays.lightbox.is_some();
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
            let r = model.gpu.renderers.get(&sc.id)?;
            let world = s.camera.screen_to_world(model.mouse.px);
            r.hit_test(world, &s.layout_params())
        })
    };
    model.state.overlays.hovered = hovered;
}

pub(super) fn raw_window_event(
    _app: &App,
    model: &mut Model,
    event: &nannou::winit::event::WindowEvent,
) {
    model.egui.handle_raw_event(event);
}

/// Events of the main window.
pub(super) fn window_event(app: &App, model: &mut Model, event: WindowEvent) {
    output_event(app, model, 0, event);
}

/// Events of output `k`: keys act as anywhere; the mouse and touch act on the canvas where
/// the window shows it (a touch screen at the front desk, a mirror, can steer the wall). The
/// panel lives in the main window only, so only there does it take the pointer or the keys.
pub(super) fn output_event(app: &App, model: &mut Model, k: usize, event: WindowEvent) {
    let Some(&id) = model.outputs.ids.get(k) else {
        return;
    };
    let main = k == 0;
    let egui_wants_keys = main && model.egui.ctx().wants_keyboard_input();
    let egui_wants_pointer =
        main && (model.egui.ctx().wants_pointer_input() || model.egui.ctx().is_pointer_over_area());
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
            let Some(win) = app.window(id) else {
                return;
            };
            let (w, h) = win.inner_size_points();
            let scale = win.scale_factor();
            let points = [p.x + w / 2.0, h / 2.0 - p.y];
            // on the canvas (the main window may show a wall scaled down, or be its first slice)
            let px = model
                .outputs
                .canvas
                .to_canvas(k, [points[0] * scale, points[1] * scale]);
            if model.mouse.lasso && model.mouse.down.is_some() {
                model.state.user_input();
                model.state.act(Action::LassoTo(px));
            } else if let Some((down, _)) = model.mouse.down {
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
            model.mouse.output = k;
        }
        // the panel closes the lightbox on a click in the main window; elsewhere a click does
        WindowEvent::MousePressed(MouseButton::Left)
            if !main && model.state.overlays.lightbox.is_some() =>
        {
            model.state.user_input();
            model.state.act(Action::Escape);
        }
        WindowEvent::MousePressed(MouseButton::Left)
            if (!egui_wants_pointer || model.state.overlays.lightbox.is_some())
                && model.state.overlays.lightbox.is_none() =>
        {
            model.mouse.down = Some((model.mouse.px, now));
            model.mouse.dragged = false;
            // shift: select (a lasso, or one image) instead of panning or opening
            model.mouse.lasso = app.keys.mods.shift();
            if model.mouse.lasso {
                model.state.user_input();
                model.state.act(Action::LassoStart(model.mouse.px));
            }
        }
        WindowEvent::MouseReleased(MouseButton::Left) => {
            let Some((down, _)) = model.mouse.down.take() else {
                return;
            };
            if std::mem::take(&mut model.mouse.lasso) {
                model.mouse.dragged = false;
                model.state.act(Action::LassoEnd);
                return;
            }
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
                model.pending_click = model.state.overlays.hovered.map(|i| (i, now));
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
        WindowEvent::Touch(t) => {
            let Some(win) = app.window(id) else {
                return;
            };
            let (w, h) = win.inner_size_points();
            let scale = win.scale_factor();
            let at = model.outputs.canvas.to_canvas(
                k,
                [
                    (t.position.x + w / 2.0) * scale,
                    (h / 2.0 - t.position.y) * scale,
                ],
            );
            let phase = match t.phase {
                nannou::event::TouchPhase::Started => TouchPhase::Start,
                nannou::event::TouchPhase::Moved => TouchPhase::Move,
                nannou::event::TouchPhase::Ended => TouchPhase::End,
                nannou::event::TouchPhase::Cancelled => TouchPhase::Cancel,
            };
            let (gpu, state) = (&model.gpu, &mut model.state);
            let (scene, camera, params) = (
                state.shown().map(|s| s.id),
                state.camera,
                state.layout_params(),
            );
            let hit = |p: [f32; 2]| {
                let r = gpu.renderers.get(&scene?)?;
                r.hit_test(camera.screen_to_world(p), &params)
            };
            state.touch(
                TouchPoint {
                    id: t.id,
                    phase,
                    at,
                },
                egui_wants_pointer,
                &hit,
            );
        }
        WindowEvent::DroppedFile(path) => {
            model.state.user_input();
            model.state.act(Action::Open(path));
        }
        _ => {}
    }
}
