//! Close-up sharpness and streaming of the detail tier, offscreen (lavapipe is fine): for each
//! image set and count, the camera glides from the whole grid to a close-up of 6 images
//! across a 1920×1080 view and stops; the table says how long until every visible image is at
//! its target level (cold: empty detail cache; warm: filled), how sharp the visible images
//! are (PSNR against the source resized to the same on-screen size in linear light, the
//! baseline row being today's magnified base cells), the longest frame while streaming vs
//! the median still frame, GPU bytes of both tiers and the process RSS.
//!
//! ```sh
//! cargo run --release --example bench_zoom -- [--counts 1000,10000,100000] [--distinct 300]
//!     [--out /tmp/bench_zoom] [--sets synthetic,photos,camera] [--gpu-memory 1536] [--frame-ms 0]
//!     [--camera-dir /tmp/image-tsne-live-photos-mixed-300-7]
//! ```
//!
//! `--frame-ms P` paces the frames to one per P ms, as a window's vsync would (frame times are
//! measured without the wait); 0 renders back to back, which on a software rasterizer leaves
//! the (low-priority) decoding threads only the CPU the frames do not take.
//!
//! Synthetic images: `--distinct` 1024 px JPEGs (quality 90) with fine rings/stripes/egg-crate
//! (periods 16, ~14 and 20 px: 4–6 px at the close-up, below one pixel in a 64 px base cell)
//! and a large label; counts above that reuse the same files under many
//! indices (the cache is keyed by content). Photos: the shared wallpapers (3640×2400 to
//! 4096×4096 JPEG/PNG/WebP), repeated likewise. Camera: JPEG photos made by `bench_photos`
//! (8–24 Mpx), decoded DCT-scaled by the detail tier.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/shared.rs"]
mod shared;

use image::{Rgba, RgbaImage};
use image_tsne_live::cache::Cache;
use image_tsne_live::detail::stream::DetailStream;
use image_tsne_live::render::atlas::{linear_to_srgb_u8, srgb_u8_to_linear};
use image_tsne_live::render::{
    AtlasConfig, AtlasPlan, Camera, DetailPlan, FrameParams, GpuContext, LayoutParams,
    OffscreenTarget, QuadRenderer, Style, TargetDesc,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const VIEW: [u32; 2] = [1920, 1080];
/// Pixels per grid pitch at the close-up (6 images across 1920 px) and the image's long side.
const PITCH_PX: f32 = 320.0;
const IMAGE_PX: f32 = 300.0;

fn main() -> anyhow::Result<()> {
    let mut counts = vec![1000usize, 10_000];
    let mut distinct = 300usize;
    let mut out = PathBuf::from("/tmp/bench_zoom");
    let mut sets = vec!["synthetic".to_string(), "photos".to_string()];
    let mut gpu_memory = 1536u64;
    let mut frame_ms = 0.0f64;
    let mut camera_dir = std::env::temp_dir().join("image-tsne-live-photos-mixed-300-7");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
        match a.as_str() {
            "--counts" => counts = v.split(',').map(|c| c.parse()).collect::<Result<_, _>>()?,
            "--distinct" => distinct = v.parse()?,
            "--out" => out = v.into(),
            "--sets" => sets = v.split(',').map(String::from).collect(),
            "--gpu-memory" => gpu_memory = v.parse()?,
            "--frame-ms" => frame_ms = v.parse()?,
            "--camera-dir" => camera_dir = v.into(),
            _ => anyhow::bail!("unknown option {a}"),
        }
    }
    std::fs::create_dir_all(&out)?;
    let ctx = GpuContext::new_headless()?;
    println!("adapter: {}", ctx.adapter_summary());
    println!(
        "| set | images | run | time to sharp | PSNR min / mean (dB) | longest (when) / median frame (ms) | base MiB | detail MiB | RSS MiB |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
    for set in &sets {
        let files = match set.as_str() {
            "synthetic" => synthetic(&out.join("synthetic"), distinct)?,
            "photos" => photos(),
            "camera" => camera(&camera_dir)?,
            other => anyhow::bail!("unknown set {other}"),
        };
        let sources: Vec<RgbaImage> = files
            .iter()
            .map(|f| Ok(image_tsne_live::images::decode_file(f)?.to_rgba8()))
            .collect::<anyhow::Result<_>>()?;
        for &n in &counts {
            let base_cache = Cache::at(out.join("cache-base"));
            let detail_dir = out.join(format!("cache-detail-{set}-{n}"));
            let _ = std::fs::remove_dir_all(&detail_dir);
            for (run, tier) in [
                ("baseline (no tier)", false),
                ("cold", true),
                ("warm", true),
            ] {
                let row = measure(
                    &ctx,
                    &files,
                    &sources,
                    n,
                    &base_cache,
                    &detail_dir,
                    tier,
                    gpu_memory,
                    Duration::from_secs_f64(frame_ms / 1e3),
                )?;
                // let the driver finish with the dropped renderer's resources first
                ctx.device.poll(wgpu::Maintain::Wait);
                println!(
                    "| {set} | {n} | {run} | {} | {:.1} / {:.1} | {:.0} ({}) / {:.0} | {:.0} | {:.0} | {:.0} |",
                    row.time_to_sharp
                        .map(|t| format!("{:.2} s ({} frames)", t.as_secs_f64(), row.frames))
                        .unwrap_or_else(|| "–".into()),
                    row.psnr_min,
                    row.psnr_mean,
                    row.longest_ms,
                    row.longest_at,
                    row.median_ms,
                    row.base_mib,
                    row.detail_mib,
                    rss_mib()
                );
            }
        }
    }
    Ok(())
}

struct Row {
    time_to_sharp: Option<Duration>,
    frames: usize,
    psnr_min: f64,
    psnr_mean: f64,
    longest_ms: f64,
    longest_at: String,
    median_ms: f64,
    base_mib: f64,
    detail_mib: f64,
}

#[allow(clippy::too_many_arguments)]
fn measure(
    ctx: &GpuContext,
    files: &[PathBuf],
    sources: &[RgbaImage],
    n: usize,
    base_cache: &Cache,
    detail_dir: &Path,
    tier: bool,
    gpu_memory_mib: u64,
    period: Duration,
) -> anyhow::Result<Row> {
    let limits = ctx.device.limits();
    let plan = AtlasPlan::new(n, &AtlasConfig::default(), &limits)?;
    let detail = if tier {
        DetailPlan::new((gpu_memory_mib << 20).saturating_sub(plan.bytes), &limits)
    } else {
        DetailPlan::disabled()
    };
    let trace = |what: &str| {
        if std::env::var_os("BENCH_ZOOM_TRACE").is_some() {
            eprintln!("[{what}]");
        }
    };
    trace("creating the renderer");
    let mut r = QuadRenderer::with_detail(&ctx.device, TargetDesc::OFFSCREEN, plan, detail)?;
    trace("renderer created");
    let cells = files
        .iter()
        .map(|f| {
            image_tsne_live::cache::thumbnails::load_cell(f, base_cache, &plan)
                .map_err(anyhow::Error::msg)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for i in 0..n {
        r.set_prepared_image(&ctx.queue, i, &cells[i % cells.len()])?;
    }
    let paths: Vec<PathBuf> = (0..n).map(|i| files[i % files.len()].clone()).collect();
    // BENCH_ZOOM_NO_CACHE: decode every time, write nothing (to tell decoding from cache I/O)
    let detail_cache = if std::env::var_os("BENCH_ZOOM_NO_CACHE").is_some() {
        Cache::disabled()
    } else {
        Cache::at(detail_dir)
    };
    let mut stream = DetailStream::new(paths, detail_cache, 1);
    let g = r.geometry();
    let layout = LayoutParams {
        t: 1.0,
        grid_gap: 1.0 - IMAGE_PX / PITCH_PX,
        ..Default::default()
    };
    let target = OffscreenTarget::new(&ctx.device, VIEW[0], VIEW[1], TargetDesc::OFFSCREEN)?;
    let mut far = Camera::new([VIEW[0] as f32, VIEW[1] as f32]);
    far.fit(&g.grid_rect(), 0.0);
    let mut close = far;
    close.zoom = PITCH_PX / g.pitch();
    close.center = g.grid_center([g.cols / 2, g.rows / 2]);
    let frame = |r: &mut QuadRenderer, s: &mut DetailStream, cam: &Camera| {
        let t = Instant::now();
        let p = if tier {
            s.update(r, &ctx.device, &ctx.queue, cam, &layout)
        } else {
            Default::default()
        };
        let streaming = t.elapsed();
        let params = FrameParams {
            camera: *cam,
            layout,
            hovered: None,
            style: Style::default(),
        };
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        r.render(
            &ctx.queue,
            &mut enc,
            target.render_view(),
            None,
            Some(wgpu::Color::BLACK),
            &params,
        );
        ctx.queue.submit(Some(enc.finish()));
        ctx.device.poll(wgpu::Maintain::Wait);
        let dt = t.elapsed();
        // a paced loop (like a window's vsync) leaves the rest of the period idle
        if let Some(rest) = period.checked_sub(dt) {
            std::thread::sleep(rest);
        }
        (p, dt, streaming)
    };
    // settle at the whole-grid view (first use clears the textures)
    for k in 0..3 {
        trace(&format!("settle {k}"));
        frame(&mut r, &mut stream, &far);
    }
    let mut times = Vec::new();
    // glide in over 20 frames (zoom eased geometrically)
    for k in 1..=20 {
        let f = k as f32 / 20.0;
        let mut cam = far;
        cam.zoom = far.zoom * (close.zoom / far.zoom).powf(f);
        cam.center = [
            far.center[0] + (close.center[0] - far.center[0]) * f,
            far.center[1] + (close.center[1] - far.center[1]) * f,
        ];
        trace(&format!("glide {k}"));
        let (p, dt, st) = frame(&mut r, &mut stream, &cam);
        times.push((dt, st, p.uploaded_bytes));
    }
    let glide_frames = times.len();
    let stopped = Instant::now();
    let mut time_to_sharp = None;
    let mut frames = 0;
    if tier {
        while stopped.elapsed() < Duration::from_secs(120) {
            let (p, dt, st) = frame(&mut r, &mut stream, &close);
            if std::env::var_os("BENCH_ZOOM_TRACE").is_some() {
                eprintln!(
                    "stop+{frames}: {:.0} ms (streaming {:.1} ms), {} uploads {:.1} MiB, {p:?}",
                    dt.as_secs_f64() * 1e3,
                    st.as_secs_f64() * 1e3,
                    p.uploads,
                    p.uploaded_bytes as f64 / 1048576.0
                );
            }
            times.push((dt, st, p.uploaded_bytes));
            frames += 1;
            if p.complete() {
                time_to_sharp = Some(stopped.elapsed());
                break;
            }
        }
    }
    let mut still: Vec<Duration> = (0..15)
        .map(|_| frame(&mut r, &mut stream, &close).1)
        .collect();
    still.sort();
    let median = still[still.len() / 2];
    let (at, (longest, streaming, uploaded)) = times
        .iter()
        .copied()
        .enumerate()
        .max_by_key(|(_, t)| t.0)
        .unwrap_or_default();
    let when = if at < glide_frames {
        format!("glide {}", at + 1)
    } else {
        format!("stop+{}", at - glide_frames + 1)
    };
    let longest_at = format!(
        "{when}; streaming {:.0} ms, {:.1} MiB up",
        streaming.as_secs_f64() * 1e3,
        uploaded as f64 / 1048576.0
    );
    let drawn = target.read(&ctx.device, &ctx.queue)?;
    let (psnr_min, psnr_mean) = visible_psnr(&r, &close, &layout, &drawn, sources);
    let errors = ctx.take_errors();
    if !errors.is_empty() {
        anyhow::bail!("GPU errors: {errors:?}");
    }
    Ok(Row {
        time_to_sharp,
        frames,
        psnr_min,
        psnr_mean,
        longest_ms: longest.as_secs_f64() * 1e3,
        longest_at,
        median_ms: median.as_secs_f64() * 1e3,
        base_mib: plan.mebibytes(),
        // what the tier allocated (its plan is only the ceiling)
        detail_mib: r.detail_tier().allocated_bytes() as f64 / 1048576.0,
    })
}

/// PSNR of every image wholly inside the view against its source resized in linear light to
/// its on-screen size. Columns are whole pixels by construction (300 px long sides on whole
/// pixels); a non-square image's rows may sit half a pixel off, which the reference follows by
/// a linear shift.
fn visible_psnr(
    r: &QuadRenderer,
    cam: &Camera,
    layout: &LayoutParams,
    drawn: &RgbaImage,
    sources: &[RgbaImage],
) -> (f64, f64) {
    let g = r.geometry();
    let mut scores = Vec::new();
    for (i, s) in r.instances().iter().enumerate() {
        let cell = [s.grid_cell[0] as u32, s.grid_cell[1] as u32];
        let rect = g.instance_rect(r.tsne_positions()[i], cell, s.aspect, layout);
        let a = cam.world_to_screen(rect.min);
        let b = cam.world_to_screen(rect.max);
        if a[0] < 0.0 || a[1] < 0.0 || b[0] > VIEW[0] as f32 || b[1] > VIEW[1] as f32 {
            continue;
        }
        let (w, h) = (b[0] - a[0], b[1] - a[1]);
        let src = &sources[i % sources.len()];
        let reference = resize_linear(src, w.round() as u32, h.round().max(1.0) as u32);
        let (x0, y0) = (a[0].round() as i64, a[1]);
        let mut se = 0.0f64;
        let mut count = 0usize;
        // skip the outermost pixel on each side (edges are blended with the background)
        for ry in 1..reference.height().saturating_sub(1) {
            let y = (y0 + ry as f32 + 0.5).floor() as i64;
            let frac = (y as f32 + 0.5 - y0) - (ry as f32 + 0.5);
            for rx in 1..reference.width().saturating_sub(1) {
                let x = x0 + rx as i64;
                if x < 0 || y < 0 || x >= drawn.width() as i64 || y >= drawn.height() as i64 {
                    continue;
                }
                let d = drawn.get_pixel(x as u32, y as u32).0;
                let r0 = reference.get_pixel(rx, ry).0;
                let ry2 = if frac >= 0.0 {
                    (ry + 1).min(reference.height() - 1)
                } else {
                    ry - 1
                };
                let r1 = reference.get_pixel(rx, ry2).0;
                for c in 0..3 {
                    let want = r0[c] as f32 * (1.0 - frac.abs()) + r1[c] as f32 * frac.abs();
                    let e = d[c] as f64 - want as f64;
                    se += e * e;
                    count += 1;
                }
            }
        }
        if count > 0 {
            scores.push(10.0 * (255.0f64 * 255.0 / (se / count as f64).max(1e-9)).log10());
        }
    }
    if scores.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    (min, scores.iter().sum::<f64>() / scores.len() as f64)
}

fn resize_linear(img: &RgbaImage, w: u32, h: u32) -> RgbaImage {
    let lin = image::Rgba32FImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y).0;
        let a = p[3] as f32 / 255.0;
        Rgba([
            srgb_u8_to_linear(p[0]) * a,
            srgb_u8_to_linear(p[1]) * a,
            srgb_u8_to_linear(p[2]) * a,
            a,
        ])
    });
    let small = image::imageops::resize(
        &lin,
        w.max(1),
        h.max(1),
        image::imageops::FilterType::Triangle,
    );
    RgbaImage::from_fn(w.max(1), h.max(1), |x, y| {
        let p = small.get_pixel(x, y).0;
        // over black, as drawn
        Rgba([
            linear_to_srgb_u8(p[0]),
            linear_to_srgb_u8(p[1]),
            linear_to_srgb_u8(p[2]),
            255,
        ])
    })
}

/// 5×7 bitmap digits for the labels.
const DIGITS: [[u8; 7]; 10] = [
    [14, 17, 19, 21, 25, 17, 14],
    [4, 12, 4, 4, 4, 4, 14],
    [14, 17, 1, 2, 4, 8, 31],
    [31, 2, 4, 2, 1, 17, 14],
    [2, 6, 10, 18, 31, 2, 2],
    [31, 16, 30, 1, 1, 17, 14],
    [6, 8, 16, 30, 17, 17, 14],
    [31, 1, 2, 4, 8, 8, 8],
    [14, 17, 17, 14, 17, 17, 14],
    [14, 17, 17, 15, 1, 2, 12],
];

fn synthetic(dir: &Path, n: usize) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let tau = std::f32::consts::TAU;
    (0..n)
        .map(|i| {
            let path = dir.join(format!("detail-{i:05}.jpg"));
            if path.exists() {
                return Ok(path);
            }
            let phase = i as f32 * 0.7;
            let label = format!("{i}");
            let scale = 24u32;
            let img = image::RgbImage::from_fn(1024, 1024, |x, y| {
                let (fx, fy) = (x as f32, y as f32);
                // the label: digits 24 px per dot, black on white, top-left
                let (lx, ly) = (x.wrapping_sub(48), y.wrapping_sub(48));
                if lx < (label.len() as u32 * 6) * scale && ly < 7 * scale {
                    let (d, cx, cy) = ((lx / scale) / 6, (lx / scale) % 6, ly / scale);
                    let digit = label.as_bytes()[d as usize] - b'0';
                    let on = cx < 5 && DIGITS[digit as usize][cy as usize] >> (4 - cx) & 1 == 1;
                    return if on {
                        image::Rgb([0, 0, 0])
                    } else {
                        image::Rgb([255, 255, 255])
                    };
                }
                let r = ((fx - 512.0).powi(2) + (fy - 600.0).powi(2)).sqrt();
                let v = |s: f32| (127.5 + 127.5 * s) as u8;
                image::Rgb([
                    v((r * tau / 16.0 + phase).sin()),
                    v((fx * tau / 15.0 + fy * tau / 40.0).sin()),
                    v((fx * tau / 20.0).sin() * (fy * tau / 20.0 + phase).sin()),
                ])
            });
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
                .encode_image(&img)?;
            std::fs::write(&path, bytes)?;
            Ok(path)
        })
        .collect()
}

/// Camera photos: the first 40 JPEGs of a folder made by `bench_photos` (8–24 Mpx, a third
/// at 6000×4000), repeated like the other sets (40, because the PSNR reference keeps every
/// distinct source decoded in full).
fn camera(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    files.truncate(40);
    anyhow::ensure!(
        !files.is_empty(),
        "no JPEGs in {} (make them with: cargo run --release --example bench_photos)",
        dir.display()
    );
    Ok(files)
}

fn photos() -> Vec<PathBuf> {
    let root = shared::shared_dir().join("datasets/large-images");
    let mut files: Vec<PathBuf> = walk(&root)
        .into_iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| ["jpg", "png", "webp"].contains(&e.to_string_lossy().as_ref()))
        })
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
