//! Offscreen rendering tests on a real wgpu device (lavapipe on CI), plus the CPU-side camera,
//! layout and atlas-plan checks. Without any GPU adapter these tests FAIL (they do not skip).

use image::{Rgba, RgbaImage};
use image_tsne_live::render::atlas::{linear_to_srgb_u8, srgb_u8_to_linear};
use image_tsne_live::render::{
    AtlasConfig, AtlasPlan, Camera, FrameParams, GpuContext, LayoutGeometry, LayoutParams,
    OffscreenOptions, PlateMode, Plates, QuadRenderer, RenderError, ScreenshotOptions,
    ScreenshotSize, Style, TargetDesc, WorldRect,
};

// ---------------------------------------------------------------------------------------------
// helpers

fn gpu() -> GpuContext {
    match GpuContext::new_headless() {
        Ok(ctx) => ctx,
        Err(e) => panic!(
            "could not create a headless GPU device: {e}\n\
             These tests need a wgpu adapter; without a GPU install Mesa's software Vulkan \
             driver: `apt-get install -y mesa-vulkan-drivers libvulkan1`"
        ),
    }
}

const RED: [u8; 4] = [255, 0, 0, 255];
const GREEN: [u8; 4] = [0, 255, 0, 255];
const BLUE: [u8; 4] = [0, 0, 255, 255];
const BLACK: [u8; 4] = [0, 0, 0, 255];

fn solid(w: u32, h: u32, c: [u8; 4]) -> RgbaImage {
    RgbaImage::from_pixel(w, h, Rgba(c))
}

fn px(img: &RgbaImage, x: u32, y: u32) -> [u8; 4] {
    img.get_pixel(x, y).0
}

fn close(a: [u8; 4], b: [u8; 4], tol: u8) -> bool {
    a.iter().zip(b.iter()).all(|(x, y)| x.abs_diff(*y) <= tol)
}

#[track_caller]
fn assert_px(img: &RgbaImage, x: u32, y: u32, want: [u8; 4], tol: u8, what: &str) {
    let got = px(img, x, y);
    assert!(
        close(got, want, tol),
        "{what}: pixel ({x},{y}) is {got:?}, expected {want:?} ±{tol}"
    );
}

/// Every pixel inside `[x0,x1)×[y0,y1)` shrunk by `inset` has colour `want`, and no pixel
/// outside the rect grown by `inset` has it.
#[track_caller]
fn assert_rect(img: &RgbaImage, r: [f32; 4], want: [u8; 4], what: &str) {
    let inset = 2.0;
    let mut inside_wrong = 0;
    let mut outside_hits = 0;
    for (x, y, p) in img.enumerate_pixels() {
        let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
        let is = close(p.0, want, 8);
        if cx > r[0] + inset && cx < r[2] - inset && cy > r[1] + inset && cy < r[3] - inset {
            if !is {
                inside_wrong += 1;
            }
        } else if (cx < r[0] - inset || cx > r[2] + inset || cy < r[1] - inset || cy > r[3] + inset)
            && is
        {
            outside_hits += 1;
        }
    }
    assert_eq!(
        (inside_wrong, outside_hits),
        (0, 0),
        "{what}: expected colour {want:?} exactly in {r:?} (pixels wrong inside, found outside)"
    );
}

/// Rect `[x0, y0, x1, y1]` in pixels of an image of size `w × h` centred on `(cx, cy)`.
fn rect_px(cx: f32, cy: f32, w: f32, h: f32) -> [f32; 4] {
    [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
}

/// Four images: 0 red (2:1), 1 green, 2 blue, 3 never loaded (placeholder).
/// t-SNE: red (0.75,0.75), green (0.2,0.75), blue (0.75,0.2), placeholder (0.2,0.2).
/// Grid 2×2: red [0,0], green [1,0], blue [0,1], placeholder [1,1].
fn rgb_scene(ctx: &GpuContext, target: TargetDesc) -> QuadRenderer {
    let config = AtlasConfig {
        max_cell: 64,
        ..Default::default()
    };
    let mut r = QuadRenderer::new(&ctx.device, target, 4, &config).expect("renderer");
    assert_eq!(r.atlas_plan().cell_size, 64);
    r.set_image(&ctx.queue, 0, &solid(16, 8, RED)).expect("red");
    r.set_image(&ctx.queue, 1, &solid(8, 8, GREEN))
        .expect("green");
    r.set_image(&ctx.queue, 2, &solid(8, 8, BLUE))
        .expect("blue");
    r.update_tsne_positions(
        &ctx.queue,
        &[[0.75, 0.75], [0.2, 0.75], [0.75, 0.2], [0.2, 0.2]],
    )
    .expect("tsne");
    r.set_grid(
        &ctx.queue,
        LayoutGeometry::new(2, 2),
        &[[0, 0], [1, 0], [0, 1], [1, 1]],
    )
    .expect("grid");
    r
}

/// 200×200 px viewport showing world [0,1]² (1 world unit = 200 px), images 0.3 pitch = 30 px
/// long in t-SNE view, 96 px in grid view (pitch 0.5, gap 4 %).
fn rgb_params(t: f32) -> FrameParams {
    let camera = Camera {
        center: [0.5, 0.5],
        zoom: 200.0,
        ..Camera::new([200.0, 200.0])
    };
    FrameParams {
        camera,
        layout: LayoutParams {
            t,
            tsne_scale: 4.0,
            image_size: 0.3,
            grid_gap: 0.04,
        },
        hovered: None,
        style: Style::default(),
    }
}

fn opts(background: [u8; 4], sample_count: u32) -> OffscreenOptions {
    OffscreenOptions {
        background,
        sample_count,
        max_tile: 4096,
    }
}

fn render(
    ctx: &GpuContext,
    r: &QuadRenderer,
    params: &FrameParams,
    o: &OffscreenOptions,
) -> RgbaImage {
    let img = r
        .render_offscreen(&ctx.device, &ctx.queue, params, o)
        .expect("offscreen render");
    let errors = ctx.take_errors();
    assert!(errors.is_empty(), "wgpu errors: {errors:?}");
    img
}

fn placeholder_over_black() -> [u8; 4] {
    let g = linear_to_srgb_u8(Style::default().placeholder_color[0]);
    [g, g, g, 255]
}

// ---------------------------------------------------------------------------------------------
// GPU tests

#[test]
fn tsne_layout_puts_each_colour_where_the_layout_says() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let img = render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1));
    assert_eq!(img.dimensions(), (200, 200));
    // y grows downward: t-SNE y = 0.2 is near the TOP of the image.
    assert_rect(
        &img,
        rect_px(150.0, 150.0, 30.0, 15.0),
        RED,
        "red (2:1) at t-SNE",
    );
    assert_rect(
        &img,
        rect_px(40.0, 150.0, 30.0, 30.0),
        GREEN,
        "green at t-SNE",
    );
    assert_rect(
        &img,
        rect_px(150.0, 40.0, 30.0, 30.0),
        BLUE,
        "blue at t-SNE (top right)",
    );
    assert_px(
        &img,
        40,
        40,
        placeholder_over_black(),
        3,
        "placeholder centre",
    );
    assert_px(&img, 100, 100, BLACK, 0, "background");
    assert_px(&img, 150, 160, BLACK, 0, "below the 2:1 red image");
}

#[test]
fn grid_layout_at_t1_and_blend_at_half() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let img = render(&ctx, &r, &rgb_params(1.0), &opts(BLACK, 1));
    // pitch 0.5 world = 100 px, long side 96 px, row 0 on top.
    assert_rect(
        &img,
        rect_px(50.0, 50.0, 96.0, 48.0),
        RED,
        "red in cell [0,0]",
    );
    assert_rect(
        &img,
        rect_px(150.0, 50.0, 96.0, 96.0),
        GREEN,
        "green in cell [1,0]",
    );
    assert_rect(
        &img,
        rect_px(50.0, 150.0, 96.0, 96.0),
        BLUE,
        "blue in cell [0,1]",
    );
    // The red t-SNE spot now shows the placeholder of cell [1,1].
    assert_px(
        &img,
        150,
        150,
        placeholder_over_black(),
        3,
        "placeholder in cell [1,1]",
    );
    assert_px(&img, 100, 100, BLACK, 0, "gap between cells");

    // Halfway (eased 0.5): red centre at (100,100), long side (30 + 96) / 2 = 63 px. The
    // others would cross the same spot: hide them.
    let mut r = r;
    for i in 1..4 {
        r.set_hidden(&ctx.queue, i, true).expect("hide");
    }
    let img = render(&ctx, &r, &rgb_params(0.5), &opts(BLACK, 1));
    assert_rect(&img, rect_px(100.0, 100.0, 63.0, 31.5), RED, "red halfway");
    assert!(
        img.pixels().all(|p| p.0[1] == 0 && p.0[2] == 0),
        "hidden images must not be drawn"
    );
    // At t = 0.25 (eased 0.15625) the centre is 15.6 % of the way.
    let e = image_tsne_live::render::ease(0.25);
    let c = 150.0 - 100.0 * e;
    let long = 30.0 + 66.0 * e;
    let img = render(&ctx, &r, &rgb_params(0.25), &opts(BLACK, 1));
    assert_rect(
        &img,
        rect_px(c, c, long, long / 2.0),
        RED,
        "red at t = 0.25 (eased)",
    );
}

#[test]
fn placeholder_is_a_grey_rounded_square() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let img = render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1));
    // 30 px quad centred at (40,40): grey inside, rounded (background) at the very corner.
    let grey = placeholder_over_black();
    for (x, y) in [(40, 40), (30, 40), (40, 30), (50, 50)] {
        assert_px(&img, x, y, grey, 3, "placeholder body");
    }
    assert_px(&img, 26, 26, BLACK, 24, "rounded corner");
    assert_px(&img, 40, 22, BLACK, 0, "above the placeholder");
}

#[test]
fn premultiplied_alpha_composes_over_background() {
    let ctx = gpu();
    let config = AtlasConfig {
        max_cell: 64,
        ..Default::default()
    };
    let mut r = QuadRenderer::new(&ctx.device, TargetDesc::OFFSCREEN, 2, &config).expect("r");
    // 0: 50 % white, premultiplied. 1: left half opaque green, right half fully transparent.
    r.set_image(&ctx.queue, 0, &solid(8, 8, [128, 128, 128, 128]))
        .expect("set");
    let mut half = RgbaImage::new(16, 16);
    for (x, _, p) in half.enumerate_pixels_mut() {
        *p = Rgba(if x < 8 { GREEN } else { [0, 0, 0, 0] });
    }
    r.set_image(&ctx.queue, 1, &half).expect("set");
    r.update_tsne_positions(&ctx.queue, &[[0.25, 0.5], [0.75, 0.5]])
        .expect("tsne");
    let mut params = rgb_params(0.0);
    params.layout.image_size = 0.8; // pitch 0.5 → 0.4 world = 80 px
    for bg in [BLACK, [255, 255, 255, 255], [40, 90, 200, 255]] {
        let img = render(&ctx, &r, &params, &opts(bg, 1));
        // (128,128,128,128) premultiplied on sRGB bytes is white at 50 %: a·1 + (1−a)·dst.
        let a = 128.0 / 255.0;
        let want: Vec<u8> = (0..3)
            .map(|c| linear_to_srgb_u8(a + (1.0 - a) * srgb_u8_to_linear(bg[c])))
            .collect();
        assert_px(
            &img,
            50,
            100,
            [want[0], want[1], want[2], 255],
            3,
            "50 % white over the background (src + (1-a)·dst)",
        );
        assert_px(&img, 135, 100, GREEN, 2, "opaque half");
        assert_px(
            &img,
            165,
            100,
            bg,
            1,
            "transparent half shows the background",
        );
    }
    // Over black: 188. A straight-alpha blend state would give ≈ 137 (alpha applied twice),
    // compositing the sRGB bytes as if linear 128.
    let img = render(&ctx, &r, &params, &opts(BLACK, 1));
    assert!(
        px(&img, 50, 100)[0].abs_diff(188) <= 3,
        "{:?}",
        px(&img, 50, 100)
    );
}

#[test]
fn tiled_render_equals_untiled_render() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let mut params = rgb_params(0.4);
    params.camera = Camera {
        center: [0.5, 0.5],
        zoom: 150.0,
        ..Camera::new([203.0, 157.0])
    };
    params.hovered = Some(1);
    let whole = render(&ctx, &r, &params, &opts([20, 30, 40, 255], 4));
    let tiled = render(
        &ctx,
        &r,
        &params,
        &OffscreenOptions {
            max_tile: 48,
            ..opts([20, 30, 40, 255], 4)
        },
    );
    assert_eq!(whole.dimensions(), (203, 157));
    assert_eq!(tiled.dimensions(), whole.dimensions());
    let mut big_diffs = 0usize;
    let mut sum = 0u64;
    for (a, b) in whole.pixels().zip(tiled.pixels()) {
        let d =
            a.0.iter()
                .zip(b.0.iter())
                .map(|(x, y)| x.abs_diff(*y))
                .max()
                .unwrap_or(0);
        sum += d as u64;
        if d > 24 {
            big_diffs += 1;
        }
    }
    let n = (whole.width() * whole.height()) as usize;
    assert!(
        big_diffs * 200 < n && (sum as f64 / n as f64) < 1.0,
        "tiled differs: {big_diffs} pixels off by > 24, mean diff {}",
        sum as f64 / n as f64
    );
    // and the tiled image does show the layout
    assert!(whole.pixels().any(|p| close(p.0, RED, 4)));
}

#[test]
fn msaa_render_matches_single_sample_inside_images() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    // the camera a third of a pixel off the pixel grid, so image edges cut through pixels
    let mut params = rgb_params(1.0);
    params.camera.center[0] += 0.33 / params.camera.zoom;
    params.camera.center[1] += 0.33 / params.camera.zoom;
    let single = render(&ctx, &r, &params, &opts(BLACK, 1));
    let msaa = render(&ctx, &r, &params, &opts(BLACK, 4));
    let (red, green) = (
        rect_px(50.0 - 0.33, 50.0 + 0.33, 96.0, 48.0),
        rect_px(150.0 - 0.33, 50.0 + 0.33, 96.0, 96.0),
    );
    for (img, what) in [(&single, "single-sample"), (&msaa, "MSAA")] {
        assert_rect(img, red, RED, &format!("red, {what}"));
        assert_rect(img, green, GREEN, &format!("green, {what}"));
    }
    // inside the images (2 px from their edges) both are the same picture
    let inside = |x: u32, y: u32| {
        let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
        [red, green]
            .iter()
            .any(|r| cx > r[0] + 2.0 && cx < r[2] - 2.0 && cy > r[1] + 2.0 && cy < r[3] - 2.0)
    };
    let mut compared = 0;
    for (x, y, p) in single.enumerate_pixels() {
        if inside(x, y) {
            let q = msaa.get_pixel(x, y).0;
            assert!(close(p.0, q, 2), "({x}, {y}): {:?} vs MSAA {q:?}", p.0);
            compared += 1;
        }
    }
    assert!(compared > 10_000, "compared {compared} pixels");
    // and MSAA did something: the edges through pixels are blended, not stair-stepped
    // (measured on lavapipe: 7798 pixels of mixed colour single-sample, from the placeholder and
    // filtering, and 8851 with MSAA: about a thousand edge pixels)
    let blended = |img: &RgbaImage| {
        img.pixels()
            .filter(|p| {
                let c = p.0;
                c[..3].iter().any(|&v| v > 8 && v < 247)
            })
            .count()
    };
    let (b1, b4) = (blended(&single), blended(&msaa));
    eprintln!("pixels with blended colours: {b1} single-sample, {b4} MSAA");
    assert!(b4 > b1 + 100, "MSAA blends no edge: {b4} vs {b1}");
}

#[test]
fn hovered_image_is_lifted_and_outlined() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let mut params = rgb_params(0.0);
    let plain = render(&ctx, &r, &params, &opts(BLACK, 1));
    params.hovered = Some(1);
    let hovered = render(&ctx, &r, &params, &opts(BLACK, 1));
    // green: 30 px → 37.5 px, plus a 3 px outline: outline spans 18.75..21.75 px from centre.
    let s = Style::default();
    let outline: Vec<u8> = s.outline_color[..3]
        .iter()
        .map(|&c| linear_to_srgb_u8(c))
        .collect();
    assert_px(
        &plain,
        60,
        150,
        BLACK,
        0,
        "not hovered: background beside green",
    );
    assert_px(
        &hovered,
        60,
        150,
        [outline[0], outline[1], outline[2], 255],
        3,
        "outline",
    );
    assert_px(&hovered, 57, 150, GREEN, 2, "lifted green");
    // hit-testing agrees with the drawing
    let world = params.camera.screen_to_world([40.0, 150.0]);
    assert_eq!(r.hit_test(world, &params.layout), Some(1));
    let world = params.camera.screen_to_world([100.0, 100.0]);
    assert_eq!(r.hit_test(world, &params.layout), None);
}

/// 10 images in an atlas of 3 layers of 2×2 cells: every image must show its own colour
/// (layer/cell indexing in the shader), also zoomed out on coarse mip levels (no bleeding).
#[test]
fn multi_layer_atlas_and_mips_keep_cells_apart() {
    let ctx = gpu();
    let config = AtlasConfig {
        max_cell: 32,
        max_layer_size: 64,
        ..Default::default()
    };
    let n = 10;
    let mut r = QuadRenderer::new(&ctx.device, TargetDesc::OFFSCREEN, n, &config).expect("r");
    let plan = *r.atlas_plan();
    assert_eq!(
        (plan.cell_size, plan.cells_per_row, plan.layers),
        (32, 2, 3)
    );
    let colours: Vec<[u8; 4]> = (0..n)
        .map(|i| {
            let i = i as u8;
            [
                40 + 20 * i,
                if i.is_multiple_of(2) { 230 } else { 30 },
                250 - 22 * i,
                255,
            ]
        })
        .collect();
    for (i, c) in colours.iter().enumerate() {
        r.set_image(&ctx.queue, i, &solid(32, 32, *c)).expect("set");
    }
    let geo = r.geometry(); // 4 × 3
    assert_eq!((geo.cols, geo.rows), (4, 3));
    for zoom in [400.0f32, 40.0] {
        let camera = Camera {
            center: [0.5, 0.5],
            zoom,
            ..Camera::new([zoom, zoom])
        };
        let mut params = FrameParams::new(camera);
        params.layout.t = 1.0;
        let img = render(&ctx, &r, &params, &opts(BLACK, 1));
        for (i, c) in colours.iter().enumerate() {
            let cell = [(i % 4) as u32, (i / 4) as u32];
            let p = camera.world_to_screen(geo.grid_center(cell));
            assert_px(
                &img,
                p[0] as u32,
                p[1] as u32,
                *c,
                4,
                &format!("image {i} zoom {zoom}"),
            );
        }
    }
}

#[test]
fn screenshot_covers_the_whole_layout_and_tiles() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let layout = LayoutParams {
        t: 1.0,
        ..Default::default()
    };
    let o = ScreenshotOptions::default();
    let max_dim = ctx.device.limits().max_texture_dimension_2d;
    let plan = r.plan_screenshot(&layout, &o, max_dim).expect("plan");
    // The largest source image is 16 px, so a grid cell gets 16 px (not the 64 px atlas cell:
    // no blown-up blur): zoom = 16 / pitch = 32; the layout spans 0.98 world.
    assert!(
        (plan.camera.zoom - 32.0).abs() < 1e-3,
        "zoom {}",
        plan.camera.zoom
    );
    let bounds = r.bounds(&layout).expect("bounds");
    let want_w = (bounds.size()[0] * 32.0 + 32.0).ceil() as u32;
    assert_eq!((plan.width, plan.height), (want_w, want_w));
    let shot = r
        .screenshot(&ctx.device, &ctx.queue, &layout, &o)
        .expect("shot");
    assert_eq!(shot.dimensions(), (plan.width, plan.height));
    let geo = r.geometry();
    for (cell, c) in [([0, 0], RED), ([1, 0], GREEN), ([0, 1], BLUE)] {
        let p = plan.camera.world_to_screen(geo.grid_center(cell));
        assert_px(&shot, p[0] as u32, p[1] as u32, c, 2, "screenshot cell");
    }
    assert_px(&shot, 2, 2, BLACK, 0, "margin");
    // A 200 px source image: capped at the 64 px atlas cell, zoom = 64 / pitch = 128.
    let mut big = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    big.set_image(&ctx.queue, 3, &solid(200, 100, GREEN))
        .expect("big");
    let big_plan = big.plan_screenshot(&layout, &o, max_dim).expect("plan");
    assert!(
        (big_plan.camera.zoom - 128.0).abs() < 1e-3,
        "zoom {}",
        big_plan.camera.zoom
    );

    // Same screenshot forced into 16 px tiles.
    let tiled_opts = ScreenshotOptions {
        offscreen: OffscreenOptions {
            max_tile: 16,
            ..o.offscreen
        },
        ..o
    };
    let tplan = r
        .plan_screenshot(&layout, &tiled_opts, max_dim)
        .expect("plan");
    assert!(
        tplan.tiles[0] >= 4 && tplan.tiles[1] >= 4,
        "{:?}",
        tplan.tiles
    );
    let tiled = r
        .screenshot(&ctx.device, &ctx.queue, &layout, &tiled_opts)
        .expect("tiled");
    let off = shot
        .pixels()
        .zip(tiled.pixels())
        .filter(|(a, b)| !close(a.0, b.0, 24))
        .count();
    assert!(
        off * 200 < (shot.width() * shot.height()) as usize,
        "{off} pixels differ"
    );

    // Width-driven size.
    let wopts = ScreenshotOptions {
        size: ScreenshotSize::Width(300),
        ..o
    };
    let wplan = r.plan_screenshot(&layout, &wopts, max_dim).expect("plan");
    assert_eq!(wplan.width, 300);
}

#[test]
fn transparent_background_screenshot_is_straight_alpha() {
    let ctx = gpu();
    let config = AtlasConfig {
        max_cell: 32,
        ..Default::default()
    };
    let mut r = QuadRenderer::new(&ctx.device, TargetDesc::OFFSCREEN, 1, &config).expect("r");
    r.set_image(&ctx.queue, 0, &solid(8, 8, [128, 128, 128, 128]))
        .expect("set");
    let o = ScreenshotOptions {
        size: ScreenshotSize::Exact {
            width: 64,
            height: 64,
        },
        margin_px: 8,
        offscreen: OffscreenOptions {
            background: [0, 0, 0, 0],
            sample_count: 1,
            max_tile: 0,
        },
        style: Style::default(),
    };
    let shot = r
        .screenshot(&ctx.device, &ctx.queue, &LayoutParams::default(), &o)
        .expect("shot");
    assert_px(
        &shot,
        32,
        32,
        [255, 255, 255, 128],
        3,
        "50 % white, straight alpha",
    );
    assert_px(&shot, 1, 1, [0, 0, 0, 0], 0, "transparent background");
}

/// nannou's frame target: Rgba16Float (linear) with 4× MSAA, resolved by the caller.
#[test]
fn nannou_target_rgba16float_msaa4_renders_linear_colours() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::NANNOU);
    let (w, h) = (200u32, 200u32);
    let size = wgpu::Extent3d {
        width: w,
        height: h,
        depth_or_array_layers: 1,
    };
    let make = |samples: u32, usage| {
        ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: None,
            size,
            mip_level_count: 1,
            sample_count: samples,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba16Float,
            usage,
            view_formats: &[],
        })
    };
    let msaa = make(4, wgpu::TextureUsages::RENDER_ATTACHMENT);
    let resolved = make(
        1,
        wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
    );
    let msaa_view = msaa.create_view(&Default::default());
    let resolved_view = resolved.create_view(&Default::default());
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    r.render(
        &ctx.queue,
        &mut encoder,
        &msaa_view,
        Some(&resolved_view),
        Some(wgpu::Color::BLACK),
        &rgb_params(0.0),
    );
    ctx.queue.submit(Some(encoder.finish()));
    let bytes =
        image_tsne_live::render::read_texture_bytes(&ctx.device, &ctx.queue, &resolved, w, h, 8)
            .expect("readback");
    let errors = ctx.take_errors();
    assert!(errors.is_empty(), "wgpu errors: {errors:?}");
    let texel = |x: u32, y: u32| -> [f32; 4] {
        let o = ((y * w + x) * 8) as usize;
        let mut v = [0.0f32; 4];
        for (c, out) in v.iter_mut().enumerate() {
            *out = f16_to_f32(u16::from_le_bytes([bytes[o + 2 * c], bytes[o + 2 * c + 1]]));
        }
        v
    };
    let near = |a: [f32; 4], b: [f32; 4]| a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 0.01);
    assert!(
        near(texel(150, 150), [1.0, 0.0, 0.0, 1.0]),
        "red {:?}",
        texel(150, 150)
    );
    assert!(
        near(texel(150, 40), [0.0, 0.0, 1.0, 1.0]),
        "blue {:?}",
        texel(150, 40)
    );
    let g = Style::default().placeholder_color;
    assert!(
        near(texel(40, 40), g),
        "placeholder is linear {g:?}: {:?}",
        texel(40, 40)
    );
    assert!(near(texel(100, 100), [0.0, 0.0, 0.0, 1.0]), "background");
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let ctx = gpu();
    let mut r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    assert!(matches!(
        r.update_tsne_positions(&ctx.queue, &[[0.5, 0.5]]),
        Err(RenderError::LengthMismatch { .. })
    ));
    assert!(matches!(
        r.set_image(&ctx.queue, 4, &solid(4, 4, RED)),
        Err(RenderError::IndexOutOfRange { index: 4, count: 4 })
    ));
    assert!(matches!(
        r.set_image(&ctx.queue, 0, &RgbaImage::new(0, 5)),
        Err(RenderError::InvalidImage(_))
    ));
    assert!(r
        .set_grid(&ctx.queue, LayoutGeometry::new(2, 2), &[[0, 0]])
        .is_err());
    let mut params = rgb_params(0.0);
    params.hovered = Some(99); // out of range: ignored
    params.camera.viewport = [0.0, 10.0];
    assert!(r
        .render_offscreen(&ctx.device, &ctx.queue, &params, &opts(BLACK, 1))
        .is_err());
    // An empty renderer renders just the background.
    let empty = QuadRenderer::new(
        &ctx.device,
        TargetDesc::OFFSCREEN,
        0,
        &AtlasConfig::default(),
    )
    .expect("empty");
    let img = render(&ctx, &empty, &rgb_params(0.0), &opts(BLACK, 1));
    assert!(img.pixels().all(|p| p.0 == BLACK));
}

// ---------------------------------------------------------------------------------------------
// CPU tests: camera, layout geometry, atlas plan

#[test]
fn camera_zoom_around_point_keeps_the_point_fixed() {
    let mut cam = Camera::new([800.0, 600.0]);
    cam.center = [0.3, 0.7];
    cam.zoom = 500.0;
    let cursor = [620.0, 130.0];
    let before = cam.screen_to_world(cursor);
    cam.zoom_around(2.5, cursor);
    assert!((cam.zoom - 1250.0).abs() < 1e-3);
    let after = cam.screen_to_world(cursor);
    assert!((before[0] - after[0]).abs() < 1e-6 && (before[1] - after[1]).abs() < 1e-6);
    let back = cam.world_to_screen(before);
    assert!((back[0] - cursor[0]).abs() < 1e-2 && (back[1] - cursor[1]).abs() < 1e-2);
    // zooming around the viewport centre keeps the centre
    let c = cam.center;
    cam.zoom_around(0.5, [400.0, 300.0]);
    assert!((cam.center[0] - c[0]).abs() < 1e-6 && (cam.center[1] - c[1]).abs() < 1e-6);
}

#[test]
fn camera_fit_pan_and_y_down() {
    let mut cam = Camera::new([1000.0, 500.0]);
    let rect = WorldRect {
        min: [0.2, 0.1],
        max: [0.6, 0.9],
    };
    cam.fit(&rect, 50.0);
    // height-limited: (500 - 100) / 0.8 = 500 px per unit
    assert!((cam.zoom - 500.0).abs() < 1e-3, "zoom {}", cam.zoom);
    assert_eq!(cam.center, [0.4, 0.5]);
    let top_left = cam.world_to_screen(rect.min);
    let bottom_right = cam.world_to_screen(rect.max);
    assert!(
        (top_left[1] - 50.0).abs() < 1e-3,
        "top edge at the margin: {top_left:?}"
    );
    assert!((bottom_right[1] - 450.0).abs() < 1e-3);
    assert!(top_left[0] >= 50.0 && bottom_right[0] <= 950.0);
    // y down: a larger world y is lower on screen.
    assert!(cam.world_to_screen([0.4, 0.8])[1] > cam.world_to_screen([0.4, 0.2])[1]);
    // dragging the mouse by (+10, -20) px moves the content with it
    let w = [0.5, 0.5];
    let s0 = cam.world_to_screen(w);
    cam.pan_pixels([10.0, -20.0]);
    let s1 = cam.world_to_screen(w);
    assert!((s1[0] - s0[0] - 10.0).abs() < 1e-3 && (s1[1] - s0[1] + 20.0).abs() < 1e-3);
}

#[test]
fn layout_geometry_conventions() {
    let g = LayoutGeometry::new(4, 2);
    assert_eq!(g.pitch(), 0.25);
    let r = g.grid_rect();
    assert_eq!((r.min, r.max), ([0.0, 0.25], [1.0, 0.75]));
    assert_eq!(g.grid_center([3, 1]), [0.875, 0.625]);
    let p = LayoutParams::default();
    let near = |a: [f32; 2], b: [f32; 2]| (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6;
    assert!(near(g.tsne_world([0.1, 0.9], p.tsne_scale), [0.1, 0.9]));
    assert!(near(g.tsne_world([0.0, 1.0], 8.0), [-0.5, 1.5]));
    assert!(near(g.tsne_world([0.25, 0.5], 2.0), [0.375, 0.5]));
    // t-SNE view: long side image_size · pitch; grid view: (1 − gap) · pitch.
    assert_eq!(g.instance_size(2.0, &p), [0.25, 0.125]);
    let s = g.instance_size(0.5, &p.with_t(1.0));
    assert!((s[1] - 0.24).abs() < 1e-6 && (s[0] - 0.12).abs() < 1e-6);
}

fn plan(n: usize, budget_mib: u64) -> AtlasPlan {
    let config = AtlasConfig {
        budget_bytes: budget_mib * 1024 * 1024,
        ..Default::default()
    };
    AtlasPlan::new(n, &config, &wgpu::Limits::default()).expect("plan")
}

#[test]
fn atlas_plan_picks_cell_sizes_from_count_and_budget() {
    let cases = [
        (10, 256, 256),
        (300, 256, 256),
        (1_000, 256, 128),
        (5_000, 256, 64),
        (10_000, 256, 64),
        (20_000, 256, 32),
        (100_000, 256, 16),
        (20_000, 1024, 64),
        (1_000, 64, 64),
        // the default budget, 512 MiB
        (1_000, 512, 256),
        (20_000, 512, 64),
        (50_000, 512, 32),
    ];
    for (n, mib, want) in cases {
        let p = plan(n, mib);
        assert_eq!(p.cell_size, want, "{n} images, {mib} MiB: {p}");
        assert!(!p.over_budget && p.bytes <= mib * 1024 * 1024, "{p}");
        assert!(p.cells_per_layer() as usize * p.layers as usize >= n);
        assert!(p.layer_size <= 2048 && p.layers <= 256);
        assert_eq!(p.mip_levels, want.trailing_zeros() + 1);
    }
    // a budget too small even for 16 px cells: smallest cells, flagged
    let p = plan(100_000, 16);
    assert_eq!((p.cell_size, p.over_budget), (16, true));
}

#[test]
fn atlas_plan_respects_device_limits() {
    let config = AtlasConfig {
        budget_bytes: u64::MAX,
        ..Default::default()
    };
    let few_layers = wgpu::Limits {
        max_texture_array_layers: 2,
        ..wgpu::Limits::default()
    };
    let p = AtlasPlan::new(5_000, &config, &few_layers).expect("plan");
    assert_eq!((p.cell_size, p.layers), (32, 2));
    let small_textures = wgpu::Limits {
        max_texture_dimension_2d: 512,
        ..wgpu::Limits::default()
    };
    let p = AtlasPlan::new(100, &config, &small_textures).expect("plan");
    assert_eq!((p.cell_size, p.layer_size, p.layers), (256, 512, 25));
    let tiny = wgpu::Limits {
        max_texture_dimension_2d: 64,
        max_texture_array_layers: 1,
        ..wgpu::Limits::default()
    };
    assert!(matches!(
        AtlasPlan::new(100, &config, &tiny),
        Err(RenderError::Atlas { .. })
    ));
}

#[test]
fn screenshot_job_renders_a_tile_per_step_while_frames_go_on() {
    // The app steps a screenshot once per frame: each step submits at most one tile and never
    // waits, and frames keep being rendered in between. The result is the blocking render's.
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let layout = LayoutParams {
        t: 1.0,
        ..Default::default()
    };
    let o = ScreenshotOptions {
        size: ScreenshotSize::Exact {
            width: 300,
            height: 200,
        },
        offscreen: OffscreenOptions {
            max_tile: 64,
            ..OffscreenOptions::default()
        },
        ..ScreenshotOptions::default()
    };
    let blocking = r
        .screenshot(&ctx.device, &ctx.queue, &layout, &o)
        .expect("blocking screenshot");
    let mut job = r
        .start_screenshot(&ctx.device, &layout, &o)
        .expect("start screenshot");
    assert_eq!(job.total_tiles(), 5 * 4);
    let frame_opts = opts(BLACK, 1);
    let mut frames = 0;
    let mut max_done_per_step = 0;
    let shot = loop {
        // a "window frame" between two steps: drawing goes on while the job is pending
        let frame = render(&ctx, &r, &rgb_params(0.0), &frame_opts);
        assert_px(&frame, 150, 150, RED, 8, "a frame during the screenshot");
        frames += 1;
        let before = job.tiles_done();
        let step = job.step(&r, &ctx.device, &ctx.queue, false).expect("step");
        max_done_per_step = max_done_per_step.max(job.tiles_done() - before);
        if let Some(img) = step {
            break img;
        }
        assert!(frames < 10_000, "the job never finished");
    };
    assert!(max_done_per_step <= 1, "at most one tile per step");
    assert!(
        frames as u32 > job.total_tiles(),
        "{frames} frames for {} tiles",
        job.total_tiles()
    );
    assert_eq!(shot.dimensions(), blocking.dimensions());
    assert!(
        shot.pixels().zip(blocking.pixels()).all(|(a, b)| a == b),
        "the stepped screenshot equals the blocking one"
    );
}

#[test]
fn an_uncaptured_gpu_error_is_counted_once_logged_and_drawing_goes_on() {
    let ctx = gpu();
    let r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let before = render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1));
    assert_eq!(ctx.errors.total(), 0);
    r.inject_invalid_upload(&ctx.queue);
    ctx.device.poll(wgpu::Maintain::Wait);
    assert_eq!(
        ctx.errors.total(),
        1,
        "the invalid upload was reported, not a panic"
    );
    let fresh = ctx.errors.take_new();
    assert_eq!(fresh.len(), 1);
    assert_eq!(
        fresh[0].0,
        image_tsne_live::render::GpuErrorKind::Validation
    );
    assert!(
        !ctx.errors.take_rebuild(),
        "a rejected upload needs no rebuild"
    );
    let after = r
        .render_offscreen(&ctx.device, &ctx.queue, &rgb_params(0.0), &opts(BLACK, 1))
        .expect("render after the error");
    assert!(
        before.pixels().zip(after.pixels()).all(|(a, b)| a == b),
        "drawing goes on unchanged after the error"
    );
}

#[test]
fn a_fading_image_is_drawn_at_its_opacity_and_opaque_again_when_shown() {
    let ctx = gpu();
    let mut r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    // green at (0.2, 0.75) → pixel (40, 150) in t-SNE view
    let green_at = |img: &RgbaImage| px(img, 40, 150);
    let opaque = green_at(&render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1)));
    assert!(opaque[1] > 200, "{opaque:?}");
    r.set_opacity(&ctx.queue, 1, 0.5).expect("fade");
    let half = green_at(&render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1)));
    // half the linear light over black: sRGB 255 → ~188
    assert!((170..=205).contains(&half[1]), "{half:?}");
    r.set_opacity(&ctx.queue, 1, 0.0).expect("fade out");
    let gone = green_at(&render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1)));
    assert!(gone[1] <= 2, "{gone:?}");
    // the red image is untouched by another's fade
    let img = render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1));
    assert!(px(&img, 150, 150)[0] > 200);
    // hidden, then shown again (a removed file that comes back): opaque
    r.set_hidden(&ctx.queue, 1, true).expect("hide");
    r.set_hidden(&ctx.queue, 1, false).expect("show");
    let back = green_at(&render(&ctx, &r, &rgb_params(0.0), &opts(BLACK, 1)));
    assert_eq!(back, opaque);
}

// ---------------------------------------------------------------------------------------------
// plates

/// A `size`² transparent image with a ring of `ink` a few pixels wide (line art), premultiplied.
fn ring(size: u32, ink: [u8; 3]) -> RgbaImage {
    RgbaImage::from_fn(size, size, |x, y| {
        let (dx, dy) = (
            x as f32 + 0.5 - size as f32 / 2.0,
            y as f32 + 0.5 - size as f32 / 2.0,
        );
        if ((dx * dx + dy * dy).sqrt() - size as f32 / 3.0).abs() < 2.5 {
            Rgba([ink[0], ink[1], ink[2], 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    })
}

/// Share of the pixels whose grey level differs from `bg`'s by more than 40 (the issue's
/// "visible" measure).
fn standing_out(img: &RgbaImage, bg: [u8; 3]) -> f64 {
    let grey = |p: [u8; 3]| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
    let g0 = grey(bg);
    let n = img
        .pixels()
        .filter(|p| (grey([p[0], p[1], p[2]]) - g0).abs() > 40.0)
        .count();
    n as f64 / (img.width() * img.height()) as f64
}

/// One image filling most of a 120×120 view, on `bg`, with `plates`.
fn one_image(
    ctx: &GpuContext,
    img: &RgbaImage,
    bg: [u8; 3],
    plates: PlateMode,
) -> (RgbaImage, bool) {
    let mut r = QuadRenderer::new(
        &ctx.device,
        TargetDesc::OFFSCREEN,
        1,
        &AtlasConfig::default(),
    )
    .expect("renderer");
    r.set_plates(&ctx.queue, Plates::new(plates, bg, [255, 255, 255]));
    r.set_image(&ctx.queue, 0, img).expect("image");
    r.update_tsne_positions(&ctx.queue, &[[0.5, 0.5]])
        .expect("tsne");
    let params = FrameParams {
        camera: Camera {
            center: [0.5, 0.5],
            zoom: 120.0,
            ..Camera::new([120.0, 120.0])
        },
        layout: LayoutParams {
            t: 0.0,
            tsne_scale: 4.0,
            image_size: 0.8,
            grid_gap: 0.04,
        },
        hovered: None,
        style: Style::default(),
    };
    let out = render(ctx, &r, &params, &opts([bg[0], bg[1], bg[2], 255], 1));
    (out, r.has_plate(0))
}

#[test]
fn black_line_art_on_the_dark_background_is_drawn_on_a_plate() {
    let ctx = gpu();
    let dark = [16, 16, 20];
    let art = ring(64, [0, 0, 0]);
    let (never, plated) = one_image(&ctx, &art, dark, PlateMode::Never);
    assert!(!plated);
    let invisible = standing_out(&never, dark);
    assert!(invisible < 0.02, "without a plate it vanishes: {invisible}");
    let (auto, plated) = one_image(&ctx, &art, dark, PlateMode::Auto);
    assert!(plated, "auto decides to plate it");
    let visible = standing_out(&auto, dark);
    assert!(visible > 0.3, "on its plate it stands out: {visible}");
    // the plate is the light composite colour, and the ring is black on it
    assert_px(&auto, 60, 60, [255, 255, 255, 255], 2, "the plate (centre)");
}

#[test]
fn a_white_icon_on_white_is_drawn_on_a_dark_plate() {
    let ctx = gpu();
    let white = [255, 255, 255];
    let icon = ring(64, [250, 250, 250]);
    let (never, _) = one_image(&ctx, &icon, white, PlateMode::Never);
    assert!(standing_out(&never, white) < 0.02);
    let (auto, plated) = one_image(&ctx, &icon, white, PlateMode::Auto);
    assert!(plated);
    assert!(
        standing_out(&auto, white) > 0.3,
        "{}",
        standing_out(&auto, white)
    );
    // on the dark background the same icon stands out by itself: no plate
    let (_, plated) = one_image(&ctx, &icon, [16, 16, 20], PlateMode::Auto);
    assert!(!plated);
}

#[test]
fn an_opaque_photo_is_drawn_exactly_as_without_plates() {
    let ctx = gpu();
    let photo = RgbaImage::from_fn(48, 32, |x, y| {
        Rgba([(x * 5) as u8, (y * 7) as u8, ((x + y) * 3) as u8, 255])
    });
    for bg in [[16, 16, 20], [255, 255, 255]] {
        let (auto, plated) = one_image(&ctx, &photo, bg, PlateMode::Auto);
        assert!(!plated);
        let (always, _) = one_image(&ctx, &photo, bg, PlateMode::Always);
        let (never, _) = one_image(&ctx, &photo, bg, PlateMode::Never);
        assert_eq!(auto.as_raw(), never.as_raw(), "bit-identical on {bg:?}");
        assert_eq!(
            always.as_raw(),
            never.as_raw(),
            "an opaque image has no plate to show"
        );
    }
}

#[test]
fn changing_the_background_decides_again() {
    let ctx = gpu();
    let mut r = QuadRenderer::new(
        &ctx.device,
        TargetDesc::OFFSCREEN,
        2,
        &AtlasConfig::default(),
    )
    .expect("renderer");
    r.set_image(&ctx.queue, 0, &ring(64, [0, 0, 0]))
        .expect("black art");
    r.set_image(&ctx.queue, 1, &ring(64, [250, 250, 250]))
        .expect("white icon");
    let composite = [255, 255, 255];
    r.set_plates(
        &ctx.queue,
        Plates::new(PlateMode::Auto, [16, 16, 20], composite),
    );
    assert_eq!((r.has_plate(0), r.has_plate(1)), (true, false));
    r.set_plates(
        &ctx.queue,
        Plates::new(PlateMode::Auto, [255, 255, 255], composite),
    );
    assert_eq!((r.has_plate(0), r.has_plate(1)), (false, true));
    r.set_plates(
        &ctx.queue,
        Plates::new(PlateMode::Never, [255, 255, 255], composite),
    );
    assert_eq!((r.has_plate(0), r.has_plate(1)), (false, false));
    r.set_plates(
        &ctx.queue,
        Plates::new(PlateMode::Always, [255, 255, 255], composite),
    );
    assert_eq!((r.has_plate(0), r.has_plate(1)), (true, true));
}

/// A curator's marks: a selected image gets a 3 px ring (drawn just outside it, in the
/// selection colour); an image the filter leaves out keeps 15 % of its light; unmarked ones
/// are drawn as before, and clearing the marks restores the picture.
#[test]
fn selected_images_get_a_ring_and_filtered_out_ones_dim() {
    use image_tsne_live::render::Marks;
    let ctx = gpu();
    let mut r = rgb_scene(&ctx, TargetDesc::OFFSCREEN);
    let params = rgb_params(0.0);
    let mut marks = vec![Marks::default(); 4];
    marks[1].selected = true;
    marks[0].dimmed = true;
    r.set_marks(&ctx.queue, &marks);
    let img = render(&ctx, &r, &params, &opts(BLACK, 1));
    let ring = [
        linear_to_srgb_u8(1.0),
        linear_to_srgb_u8(0.62),
        linear_to_srgb_u8(0.05),
        255,
    ];
    // (dimmed, not see-through: the alpha is kept)
    // green spans x 25..55 around y 150: the ring is 55..58
    assert_px(&img, 56, 150, ring, 3, "the ring right of green");
    assert_px(&img, 23, 150, ring, 3, "the ring left of green");
    assert_px(&img, 60, 150, BLACK, 0, "outside the ring");
    assert_px(&img, 40, 150, GREEN, 2, "the selected image itself");
    let dim = linear_to_srgb_u8(0.15);
    assert_px(&img, 150, 150, [dim, 0, 0, 255], 3, "dimmed red");
    assert_px(&img, 150, 40, BLUE, 2, "unmarked blue");
    r.set_marks(&ctx.queue, &[]);
    let back = render(&ctx, &r, &params, &opts(BLACK, 1));
    assert_px(&back, 150, 150, RED, 2, "red again");
    assert_px(&back, 56, 150, BLACK, 0, "no ring");
}
