// Soft-edge blend and letterbox shade for the app's outputs (src/render/edge_blend.rs).
//
// Drawn after the images, over the whole target, with the blend state `dst · src`: every pixel
// is multiplied by a weight. The target holds linear light (nannou's Rgba16Float frame, or an
// sRGB texture whose writes encode), so the weights of two overlapping projectors add up in
// light, not in encoded values: that is what makes the blend gamma-correct.
//
// weight = ramp(left)·ramp(right), raised to `exponent` (2.2 / projector gamma), times
// `outside` where the pixel lies outside the canvas rectangle (a mirror's letterbox).

struct Shade {
    // x0, y0, x1, y1 in target pixels: the part of the target that shows the canvas
    inside: vec4<f32>,
    // left ramp from x = .x (weight 0) to .y (weight 1); right ramp from .z (1) to .w (0);
    // a ramp whose end is not past its start is off
    ramps: vec4<f32>,
    // .x: weight outside the canvas, .y: exponent
    params: vec4<f32>,
};

@group(0) @binding(0) var<uniform> shade: Shade;

// One triangle that covers the target.
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let x = f32((i & 1u) << 2u) - 1.0;
    let y = f32((i & 2u) << 1u) - 1.0;
    return vec4<f32>(x, y, 0.0, 1.0);
}

// Paul Bourke's blend curve with power 2: 0 → 0, 1/2 → 1/2, 1 → 1, and ramp(t) + ramp(1 − t) = 1,
// so two projectors that overlap sum to full light everywhere in the overlap.
fn ramp(t: f32) -> f32 {
    let u = clamp(t, 0.0, 1.0);
    if u < 0.5 {
        return 2.0 * u * u;
    }
    let v = 1.0 - u;
    return 1.0 - 2.0 * v * v;
}

@fragment
fn fs_main(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    var w = 1.0;
    let r = shade.ramps;
    if r.y > r.x {
        w = w * ramp((pos.x - r.x) / (r.y - r.x));
    }
    if r.w > r.z {
        w = w * ramp((r.w - pos.x) / (r.w - r.z));
    }
    if w > 0.0 {
        w = pow(w, shade.params.y);
    }
    let c = shade.inside;
    if pos.x < c.x || pos.x > c.z || pos.y < c.y || pos.y > c.w {
        w = w * shade.params.x;
    }
    return vec4<f32>(w, w, w, 1.0);
}
