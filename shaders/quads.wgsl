// Instanced image quads: one instance per image, 6 vertices per quad (two triangles).
// The vertex shader blends each image between its t-SNE position and its grid cell with the
// eased layout parameter `t`; the CPU only updates the small uniform per frame.
// Conventions: world and screen are y-down; see src/render/layout.rs (LayoutGeometry), whose
// CPU math this file mirrors, and src/render/quads.rs for the Rust side of every struct.
// Colours are premultiplied alpha, linear light (the atlas is an sRGB texture).

struct Uniforms {
    // center.x, center.y (world), zoom (pixels per world unit), unused
    camera: vec4<f32>,
    // viewport width, height (pixels), unused, unused
    viewport: vec4<f32>,
    // t (raw, eased here), t-SNE spread (scale / 4), image_size (pitches), grid fill (1 - gap)
    blend: vec4<f32>,
    // grid origin x, y (world, top-left), pitch (world), unused
    grid: vec4<f32>,
    // hover lift factor, outline width (px), global opacity, placeholder corner radius (fraction)
    style: vec4<f32>,
    outline_color: vec4<f32>,
    placeholder_color: vec4<f32>,
    // atlas: cells per row, cells per layer, cell size (px), mip levels
    atlas: vec4<u32>,
    // hovered instance index (0xffffffff = none), unused x3
    hover: vec4<u32>,
};

@group(0) @binding(0) var<uniform> u: Uniforms;
@group(1) @binding(0) var atlas_tex: texture_2d_array<f32>;
@group(1) @binding(1) var atlas_samp: sampler;

const FLAG_PLACEHOLDER: u32 = 1u;
const FLAG_HIDDEN: u32 = 2u;
// Set by the vertex shader for the second (hovered-instance) draw, vertices 6..12.
const FLAG_OVERLAY: u32 = 0x80000000u;

struct VsOut {
    @builtin(position) clip: vec4<f32>,
    // Position in the quad: [0,1]² is the image, outside it the hover outline ring.
    @location(0) local: vec2<f32>,
    // The image's rectangle in atlas uv (u0, v0, u1, v1).
    @location(1) @interpolate(flat) uv_rect: vec4<f32>,
    // The image's size on screen, pixels.
    @location(2) @interpolate(flat) size_px: vec2<f32>,
    @location(3) @interpolate(flat) layer: u32,
    @location(4) @interpolate(flat) flags: u32,
};

@vertex
fn vs_main(
    @builtin(vertex_index) vid: u32,
    @builtin(instance_index) iid: u32,
    @location(0) tsne: vec2<f32>,
    @location(1) grid_cell: vec2<f32>,
    @location(2) rect: vec4<f32>,
    @location(3) aspect: f32,
    @location(4) flags: u32,
) -> VsOut {
    var out: VsOut;
    // Degenerate, clipped vertex: used to drop a quad.
    out.clip = vec4<f32>(0.0, 0.0, -1.0, 1.0);
    let overlay = vid >= 6u;
    let hovered = iid == u.hover.x;
    // The hovered image is skipped in the main draw and drawn lifted on top by the overlay draw.
    if ((flags & FLAG_HIDDEN) != 0u || hovered != overlay) {
        return out;
    }

    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0),
        vec2<f32>(1.0, 0.0),
        vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0),
        vec2<f32>(1.0, 0.0),
        vec2<f32>(1.0, 1.0),
    );
    let corner = corners[vid % 6u];

    // Layout blend (smoothstep easing, same as layout::ease).
    let t = clamp(u.blend.x, 0.0, 1.0);
    let e = t * t * (3.0 - 2.0 * t);
    let pitch = u.grid.z;
    let tsne_world = vec2<f32>(0.5, 0.5) + (tsne - vec2<f32>(0.5, 0.5)) * u.blend.y;
    let grid_world = u.grid.xy + (grid_cell + vec2<f32>(0.5, 0.5)) * pitch;
    let center = mix(tsne_world, grid_world, e);
    let long_side = mix(u.blend.z * pitch, u.blend.w * pitch, e);
    var a = aspect;
    if (!(a > 0.0)) {
        a = 1.0;
    }
    var size = vec2<f32>(long_side, long_side / a);
    if (a < 1.0) {
        size = vec2<f32>(long_side * a, long_side);
    }

    let zoom = u.camera.z;
    var size_px = size * zoom;
    var pad = 0.0;
    if (overlay) {
        size_px = size_px * u.style.x;
        pad = u.style.y;
    }
    let center_px = (center - u.camera.xy) * zoom + 0.5 * u.viewport.xy;
    let local_px = corner * (size_px + vec2<f32>(2.0 * pad, 2.0 * pad)) - vec2<f32>(pad, pad);
    let p = center_px - 0.5 * size_px + local_px;
    out.clip = vec4<f32>(p.x / u.viewport.x * 2.0 - 1.0, 1.0 - p.y / u.viewport.y * 2.0, 0.0, 1.0);
    out.local = local_px / max(size_px, vec2<f32>(1e-6, 1e-6));

    // Atlas cell of this instance: cell index == instance index.
    let cpr = max(u.atlas.x, 1u);
    let cpl = max(u.atlas.y, 1u);
    let within = iid % cpl;
    let cell_xy = vec2<f32>(f32(within % cpr), f32(within / cpr));
    let inv = 1.0 / f32(cpr);
    out.uv_rect = vec4<f32>((cell_xy + rect.xy) * inv, (cell_xy + rect.zw) * inv);
    out.size_px = size_px;
    out.layer = iid / cpl;
    out.flags = flags | select(0u, FLAG_OVERLAY, overlay);
    return out;
}

fn sd_round_box(p: vec2<f32>, half_size: vec2<f32>, r: f32) -> f32 {
    let q = abs(p) - half_size + vec2<f32>(r, r);
    return length(max(q, vec2<f32>(0.0, 0.0))) + min(max(q.x, q.y), 0.0) - r;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    // Manual LOD so the sample can be clamped inside the image at the level actually read:
    // no bleeding from neighbouring cells at any mip level, crisp edges when magnified.
    let uv = mix(in.uv_rect.xy, in.uv_rect.zw, in.local);
    let texels = f32(max(u.atlas.x * u.atlas.z, 1u));
    let rho = max(length(dpdx(uv)), length(dpdy(uv))) * texels;
    let max_lod = f32(max(u.atlas.w, 1u) - 1u);
    let lod = clamp(log2(max(rho, 1e-6)), 0.0, max_lod);
    let coarse = min(ceil(lod), max_lod);
    let half_texel = 0.5 * exp2(coarse) / texels;
    let mid = 0.5 * (in.uv_rect.xy + in.uv_rect.zw);
    let lo = min(in.uv_rect.xy + vec2<f32>(half_texel, half_texel), mid);
    let hi = max(in.uv_rect.zw - vec2<f32>(half_texel, half_texel), mid);
    let tex = textureSampleLevel(atlas_tex, atlas_samp, clamp(uv, lo, hi), i32(in.layer), lod);

    let overlay = (in.flags & FLAG_OVERLAY) != 0u;
    let in_image = all(in.local >= vec2<f32>(0.0, 0.0)) && all(in.local <= vec2<f32>(1.0, 1.0));
    var color = tex;
    if ((in.flags & FLAG_PLACEHOLDER) != 0u) {
        // Soft grey rounded square, anti-aliased over ~1 px.
        let half_size = 0.5 * in.size_px;
        let p = (in.local - vec2<f32>(0.5, 0.5)) * in.size_px;
        let inset = 0.04 * min(in.size_px.x, in.size_px.y);
        let r = u.style.w * min(half_size.x, half_size.y);
        let d = sd_round_box(p, max(half_size - vec2<f32>(inset, inset), vec2<f32>(0.0, 0.0)), r);
        color = u.placeholder_color * clamp(0.5 - d, 0.0, 1.0);
    }
    if (overlay && !in_image) {
        color = u.outline_color;
    }
    return color * u.style.z;
}
