//! Drawing a frame of one output: the shown scene's quads (hover outline, or the pulsing
//! outline of a newly joined image) through that output's camera, its soft-edge blend or
//! letterbox, and — in the main window — the egui panel over them. Every output draws the same
//! renderer (one set of GPU resources). Never waits and never panics: a GUI draw that fails is
//! counted for `update` to report.

use super::Model;
use crate::render::{srgb_u8_to_clear_color, FrameParams, Style};
use nannou::prelude::*;
use std::sync::atomic::Ordering;

pub(super) fn view(_app: &App, model: &Model, frame: Frame) {
    if model.closed {
        // outside the opening hours
        frame.clear(nannou::color::BLACK);
        return;
    }
    let [w, h] = frame.texture_size();
    let window = [w as f32, h as f32];
    // which output this is (a window that is not one draws as the main window would)
    let output = model.outputs.index(frame.window_id()).unwrap_or(0);
    let canvas = &model.outputs.canvas;
    let [r, g, b] = model.background;
    let shown = model
        .state
        .shown()
        .and_then(|s| model.gpu.renderers.get(&s.id));
    match shown {
        Some(renderer) => {
            let camera = canvas.camera(output, &model.state.camera, window);
            // a newly joined image is outlined (pulsing) when nothing is hovered, or while the
            // gallery tour runs (a pointer resting on the screen does not hide it)
            let mut style = Style::default();
            let mut hovered = model.state.overlays.hovered;
            let touring =
                model.state.gallery.enabled && !model.state.gallery.paused(model.state.now);
            if hovered.is_none() || touring {
                if let Some((index, pulse)) = model.state.highlighted() {
                    hovered = Some(index);
                    style.outline_px = 2.0 + 5.0 * pulse;
                    style.hover_lift = 1.1 + 0.25 * pulse;
                    style.outline_color = [0.2, 0.85, 1.0, 1.0];
                }
            }
            let params = FrameParams {
                camera,
                layout: model.state.layout_params(),
                hovered,
                style,
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
            // the lightbox, on the outputs where the panel does not draw it: the map dimmed,
            // the image large at the canvas' centre (spanning the slices of a wall)
            let lightbox = model
                .state
                .overlays
                .lightbox
                .filter(|_| canvas.draws_lightbox(output))
                .and_then(|i| {
                    let image = renderer.instance_world_rect(i, &params.layout)?;
                    Some((i, canvas.lightbox(output, window, &image)?))
                });
            let shade = match &lightbox {
                Some((_, (_, shade))) => *shade,
                None => canvas.shade(output, window),
            };
            if let Some(blend) = &model.outputs.blend {
                blend.draw(queue, &mut encoder, frame.texture_view(), None, &shade);
            }
            if let Some((index, (camera, _))) = lightbox {
                let plain = Style {
                    hover_lift: 1.0,
                    outline_px: 0.0,
                    ..Style::default()
                };
                let one = FrameParams {
                    camera,
                    style: plain,
                    ..params
                };
                renderer.render_one(queue, &mut encoder, frame.texture_view(), None, index, &one);
            }
        }
        None => frame.clear(nannou::color::rgb8(r, g, b)),
    }
    if output != 0 {
        return;
    }
    if let Err(e) = model.egui.draw_to_frame(&frame) {
        if model.gui_errors.fetch_add(1, Ordering::Relaxed) == 0 {
            log::warn!("GUI draw failed: {e}");
        }
    }
}
