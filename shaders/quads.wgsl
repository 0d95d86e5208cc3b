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
    // detail levels 0..2 (256, 512, 1024 px cells): cells per layer row, cell side, mip levels
    detail_per_row: vec4<u32>,
    detail_side: vec4<u32>,
    detail_mips: vec4<u32>,
    // plate colour (linear, opaque), corner radius (fraction of half the short side)
    plate: vec4<f32>,
};

@group(0) @binding(0) var<uniform> u: Uniforms;
@group(1) @binding(0) var atlas_tex: texture_2d_array<f32>;
@group(1) @binding(1) var atlas_samp: sampler;
// The detail tier: larger versions of the images on screen, one texture array per level.
@group(1) @binding(2) var detail0: texture_2d_array<f32>;
@group(1) @binding(3) var detail1: texture_2d_array<f32>;
@group(1) @binding(4) var detail2: texture_2d_array<f32>;

const NO_DETAIL: u32 = 0xffffffffu;

const FLAG_PLACEHOLDER: u32 = 1u;
const FLAG_HIDDEN: u32 = 2u;
// Drawn on a plate: an opaque card behind the image (see src/render/plate.rs).
const FLAG_PLATE: u32 = 4u;
// Selected by a curator: a ring around the image (see src/render/instance.rs).
const FLAG_SELECTED: u32 = 8u;
// Not matching the filter: drawn dimmed.
const FLAG_DIMMED: u32 = 16u;
const FADE_SHIFT: u32 = 8u;
// The selection ring: width in pixels, colour (linear, premultiplied; a warm yellow).
const SELECT_PX: f32 = 3.0;
const SELECT_COLOR: vec4<f32> = vec4<f32>(1.0, 0.62, 0.05, 1.0);
// What a dimmed image keeps of its light.
const DIM: f32 = 0.15;
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
    // The image's rectangle in its detail cell's layer uv, when it has one.
    @location(5) @interpolate(flat) detail_rect: vec4<f32>,
    // Detail level (0..2; 3 = none) and layer.
    @location(6) @interpolate(flat) detail_level: u32,
    @location(7) @interpolate(flat) detail_layer: u32,
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
    @location(5) detail: u32,
    @location(6) detail_rect: vec4<f32>,
) -> VsOut {
    var out: VsOut;
    out.detail_level = 3u;
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
    } else if ((flags & FLAG_SELECTED) != 0u) {
        pad = SELECT_PX;
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

    // Detail slot: same cell arithmetic in the level's own array.
    if (detail != NO_DETAIL) {
        let level = min(detail >> 28u, 2u);
        let slot = detail & 0x0fffffffu;
        let dpr = max(u.detail_per_row[level], 1u);
        let dpl = dpr * dpr;
        let dwithin = slot % dpl;
        let dcell = vec2<f32>(f32(dwithin % dpr), f32(dwithin / dpr));
        let dinv = 1.0 / f32(dpr);
        out.detail_rect = vec4<f32>((dcell + detail_rect.xy) * dinv, (dcell + detail_rect.zw) * dinv);
        out.detail_level = level;
        out.detail_layer = slot / dpl;
    }
    return out;
}

fn sd_round_box(p: vec2<f32>, half_size: vec2<f32>, r: f32) -> f32 {
    let q = abs(p) - half_size + vec2<f32>(r, r);
    return length(max(q, vec2<f32>(0.0, 0.0))) + min(max(q.x, q.y), 0.0) - r;
}

// Where to sample an image's rectangle `rect` (layer uv) of a texture with `texels` texels per
// layer side and `mips` levels: the clamped uv and the level of detail. Manual LOD so the
// sample can be clamped inside the image at the level actually read: no bleeding from
// neighbouring cells at any mip level, crisp edges when magnified. `dldx`/`dldy` are the
// screen derivatives of `local`, taken once in uniform control flow.
fn cell_sample(rect: vec4<f32>, local: vec2<f32>, dldx: vec2<f32>, dldy: vec2<f32>, texels: f32, mips: u32) -> vec3<f32> {
    let uv = mix(rect.xy, rect.zw, local);
    let extent = rect.zw - rect.xy;
    let rho = max(length(dldx * extent), length(dldy * extent)) * texels;
    let max_lod = f32(max(mips, 1u) - 1u);
    let lod = clamp(log2(max(rho, 1e-6)), 0.0, max_lod);
    let coarse = min(ceil(lod), max_lod);
    let half_texel = 0.5 * exp2(coarse) / texels;
    let mid = 0.5 * (rect.xy + rect.zw);
    let lo = min(rect.xy + vec2<f32>(half_texel, half_texel), mid);
    let hi = max(rect.zw - vec2<f32>(half_texel, half_texel), mid);
    return vec3<f32>(clamp(uv, lo, hi), lod);
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    // Derivatives in uniform control flow; every sample below uses an explicit level.
    let dldx = dpdx(in.local);
    let dldy = dpdy(in.local);
    var tex: vec4<f32>;
    // Every layer and mip index is checked against the texture actually bound: a software
    // rasterizer (lavapipe) runs this on the CPU and may read out of bounds where a GPU
    // clamps. A detail slot past its level's layers (not allocated yet, or bad instance
    // data) is drawn from the base atlas instead.
    var level = in.detail_level;
    var detail_layers = 0u;
    var detail_levels = 1u;
    if (level == 0u) {
        detail_layers = u32(textureNumLayers(detail0));
        detail_levels = u32(textureNumLevels(detail0));
    } else if (level == 1u) {
        detail_layers = u32(textureNumLayers(detail1));
        detail_levels = u32(textureNumLevels(detail1));
    } else if (level == 2u) {
        detail_layers = u32(textureNumLayers(detail2));
        detail_levels = u32(textureNumLevels(detail2));
    }
    if (level < 3u && in.detail_layer >= detail_layers) {
        level = 3u;
    }
    if (level < 3u) {
        let texels = f32(max(u.detail_per_row[level] * u.detail_side[level], 1u));
        let mips = min(max(u.detail_mips[level], 1u), max(detail_levels, 1u));
        let s = cell_sample(in.detail_rect, in.local, dldx, dldy, texels, mips);
        let layer = i32(in.detail_layer);
        // Slightly sharper than plain trilinear: level 0 alone down to 1/sqrt(2) size.
        let lod = max(s.z - 0.5, 0.0);
        if (level == 0u) {
            tex = textureSampleLevel(detail0, atlas_samp, s.xy, layer, lod);
        } else if (level == 1u) {
            tex = textureSampleLevel(detail1, atlas_samp, s.xy, layer, lod);
        } else {
            tex = textureSampleLevel(detail2, atlas_samp, s.xy, layer, lod);
        }
    } else {
        let texels = f32(max(u.atlas.x * u.atlas.z, 1u));
        let mips = min(max(u.atlas.w, 1u), max(u32(textureNumLevels(atlas_tex)), 1u));
        let s = cell_sample(in.uv_rect, in.local, dldx, dldy, texels, mips);
        let last_layer = max(u32(textureNumLayers(atlas_tex)), 1u) - 1u;
        tex = textureSampleLevel(atlas_tex, atlas_samp, s.xy, i32(min(in.layer, last_layer)), s.z);
    }

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
    if ((in.flags & (FLAG_PLATE | FLAG_PLACEHOLDER)) == FLAG_PLATE && in_image) {
        // The image over its plate: a rounded card of the image's size, anti-aliased over ~1 px.
        let half_size = 0.5 * in.size_px;
        let p = (in.local - vec2<f32>(0.5, 0.5)) * in.size_px;
        let r = u.plate.w * min(half_size.x, half_size.y);
        let cover = clamp(0.5 - sd_round_box(p, half_size, r), 0.0, 1.0);
        color = tex + (1.0 - tex.a) * vec4<f32>(u.plate.rgb, 1.0) * cover;
    }
    if (overlay && !in_image) {
        color = u.outline_color;
    } else if (!in_image && (in.flags & FLAG_SELECTED) != 0u) {
        color = SELECT_COLOR;
    } else if ((in.flags & FLAG_DIMMED) != 0u) {
        color = vec4<f32>(color.rgb * DIM, color.a);
    }
    // bits 8..16: how far the image has faded out (a removed image leaving)
    let fade = 1.0 - f32((in.flags >> FADE_SHIFT) & 0xffu) / 255.0;
    return color * (u.style.z * fade);
}
