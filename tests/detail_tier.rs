//! The detail tier on a real wgpu device (lavapipe on CI): a zoomed-in image is drawn sharp
//! once its larger version has streamed in (and blurry without the tier), the slot cache
//! evicts within its configured memory while the camera sweeps across 10 000 images, and an
//! image whose larger version cannot be made keeps drawing from the base atlas with one
//! warning. Without any GPU adapter these tests FAIL (they do not skip).

#[path = "common/mod.rs"]
mod common;

use image::{Rgba, RgbaImage};
use image_tsne_live::cache::Cache;
use image_tsne_live::detail::stream::{DetailStream, Progress};
use image_tsne_live::render::{
    prepare_cell, AtlasConfig, AtlasPlan, Camera, DetailPlan, FrameParams, GpuContext,
    LayoutGeometry, LayoutParams, OffscreenOptions, QuadRenderer, Style, TargetDesc, NO_DETAIL,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn gpu() -> GpuContext {
    GpuContext::new_headless().unwrap_or_else(|e| panic!("no headless GPU device: {e}"))
}

/// A 1024 px image full of fine detail: rings of period 10 px, stripes of period ~8 px and an
/// egg-crate of period 12 px, all full contrast — what a 256 px thumbnail cannot hold (its
/// pixels are 4 source pixels wide), while an 800 px drawing can.
fn detailed(side: u32) -> RgbaImage {
    let c = side as f32 / 2.0;
    RgbaImage::from_fn(side, side, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let r = ((fx - c).powi(2) + (fy - c).powi(2)).sqrt();
        let tau = std::f32::consts::TAU;
        let v = |s: f32| (127.5 + 127.5 * s) as u8;
        Rgba([
            v((r * tau / 10.0).sin()),
            v((fx * tau / 9.0 + fy * tau / 17.0).sin()),
            v((fx * tau / 12.0).sin() * (fy * tau / 12.0).sin()),
            255,
        ])
    })
}

fn psnr(a: &RgbaImage, b: &RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mut se = 0.0f64;
    let mut n = 0usize;
    for (p, q) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            let d = p.0[c] as f64 - q.0[c] as f64;
            se += d * d;
            n += 1;
        }
    }
    10.0 * (255.0f64 * 255.0 / (se / n as f64).max(1e-12)).log10()
}

/// `img` resized to `w × h` in linear light (a triangle filter), as the GPU filters: the
/// reference a drawn image is compared with.
fn resize_linear(img: &RgbaImage, w: u32, h: u32) -> RgbaImage {
    use image_tsne_live::render::atlas::{linear_to_srgb_u8, srgb_u8_to_linear};
    let lin = image::Rgba32FImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y).0;
        Rgba([
            srgb_u8_to_linear(p[0]),
            srgb_u8_to_linear(p[1]),
            srgb_u8_to_linear(p[2]),
            p[3] as f32 / 255.0,
        ])
    });
    let small = image::imageops::resize(&lin, w, h, image::imageops::FilterType::Triangle);
    RgbaImage::from_fn(w, h, |x, y| {
        let p = small.get_pixel(x, y).0;
        Rgba([
            linear_to_srgb_u8(p[0]),
            linear_to_srgb_u8(p[1]),
            linear_to_srgb_u8(p[2]),
            (p[3] * 255.0).round() as u8,
        ])
    })
}

/// One image filling an `side`² viewport in grid view (no gap).
fn fill_params(r: &QuadRenderer, side: f32) -> FrameParams {
    let layout = LayoutParams {
        t: 1.0,
        grid_gap: 0.0,
        ..Default::default()
    };
    let mut camera = Camera::new([side, side]);
    camera.fit(&r.geometry().grid_rect(), 0.0);
    FrameParams {
        camera,
        layout,
        hovered: None,
        style: Style::default(),
    }
}

/// How long streaming may take before a test fails: far beyond what the work needs (a few
/// decodes at nice 10, well under a second each here), so only a stream that never completes
/// (a lost request, a stuck decoder) ends here. Tests wait for completion, not for a time.
const STREAM_SAFETY_LIMIT: Duration = Duration::from_secs(300);

/// Stream until every visible image is at its level; panics (with the progress) if that has
/// not happened after [`STREAM_SAFETY_LIMIT`].
fn stream_until_complete(
    ctx: &GpuContext,
    r: &mut QuadRenderer,
    s: &mut DetailStream,
    params: &FrameParams,
) -> Progress {
    let start = Instant::now();
    loop {
        let p = s.update(r, &ctx.device, &ctx.queue, &params.camera, &params.layout);
        if p.complete() {
            return p;
        }
        assert!(
            start.elapsed() < STREAM_SAFETY_LIMIT,
            "the detail stream did not complete within {STREAM_SAFETY_LIMIT:?}: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn drawn_psnr(detail: DetailPlan, file: &Path, src: &RgbaImage) -> (f64, Progress) {
    let ctx = gpu();
    let plan = AtlasPlan::new(1, &AtlasConfig::default(), &ctx.device.limits()).unwrap();
    assert_eq!(plan.cell_size, 256);
    let mut r = QuadRenderer::with_detail(&ctx.device, TargetDesc::OFFSCREEN, plan, detail)
        .expect("renderer");
    let thumb =
        image_tsne_live::images::thumbnail(&image::DynamicImage::ImageRgba8(src.clone()), 256);
    r.set_image(&ctx.queue, 0, &thumb).unwrap();
    let params = fill_params(&r, 800.0);
    let mut s = DetailStream::new(vec![file.to_path_buf()], Cache::disabled(), 1);
    let progress = stream_until_complete(&ctx, &mut r, &mut s, &params);
    let opts = OffscreenOptions {
        background: [0, 0, 0, 255],
        sample_count: 1,
        max_tile: 4096,
    };
    let img = r
        .render_offscreen(&ctx.device, &ctx.queue, &params, &opts)
        .unwrap();
    assert!(ctx.take_errors().is_empty());
    let reference = resize_linear(src, 800, 800);
    if let Some(dir) = std::env::var_os("DETAIL_TEST_DUMP") {
        let dir = PathBuf::from(dir);
        img.save(dir.join(format!("drawn-{}.png", detail.enabled())))
            .unwrap();
        reference.save(dir.join("reference.png")).unwrap();
    }
    (psnr(&img, &reference), progress)
}

#[test]
fn zoomed_image_is_sharp_with_the_tier_and_blurry_without() {
    let dir = tempfile::tempdir().unwrap();
    let src = detailed(1024);
    let file = dir.path().join("detail.png");
    src.save(&file).unwrap();
    let (with_tier, p) = drawn_psnr(
        DetailPlan::new(64 << 20, &wgpu::Limits::default()),
        &file,
        &src,
    );
    assert!(p.complete() && p.wanted == 1, "{p:?}");
    let (without, p0) = drawn_psnr(DetailPlan::disabled(), &file, &src);
    assert_eq!(p0.wanted, 0, "a disabled tier plans nothing");
    eprintln!("PSNR at 800 px: {with_tier:.1} dB with the detail tier, {without:.1} dB without");
    assert!(with_tier >= 30.0, "with the tier: {with_tier:.1} dB");
    assert!(without < 30.0, "without the tier: {without:.1} dB");
}

/// Four photo-sized JPEGs (1600×1200, each a different pattern of fine detail), made in `dir`:
/// repeated under 10 000 image indices they make the sweep's work. JPEG like most photos, so
/// the scaled JPEG decode of the detail levels is what runs.
fn photo_files(dir: &Path) -> Vec<PathBuf> {
    (0..4u32)
        .map(|k| {
            let (w, h) = (1600u32, 1200u32);
            let tau = std::f32::consts::TAU;
            let period = 7.0 + 3.0 * k as f32;
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                let (fx, fy) = (x as f32, y as f32);
                let r = ((fx - w as f32 * 0.3).powi(2) + (fy - h as f32 * 0.6).powi(2)).sqrt();
                let v = |s: f32| (127.5 + 127.5 * s) as u8;
                let mut p = [
                    v((r * tau / period).sin()),
                    v((fx * tau / (period + 2.0) + fy * tau / 29.0).sin()),
                    v((fx / w as f32 + fy / h as f32) - 1.0),
                ];
                p.rotate_left(k as usize % 3);
                image::Rgb(p)
            });
            let path = dir.join(format!("photo-{k}.jpg"));
            img.save(&path).unwrap();
            path
        })
        .collect()
}

#[test]
fn sweeping_across_ten_thousand_images_stays_within_the_tier() {
    let ctx = gpu();
    let n = 10_000;
    let photos = tempfile::tempdir().unwrap();
    let files = photo_files(photos.path());
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(cache_dir.path());
    let config = AtlasConfig {
        max_cell: 32,
        ..Default::default()
    };
    let plan = AtlasPlan::new(n, &config, &ctx.device.limits()).unwrap();
    let budget = 128u64 << 20;
    let detail = DetailPlan::new(budget, &ctx.device.limits());
    let mut r = QuadRenderer::with_detail(&ctx.device, TargetDesc::OFFSCREEN, plan, detail)
        .expect("renderer");
    let cells: Vec<_> = files
        .iter()
        .map(|f| {
            let thumb = image_tsne_live::detail::decode::load_detail(f, &cache, 256).unwrap();
            prepare_cell(&plan, &thumb).unwrap()
        })
        .collect();
    let paths: Vec<PathBuf> = (0..n).map(|i| files[i % files.len()].clone()).collect();
    for i in 0..n {
        r.set_prepared_image(&ctx.queue, i, &cells[i % cells.len()])
            .unwrap();
    }
    let geometry = r.geometry();
    let layout = LayoutParams::default().with_t(1.0);
    let mut s = DetailStream::new(paths, cache, 2);
    let slots: Vec<usize> = r.detail_tier().slots.iter().map(|c| c.len()).collect();
    // ~5 images across an 800×600 view: 160 px each → 256 px slots (64 of them)
    let mut camera = Camera::new([800.0, 600.0]);
    camera.zoom = 800.0 / (5.0 * geometry.pitch());
    let start = Instant::now();
    for step in 0..24 {
        let col = (step * 4) as f32 + 2.5;
        let row = (step * 3) as f32 + 2.5;
        camera.center = geometry.grid_center([col as u32, row as u32]);
        let params = FrameParams {
            camera,
            layout,
            hovered: None,
            style: Style::default(),
        };
        let p = stream_until_complete(&ctx, &mut r, &mut s, &params);
        assert!(p.wanted > 0 && p.complete(), "step {step}: {p:?}");
        let tier = r.detail_tier();
        assert!(tier.plan().bytes() <= budget, "{}", tier.plan());
        for (level, c) in tier.slots.iter().enumerate() {
            assert!(c.used() <= slots[level]);
        }
        let drawn_from_tier = r
            .instances()
            .iter()
            .filter(|i| i.detail != NO_DETAIL)
            .count();
        let capacity: usize = slots.iter().sum();
        assert!(
            drawn_from_tier <= capacity,
            "{drawn_from_tier} > {capacity}"
        );
    }
    let t = s.totals;
    eprintln!(
        "sweep over {n} images: {t:?} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(t.uploads > slots[0] as u64, "{t:?}");
    assert!(t.evictions > 0, "the cache never evicted: {t:?}");
    assert_eq!(t.no_slot, 0, "{t:?}");
    assert!(ctx.take_errors().is_empty());
    // the bytes the renderer reports include the whole tier, which never grows
    assert!(r.gpu_bytes() <= plan.bytes + budget + (n as u64) * 64 + 4096);
}

#[test]
fn an_image_without_a_larger_version_keeps_its_thumbnail_and_warns_once() {
    let ctx = gpu();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.png");
    let src = detailed(1024);
    src.save(&good).unwrap();
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, b"\xFF\xD8\xFF\xE0 this is not a JPEG").unwrap();
    let config = AtlasConfig {
        max_cell: 64,
        ..Default::default()
    };
    let plan = AtlasPlan::new(2, &config, &ctx.device.limits()).unwrap();
    let detail = DetailPlan::new(64 << 20, &ctx.device.limits());
    let mut r = QuadRenderer::with_detail(&ctx.device, TargetDesc::OFFSCREEN, plan, detail)
        .expect("renderer");
    // the broken file's thumbnail was made before it broke: a flat orange cell
    let orange = [255u8, 128, 0, 255];
    r.set_image(&ctx.queue, 0, &RgbaImage::from_pixel(64, 64, Rgba(orange)))
        .unwrap();
    let thumb = image_tsne_live::images::thumbnail(&image::DynamicImage::ImageRgba8(src), 256);
    r.set_image(&ctx.queue, 1, &thumb).unwrap();
    r.set_grid(&ctx.queue, LayoutGeometry::new(2, 1), &[[0, 0], [1, 0]])
        .unwrap();
    let layout = LayoutParams {
        t: 1.0,
        grid_gap: 0.0,
        ..Default::default()
    };
    let mut camera = Camera::new([800.0, 400.0]);
    camera.fit(&r.geometry().grid_rect(), 0.0);
    let params = FrameParams {
        camera,
        layout,
        hovered: None,
        style: Style::default(),
    };
    let mut s = DetailStream::new(vec![broken.clone(), good], Cache::disabled(), 1);
    let p = stream_until_complete(&ctx, &mut r, &mut s, &params);
    assert!(p.complete() && p.wanted == 2, "{p:?}");
    // more frames and camera moves do not ask again nor warn again
    for k in 0..40 {
        let mut moved = params;
        moved.camera.center[0] += k as f32 * 1e-4;
        s.update(
            &mut r,
            &ctx.device,
            &ctx.queue,
            &moved.camera,
            &moved.layout,
        );
    }
    let warnings = s.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("broken.jpg") && warnings[0].contains("thumbnail"),
        "{warnings:?}"
    );
    assert_eq!(r.instances()[0].detail, NO_DETAIL);
    assert_ne!(r.instances()[1].detail, NO_DETAIL);
    let opts = OffscreenOptions {
        background: [0, 0, 0, 255],
        sample_count: 1,
        max_tile: 4096,
    };
    let img = r
        .render_offscreen(&ctx.device, &ctx.queue, &params, &opts)
        .unwrap();
    let centre = img.get_pixel(200, 200).0;
    assert!(
        centre.iter().zip(orange).all(|(a, b)| a.abs_diff(b) <= 3),
        "the broken image is drawn from its base cell: {centre:?}"
    );
    assert!(ctx.take_errors().is_empty());
}

#[test]
fn zooming_further_in_upgrades_an_image_to_a_larger_level() {
    let ctx = gpu();
    let dir = tempfile::tempdir().unwrap();
    let src = detailed(1024);
    let file = dir.path().join("detail.png");
    src.save(&file).unwrap();
    let config = AtlasConfig {
        max_cell: 64,
        ..Default::default()
    };
    let plan = AtlasPlan::new(1, &config, &ctx.device.limits()).unwrap();
    let detail = DetailPlan::new(96 << 20, &ctx.device.limits());
    let mut r = QuadRenderer::with_detail(&ctx.device, TargetDesc::OFFSCREEN, plan, detail)
        .expect("renderer");
    let thumb =
        image_tsne_live::images::thumbnail(&image::DynamicImage::ImageRgba8(src.clone()), 256);
    r.set_image(&ctx.queue, 0, &thumb).unwrap();
    let mut s = DetailStream::new(vec![file], Cache::disabled(), 1);
    let mut levels = Vec::new();
    for side in [200.0, 800.0] {
        let params = fill_params(&r, side);
        let p = stream_until_complete(&ctx, &mut r, &mut s, &params);
        assert!(p.complete() && p.wanted == 1, "{p:?}");
        levels.push(r.instances()[0].detail >> 28);
    }
    // 200 px: the 256 px level; 800 px: the 1024 px level (the 248 px version of the first
    // visit does not make the source look small)
    assert_eq!(levels, [0, 2]);
}
