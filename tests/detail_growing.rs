//! The detail tier as a map grows and as it fills, on a real wgpu device (lavapipe on CI;
//! without any GPU adapter these tests FAIL, they do not skip): an image that joins a shown
//! scene gets its larger version like the others; a tier with a big budget that streams a few
//! small images allocates a layer, not its budget; an instance naming a slot the tier has not
//! allocated is drawn from the base atlas (no out-of-range read on a software rasterizer).

use image::{Rgba, RgbaImage};
use image_tsne_live::app::gpu::Gpu;
use image_tsne_live::app::protocol::Source;
use image_tsne_live::app::state::{AppState, Scene};
use image_tsne_live::cache::Cache;
use image_tsne_live::detail::stream::DetailStream;
use image_tsne_live::render::detail::pack_detail;
use image_tsne_live::render::{
    AtlasConfig, AtlasPlan, Camera, DetailPlan, FrameParams, GpuContext, LayoutGeometry,
    LayoutParams, OffscreenOptions, QuadRenderer, Style, TargetDesc, NO_DETAIL,
};
use std::path::Path;
use std::time::{Duration, Instant};

/// Streaming that has not finished by then is stuck (the tests wait for completion; the
/// limit only turns a hang into a failure).
const STUCK: Duration = Duration::from_secs(120);

fn gpu() -> GpuContext {
    GpuContext::new_headless().unwrap_or_else(|e| panic!("no headless GPU device: {e}"))
}

/// A `side`² picture with fine stripes (what a small base cell cannot hold).
fn striped(side: u32, path: &Path) -> RgbaImage {
    let img = RgbaImage::from_fn(side, side, |x, y| {
        let v = if (x / 3 + y / 5) % 2 == 0 { 230 } else { 20 };
        Rgba([v, 255 - v, (x * 7 % 256) as u8, 255])
    });
    img.save(path).unwrap();
    img
}

fn thumb(img: &RgbaImage) -> RgbaImage {
    image_tsne_live::images::thumbnail(&image::DynamicImage::ImageRgba8(img.clone()), 256)
}

fn small_cells() -> AtlasConfig {
    AtlasConfig {
        max_cell: 64,
        ..Default::default()
    }
}

/// The camera on the whole grid of `r`, in grid view.
fn grid_view(r: &QuadRenderer, viewport: [f32; 2]) -> (Camera, LayoutParams) {
    let layout = LayoutParams {
        t: 1.0,
        grid_gap: 0.0,
        ..Default::default()
    };
    let mut camera = Camera::new(viewport);
    camera.fit(&r.geometry().grid_rect(), 0.0);
    (camera, layout)
}

/// Issue 17: `Gpu::stream_details` made each scene's stream once, with the scene's paths at
/// that time; an image that joined a watched map later was never asked for (the plan skipped
/// indices past that snapshot) and stayed at base-atlas resolution. It must reach its level.
#[test]
fn an_image_that_joins_a_shown_scene_gets_its_detail_level() {
    let ctx = gpu();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    let (img_a, img_b) = (striped(600, &a), striped(600, &b));
    // room for two images (a growing scene's atlas has headroom), one shown at first
    let plan = AtlasPlan::new(2, &small_cells(), &ctx.device.limits()).unwrap();
    let mut gpu = Gpu::new(&ctx.device, TargetDesc::OFFSCREEN).with_gpu_memory(160);
    gpu.create_scene(&ctx.device, 1, plan).unwrap();
    let mut state = AppState::new([800.0, 400.0]);
    let mut scene = Scene::new(1, Source::Folder(dir.path().into()), vec![a.clone()]);
    scene.capacity = 2;
    state.current = Some(scene);
    state.t = 1.0;
    {
        let r = gpu.renderers.get_mut(&1).unwrap();
        r.set_image(&ctx.queue, 0, &thumb(&img_a)).unwrap();
        r.set_grid(&ctx.queue, LayoutGeometry::new(2, 1), &[[0, 0], [1, 0]])
            .unwrap();
        r.set_hidden(&ctx.queue, 1, true).unwrap();
        let (camera, _) = grid_view(r, [800.0, 400.0]);
        state.camera = camera;
    }
    let cache = Cache::disabled();
    let stream_until = |gpu: &mut Gpu, state: &mut AppState, index: usize| {
        let start = Instant::now();
        loop {
            gpu.stream_details(&ctx.device, &ctx.queue, state, &cache, None);
            let d = gpu.renderers[&1].instances()[index].detail;
            if d != NO_DETAIL {
                return d >> 28;
            }
            assert!(
                start.elapsed() < STUCK,
                "image {index} never got a detail slot"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let first = stream_until(&mut gpu, &mut state, 0);
    // b joins the map (as `on_grown` does it: appended to the scene, cell loaded, shown)
    {
        let s = state.current.as_mut().unwrap();
        s.paths.push(b.clone());
        s.used.push(true);
        s.points.push([0.7, 0.5]);
        s.aspects.push(1.0);
        let r = gpu.renderers.get_mut(&1).unwrap();
        r.set_image(&ctx.queue, 1, &thumb(&img_b)).unwrap();
        r.set_hidden(&ctx.queue, 1, false).unwrap();
    }
    let joined = stream_until(&mut gpu, &mut state, 1);
    assert_eq!(
        joined, first,
        "the newcomer is drawn at the level of its twin"
    );
    assert!(ctx.take_errors().is_empty());
}

/// Issue 17: the tier allocated its whole budget up front (2.2 GB of RAM on lavapipe for 949
/// small stamps). With a 1 GiB budget, three small images (level 0) use one layer of level 0,
/// and that is all the tier allocates.
#[test]
fn a_big_tier_streaming_a_few_small_images_allocates_only_what_they_use() {
    let ctx = gpu();
    let dir = tempfile::tempdir().unwrap();
    let plan = AtlasPlan::new(3, &small_cells(), &ctx.device.limits()).unwrap();
    let detail = DetailPlan::new(1 << 30, &ctx.device.limits());
    assert!(detail.bytes() > 900 << 20, "{detail}");
    let mut r = QuadRenderer::with_detail(&ctx.device, TargetDesc::OFFSCREEN, plan, detail)
        .expect("renderer");
    let untouched = r.gpu_bytes();
    assert!(
        untouched < plan.bytes + (8 << 20),
        "nothing streamed yet, yet the renderer holds {} MiB",
        untouched >> 20
    );
    let mut paths = vec![];
    for i in 0..3 {
        let p = dir.path().join(format!("{i}.png"));
        let img = striped(200, &p);
        r.set_image(&ctx.queue, i, &thumb(&img)).unwrap();
        paths.push(p);
    }
    r.set_grid(
        &ctx.queue,
        LayoutGeometry::new(3, 1),
        &[[0, 0], [1, 0], [2, 0]],
    )
    .unwrap();
    let (camera, layout) = grid_view(&r, [900.0, 300.0]);
    let mut s = DetailStream::new(paths, Cache::disabled(), 1);
    let start = Instant::now();
    loop {
        let p = s.update(&mut r, &ctx.device, &ctx.queue, &camera, &layout);
        if p.complete() && p.wanted == 3 {
            break;
        }
        assert!(start.elapsed() < STUCK, "streaming never completed: {p:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(r
        .instances()
        .iter()
        .all(|i| i.detail >> 28 == 0 && i.detail != NO_DETAIL));
    let tier = r.detail_tier();
    assert_eq!(tier.allocated_layers(), [1, 0, 0]);
    let one_layer = tier.plan().levels[0].bytes / tier.plan().levels[0].layers as u64;
    assert_eq!(tier.allocated_bytes(), one_layer);
    assert!(r.gpu_bytes() <= untouched + one_layer);
    assert!(ctx.take_errors().is_empty());
}

/// Issue 17 (the lavapipe segfault in `bench_zoom`): an instance naming a slot in a layer its
/// level does not have (never allocated, or corrupt) must not make the shader read out of
/// range — it is drawn from the base atlas, and later images grow the level as usual.
#[test]
fn an_instance_naming_a_missing_layer_is_drawn_from_the_base_atlas() {
    let ctx = gpu();
    let plan = AtlasPlan::new(2, &small_cells(), &ctx.device.limits()).unwrap();
    // a small tier: one layer per level at most
    let detail = DetailPlan::new(48 << 20, &ctx.device.limits());
    let mut r = QuadRenderer::with_detail(&ctx.device, TargetDesc::OFFSCREEN, plan, detail)
        .expect("renderer");
    let orange = [255u8, 128, 0, 255];
    let blue = [0u8, 64, 255, 255];
    r.set_image(&ctx.queue, 0, &RgbaImage::from_pixel(64, 64, Rgba(orange)))
        .unwrap();
    r.set_image(&ctx.queue, 1, &RgbaImage::from_pixel(64, 64, Rgba(blue)))
        .unwrap();
    r.set_grid(&ctx.queue, LayoutGeometry::new(2, 1), &[[0, 0], [1, 0]])
        .unwrap();
    // level 1 (4×4 slots a layer, at most one layer): slot 4 × 16 is in layer 4; slot
    // 0x0fff_ffff far past any layer; level 2 has no layer allocated at all yet
    r.inject_detail_word(&ctx.queue, 0, pack_detail(1, 4 * 16))
        .unwrap();
    r.inject_detail_word(&ctx.queue, 1, pack_detail(2, 0x0fff_ffff))
        .unwrap();
    let (camera, layout) = grid_view(&r, [800.0, 400.0]);
    let params = FrameParams {
        camera,
        layout,
        hovered: None,
        style: Style::default(),
    };
    let opts = OffscreenOptions {
        background: [0, 0, 0, 255],
        sample_count: 1,
        max_tile: 4096,
    };
    for _ in 0..3 {
        let img = r
            .render_offscreen(&ctx.device, &ctx.queue, &params, &opts)
            .unwrap();
        for (x, want) in [(200, orange), (600, blue)] {
            let got = img.get_pixel(x, 200).0;
            assert!(
                got.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 3),
                "image at x={x} drawn from its base cell: {got:?}, want {want:?}"
            );
        }
    }
    assert!(ctx.take_errors().is_empty());
}
