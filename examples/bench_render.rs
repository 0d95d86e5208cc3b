//! Offscreen renderer benchmark: N synthetic images (clustered t-SNE-like positions, generated
//! thumbnails with transparency) drawn at a given size; prints a markdown table.
//!
//! `cargo run --release --example bench_render -- [--n 1000,10000,50000] [--width 1920]
//!  [--height 1080] [--frames 20] [--msaa 1] [--budget-mib 512] [--save-png DIR]`

use std::time::{Duration, Instant};

use image::{Rgba, RgbaImage};
use image_tsne_live::render::{
    prepare_cell, AtlasConfig, Camera, FrameParams, GpuContext, LayoutGeometry, OffscreenTarget,
    QuadRenderer, RenderError, TargetDesc,
};

struct Args {
    ns: Vec<usize>,
    width: u32,
    height: u32,
    frames: usize,
    msaa: u32,
    budget_mib: u64,
    save_png: Option<std::path::PathBuf>,
    /// Also render a whole-layout screenshot a tile per frame, as the app does, and time the
    /// frames meanwhile.
    screenshot: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        ns: vec![1_000, 10_000, 50_000],
        width: 1920,
        height: 1080,
        frames: 20,
        msaa: 1,
        budget_mib: image_tsne_live::render::DEFAULT_ATLAS_BUDGET_BYTES / (1024 * 1024),
        save_png: None,
        screenshot: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.trim().parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--n" => {
                a.ns = value()?
                    .split(',')
                    .map(|s| num(s.to_string()).map(|v| v as usize))
                    .collect::<Result<_, _>>()?
            }
            "--width" => a.width = num(value()?)? as u32,
            "--height" => a.height = num(value()?)? as u32,
            "--frames" => a.frames = num(value()?)?.max(1) as usize,
            "--msaa" => a.msaa = num(value()?)?.max(1) as u32,
            "--budget-mib" => a.budget_mib = num(value()?)?,
            "--save-png" => a.save_png = Some(value()?.into()),
            "--screenshot" => a.screenshot = true,
            "--bench" => {} // passed by `cargo bench`-style runners
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// SplitMix64: small deterministic generator (no extra dependency).
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn normal(&mut self) -> f32 {
        let u1 = self.f32().max(1e-7);
        let u2 = self.f32();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// Clustered points in [0,1]², like a converged t-SNE.
fn tsne_like(n: usize, rng: &mut Rng) -> (Vec<[f32; 2]>, Vec<usize>) {
    let k = 12;
    let centers: Vec<[f32; 2]> = (0..k)
        .map(|_| [0.1 + 0.8 * rng.f32(), 0.1 + 0.8 * rng.f32()])
        .collect();
    let mut pts = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let c = (rng.next_u64() % k as u64) as usize;
        let s = 0.06;
        pts.push([
            (centers[c][0] + s * rng.normal()).clamp(0.0, 1.0),
            (centers[c][1] + s * rng.normal()).clamp(0.0, 1.0),
        ]);
        labels.push(c);
    }
    (pts, labels)
}

/// A generated premultiplied thumbnail: gradient background, a disc; every 4th is a
/// transparent "emoji" (disc only).
fn thumbnail(i: usize, label: usize, rng: &mut Rng) -> RgbaImage {
    let w = 40 + (rng.next_u64() % 24) as u32;
    let h = 40 + (rng.next_u64() % 24) as u32;
    let hue = label as f32 / 12.0;
    let base = [
        (255.0 * (0.5 + 0.5 * (std::f32::consts::TAU * hue).cos())) as u8,
        (255.0 * (0.5 + 0.5 * (std::f32::consts::TAU * hue + 2.1).cos())) as u8,
        (255.0 * (0.5 + 0.5 * (std::f32::consts::TAU * hue + 4.2).cos())) as u8,
    ];
    let emoji = i.is_multiple_of(4);
    let r2 = (w.min(h) as f32 * 0.4).powi(2);
    RgbaImage::from_fn(w, h, |x, y| {
        let dx = x as f32 - w as f32 / 2.0;
        let dy = y as f32 - h as f32 / 2.0;
        let inside = dx * dx + dy * dy < r2;
        if inside {
            Rgba([255 - base[0], 255 - base[1], 255 - base[2], 255])
        } else if emoji {
            Rgba([0, 0, 0, 0])
        } else {
            let g = (y * 255 / h) as u8;
            Rgba([
                base[0] / 2 + g / 2,
                base[1] / 2,
                base[2] / 2 + (255 - g) / 2,
                255,
            ])
        }
    })
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(f64::NAN)
}

fn bench_one(ctx: &GpuContext, args: &Args, n: usize) -> Result<String, RenderError> {
    let device = &ctx.device;
    let queue = &ctx.queue;
    let mut rng = Rng(0x5EED ^ n as u64);
    let (tsne, labels) = tsne_like(n, &mut rng);
    let target_desc = TargetDesc {
        format: wgpu::TextureFormat::Rgba8UnormSrgb,
        sample_count: args.msaa,
    };
    let config = AtlasConfig {
        budget_bytes: args.budget_mib * 1024 * 1024,
        ..Default::default()
    };
    let mut r = QuadRenderer::new(device, target_desc, n, &config)?;
    let plan = *r.atlas_plan();
    eprintln!("N = {n}: {plan}");

    // Atlas fill: generate, letterbox + mips (CPU), upload.
    let thumbs: Vec<RgbaImage> = (0..n).map(|i| thumbnail(i, labels[i], &mut rng)).collect();
    let t0 = Instant::now();
    let mut prep = Duration::ZERO;
    for (i, img) in thumbs.iter().enumerate() {
        let tp = Instant::now();
        let cell = prepare_cell(&plan, img)?;
        prep += tp.elapsed();
        r.set_prepared_image(queue, i, &cell)?;
    }
    queue.submit(None);
    device.poll(wgpu::Maintain::Wait);
    let fill = t0.elapsed();
    drop(thumbs);

    r.update_tsne_positions(queue, &tsne)?;
    let geo = LayoutGeometry::for_count(n);
    let cells: Vec<[u32; 2]> = (0..n as u32)
        .map(|i| [i % geo.cols, i / geo.cols])
        .collect();
    r.set_grid(queue, geo, &cells)?;

    let target = OffscreenTarget::new(device, args.width, args.height, target_desc)?;
    let mut camera = Camera::new([args.width as f32, args.height as f32]);
    let mut params = FrameParams::new(camera);
    params.layout.t = 0.5;
    if let Some(b) = r.bounds(&params.layout) {
        camera.fit(&b, 20.0);
    }
    params.camera = camera;
    params.hovered = Some(n / 2);
    let clear = wgpu::Color {
        r: 0.01,
        g: 0.01,
        b: 0.012,
        a: 1.0,
    };

    let frame = |r: &QuadRenderer, t: f32| {
        let p = FrameParams {
            layout: params.layout.with_t(t),
            ..params
        };
        let mut enc = device.create_command_encoder(&Default::default());
        r.render(
            queue,
            &mut enc,
            target.render_view(),
            target.resolve_target(),
            Some(clear),
            &p,
        );
        queue.submit(Some(enc.finish()));
    };

    for w in 0..3 {
        frame(&r, w as f32 / 3.0);
        device.poll(wgpu::Maintain::Wait);
    }
    let mut times = Vec::new();
    for f in 0..args.frames {
        let t = Instant::now();
        frame(&r, (f as f32 / args.frames as f32).fract());
        device.poll(wgpu::Maintain::Wait);
        times.push(t.elapsed());
    }
    let frame_ms = median(times);

    let mut times = Vec::new();
    for f in 0..5.min(args.frames) {
        let t = Instant::now();
        frame(&r, f as f32 / 5.0);
        target.read(device, queue)?;
        times.push(t.elapsed());
    }
    let readback_ms = median(times);
    if let Some(dir) = &args.save_png {
        frame(&r, 0.5);
        let img = target.read(device, queue)?;
        let path = dir.join(format!("bench_{n}.png"));
        if let Err(e) = img.save(&path) {
            eprintln!("could not write {}: {e}", path.display());
        }
    }

    // Live t-SNE update: rewrite the dynamic buffer, submit, wait.
    let mut upd_cpu = Vec::new();
    let mut upd_gpu = Vec::new();
    let mut moved = tsne.clone();
    for k in 0..10 {
        for p in moved.iter_mut() {
            p[0] = (p[0] + 0.001 * (k as f32 - 4.5)).clamp(0.0, 1.0);
        }
        let t = Instant::now();
        r.update_tsne_positions(queue, &moved)?;
        upd_cpu.push(t.elapsed());
        queue.submit(None);
        device.poll(wgpu::Maintain::Wait);
        upd_gpu.push(t.elapsed());
    }

    if args.screenshot {
        screenshot_frames(ctx, &r, n, &frame, args)?;
    }

    let errors = ctx.take_errors();
    if !errors.is_empty() {
        return Err(RenderError::Gpu {
            context: "benchmark",
            message: errors.join("; "),
        });
    }
    Ok(format!(
        "| {n} | {} px × {} layer(s), {:.1} MiB | {:.2} s ({:.2} s CPU mips) | {} | {:.1} | {:.1} | {:.3} / {:.3} |",
        plan.cell_size,
        plan.layers,
        plan.mebibytes(),
        fill.as_secs_f64(),
        prep.as_secs_f64(),
        r.instance_buffer_bytes(),
        frame_ms,
        readback_ms,
        median(upd_cpu),
        median(upd_gpu),
    ))
}

/// Frame times while a whole-layout screenshot renders a tile per frame (as the app's `S`): each
/// frame draws the window view, steps the job once and waits for the GPU (a window's present
/// waits the same way).
fn screenshot_frames(
    ctx: &GpuContext,
    r: &QuadRenderer,
    n: usize,
    frame: &dyn Fn(&QuadRenderer, f32),
    args: &Args,
) -> Result<(), RenderError> {
    use image_tsne_live::render::{LayoutParams, ScreenshotOptions};
    let (device, queue) = (&ctx.device, &ctx.queue);
    let mut opts = ScreenshotOptions::default();
    opts.offscreen.max_tile =
        image_tsne_live::render::tile_for_window(args.width as f32, args.height as f32);
    let layout = LayoutParams {
        t: 1.0,
        ..LayoutParams::default()
    };
    let mut plain = Vec::new();
    for f in 0..10 {
        let t = Instant::now();
        frame(r, f as f32 / 10.0);
        device.poll(wgpu::Maintain::Wait);
        plain.push(t.elapsed());
    }
    let mut job = r.start_screenshot(device, &layout, &opts)?;
    let mut during = Vec::new();
    let started = Instant::now();
    let image = loop {
        let t = Instant::now();
        frame(r, 0.5);
        let step = job.step(r, device, queue, false)?;
        device.poll(wgpu::Maintain::Wait);
        during.push(t.elapsed());
        if let Some(img) = step {
            break img;
        }
    };
    let total = started.elapsed();
    let mut slowest: Vec<(usize, f64)> = during
        .iter()
        .enumerate()
        .map(|(i, d)| (i, d.as_secs_f64() * 1e3))
        .collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    eprintln!(
        "slowest frames (index, ms): {:?}",
        &slowest[..slowest.len().min(4)]
    );
    let plain_ms = median(plain);
    let max_ms = during.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3);
    let during_ms = median(during.clone());
    eprintln!(
        "N = {n}: screenshot {}×{} in {} tiles of {} px over {} frames ({:.1} s): frame median {:.1} ms \
         (without a screenshot {:.1} ms), longest {:.1} ms = {:.2}× the median",
        image.width(),
        image.height(),
        job.total_tiles(),
        opts.offscreen.max_tile,
        during.len(),
        total.as_secs_f64(),
        during_ms,
        plain_ms,
        max_ms,
        max_ms / plain_ms.max(1e-9),
    );
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_render: {e}");
            std::process::exit(2);
        }
    };
    let ctx = match GpuContext::new_headless() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench_render: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "adapter: {}; target {}×{} Rgba8UnormSrgb, MSAA {}; median of {} frames after 3 warm-up",
        ctx.adapter_summary(),
        args.width,
        args.height,
        args.msaa,
        args.frames
    );
    println!();
    println!("| N | atlas plan | atlas fill (CPU letterbox+mips, upload) | instance buffers (bytes) | frame ms (submit+wait) | frame + readback ms | t-SNE update ms (write / +submit+wait) |");
    println!("|---|---|---|---|---|---|---|");
    for &n in &args.ns {
        match bench_one(&ctx, &args, n) {
            Ok(row) => println!("{row}"),
            Err(e) => println!("| {n} | error: {e} | | | | | |"),
        }
    }
}
