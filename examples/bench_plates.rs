//! How many transparent images vanish on the background, with and without plates.
//!
//! Renders every image on its own through the real renderer (offscreen, the quad shader the
//! window uses), on the dark default background and on white, with `--plates never` and `auto`,
//! and counts the images of which under 2 % of the drawn pixels differ from the background by
//! more than 40 grey levels. Sets:
//! - `clipart`: 500 seeded clip-art-like images made here (the shared sets have no clip art):
//!   black line art, white icons, dark silhouettes, mid-grey strokes, colourful shapes, on
//!   transparency;
//! - `emoji`: 500 of `../shared/datasets/emoji-google` (colourful, transparent);
//! - `photos`: the opaque `large-images` (thumbnails): how much plates change them (mean grey
//!   level difference; must be 0).
//!
//! ```text
//! cargo run --release --example bench_plates [-- --count 500 --save DIR]
//! ```
//! `--save DIR` writes a contact sheet of the clip art per background and mode (PNG);
//! `--write-clipart DIR` writes the clip art as PNG files (a folder to open in the app).

#[path = "support/shared.rs"]
mod shared;

use anyhow::{Context, Result};
use image::{imageops, Rgba, RgbaImage};
use image_tsne_live::cache::thumbnails::load_thumbnail;
use image_tsne_live::cache::Cache;
use image_tsne_live::render::{
    AtlasConfig, Camera, FrameParams, GpuContext, LayoutParams, OffscreenOptions, PlateMode,
    Plates, QuadRenderer, Style, TargetDesc,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

const VIEW: u32 = 112;
const DARK: [u8; 3] = [16, 16, 20];
const WHITE: [u8; 3] = [255, 255, 255];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let count: usize = value("--count").map_or(Ok(500), |v| v.parse())?;
    let save = value("--save").map(PathBuf::from);

    let clipart = clip_art(count, 7);
    if let Some(dir) = value("--write-clipart").map(PathBuf::from) {
        std::fs::create_dir_all(&dir)?;
        for (i, img) in clipart.iter().enumerate() {
            let path = dir.join(format!("clipart-{i:04}.png"));
            // straight alpha on disk (the images are premultiplied, opaque or clear: the same)
            img.save(&path)
                .with_context(|| path.display().to_string())?;
        }
        println!("wrote {} images to {}", clipart.len(), dir.display());
        return Ok(());
    }
    let cache = Cache::disabled();
    let emoji = emoji(count, &cache)?;
    let photos: Vec<RgbaImage> = shared::large_images()?
        .iter()
        .filter_map(|p| load_thumbnail(p, &cache, 256).ok())
        .collect();

    let gpu = GpuContext::new_headless()?;
    let mut bench = Bench::new(&gpu)?;
    println!("on {}\n", gpu.adapter_summary());
    println!("| set | images | background | plates never: invisible | plates auto: invisible | plated (auto) |");
    println!("|---|---:|---|---:|---:|---:|");
    for (name, set) in [("clip art (made here)", &clipart), ("emoji-google", &emoji)] {
        for (bg_name, bg) in [("#101014 (default)", DARK), ("#ffffff", WHITE)] {
            let never = bench.count_invisible(set, bg, PlateMode::Never)?;
            let auto = bench.count_invisible(set, bg, PlateMode::Auto)?;
            println!(
                "| {name} | {} | {bg_name} | {:.1} % | {:.1} % | {:.1} % |",
                set.len(),
                pct(never.invisible, set.len()),
                pct(auto.invisible, set.len()),
                pct(auto.plated, set.len()),
            );
        }
    }
    println!();
    println!("| opaque photos | background | plated (auto) | mean grey difference auto vs never |");
    println!("|---:|---|---:|---:|");
    for (bg_name, bg) in [("#101014", DARK), ("#ffffff", WHITE)] {
        let (plated, diff) = bench.photo_change(&photos, bg)?;
        println!(
            "| {} | {bg_name} | {plated} | {diff:.3} levels |",
            photos.len()
        );
    }
    if let Some(dir) = save {
        std::fs::create_dir_all(&dir)?;
        for (bg_name, bg) in [("dark", DARK), ("white", WHITE)] {
            for mode in [PlateMode::Never, PlateMode::Auto] {
                let sheet = bench.sheet(&clipart[..clipart.len().min(100)], bg, mode)?;
                let path = dir.join(format!("plates-clipart-{bg_name}-{}.png", mode.name()));
                sheet
                    .save(&path)
                    .with_context(|| path.display().to_string())?;
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

fn pct(n: usize, of: usize) -> f64 {
    100.0 * n as f64 / of.max(1) as f64
}

/// One renderer of one image, re-used for every image.
struct Bench<'a> {
    gpu: &'a GpuContext,
    renderer: QuadRenderer,
}

#[derive(Default)]
struct Counts {
    invisible: usize,
    plated: usize,
}

impl<'a> Bench<'a> {
    fn new(gpu: &'a GpuContext) -> Result<Self> {
        let mut renderer = QuadRenderer::new(
            &gpu.device,
            TargetDesc::OFFSCREEN,
            1,
            &AtlasConfig::default(),
        )?;
        renderer.update_tsne_positions(&gpu.queue, &[[0.5, 0.5]])?;
        Ok(Bench { gpu, renderer })
    }

    /// `img` drawn alone, its long side 96 px of a 112 px view, on `bg`; and whether it has a
    /// plate.
    fn draw(&mut self, img: &RgbaImage, bg: [u8; 3], mode: PlateMode) -> Result<(RgbaImage, bool)> {
        let q = &self.gpu.queue;
        self.renderer
            .set_plates(q, Plates::new(mode, bg, [255, 255, 255]));
        self.renderer.set_image(q, 0, img)?;
        let params = FrameParams {
            camera: Camera {
                center: [0.5, 0.5],
                zoom: VIEW as f32,
                ..Camera::new([VIEW as f32, VIEW as f32])
            },
            layout: LayoutParams {
                t: 0.0,
                tsne_scale: 4.0,
                image_size: 96.0 / VIEW as f32,
                grid_gap: 0.04,
            },
            hovered: None,
            style: Style::default(),
        };
        let out = self.renderer.render_offscreen(
            &self.gpu.device,
            q,
            &params,
            &OffscreenOptions {
                background: [bg[0], bg[1], bg[2], 255],
                sample_count: 1,
                max_tile: 4096,
            },
        )?;
        Ok((out, self.renderer.has_plate(0)))
    }

    fn count_invisible(
        &mut self,
        set: &[RgbaImage],
        bg: [u8; 3],
        mode: PlateMode,
    ) -> Result<Counts> {
        let mut c = Counts::default();
        for img in set {
            let (out, plated) = self.draw(img, bg, mode)?;
            let rect = drawn_rect(img);
            if standing_out(&out, rect, bg) < 0.02 {
                c.invisible += 1;
            }
            c.plated += plated as usize;
        }
        Ok(c)
    }

    /// Photos plated under `auto`, and the mean grey-level difference of their renders with
    /// `auto` and `never`.
    fn photo_change(&mut self, photos: &[RgbaImage], bg: [u8; 3]) -> Result<(usize, f64)> {
        let (mut plated, mut sum, mut n) = (0, 0.0, 0u64);
        for img in photos {
            let (auto, p) = self.draw(img, bg, PlateMode::Auto)?;
            let (never, _) = self.draw(img, bg, PlateMode::Never)?;
            plated += p as usize;
            for (a, b) in auto.pixels().zip(never.pixels()) {
                sum += (grey(a) - grey(b)).abs();
                n += 1;
            }
        }
        Ok((plated, sum / n.max(1) as f64))
    }

    /// A 10-wide contact sheet of `set` as drawn.
    fn sheet(&mut self, set: &[RgbaImage], bg: [u8; 3], mode: PlateMode) -> Result<RgbaImage> {
        let cols = 10u32;
        let rows = (set.len() as u32).div_ceil(cols);
        let mut sheet = RgbaImage::new(cols * VIEW, rows * VIEW);
        for (i, img) in set.iter().enumerate() {
            let (out, _) = self.draw(img, bg, mode)?;
            let (x, y) = ((i as u32 % cols) * VIEW, (i as u32 / cols) * VIEW);
            imageops::replace(&mut sheet, &out, x as i64, y as i64);
        }
        Ok(sheet)
    }
}

fn grey(p: &Rgba<u8>) -> f64 {
    0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64
}

/// The pixel rectangle the image covers in the view: long side 96 px, centred.
fn drawn_rect(img: &RgbaImage) -> [u32; 4] {
    let a = img.width() as f32 / img.height().max(1) as f32;
    let (w, h) = if a >= 1.0 {
        (96.0, 96.0 / a)
    } else {
        (96.0 * a, 96.0)
    };
    let c = VIEW as f32 / 2.0;
    [
        (c - w / 2.0).round() as u32,
        (c - h / 2.0).round() as u32,
        (c + w / 2.0).round() as u32,
        (c + h / 2.0).round() as u32,
    ]
}

/// Share of the rectangle's pixels more than 40 grey levels from the background's.
fn standing_out(img: &RgbaImage, [x0, y0, x1, y1]: [u32; 4], bg: [u8; 3]) -> f64 {
    let g0 = grey(&Rgba([bg[0], bg[1], bg[2], 255]));
    let (mut out, mut all) = (0u64, 0u64);
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            all += 1;
            out += ((grey(img.get_pixel(x, y)) - g0).abs() > 40.0) as u64;
        }
    }
    out as f64 / all.max(1) as f64
}

/// `count` emoji of the shared set (every n-th, so every category), as thumbnails.
fn emoji(count: usize, cache: &Cache) -> Result<Vec<RgbaImage>> {
    let dir = shared::shared_dir().join("datasets/emoji-google");
    let labels = std::fs::read_to_string(dir.join("labels.csv"))?;
    let files: Vec<PathBuf> = labels
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(|rel| dir.join(rel))
        .collect();
    let step = (files.len() / count.max(1)).max(1);
    Ok(files
        .iter()
        .step_by(step)
        .take(count)
        .filter_map(|p| load_thumbnail(p, cache, 256).ok())
        .collect())
}

/// Clip-art-like images on transparency, seeded: a fifth each of black line art, white icons,
/// dark silhouettes, mid-grey strokes and colourful shapes; sizes and aspects vary. Premultiplied
/// RGBA, as thumbnails are.
fn clip_art(count: usize, seed: u64) -> Vec<RgbaImage> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let (w, h) = (rng.random_range(96..=256u32), rng.random_range(96..=256u32));
            let (ink, filled) = match i % 5 {
                0 => ([0, 0, 0], false),
                1 => ([255, 255, 255], true),
                2 => {
                    let v = rng.random_range(0..40u8);
                    ([v, v, v + 4], true)
                }
                3 => {
                    let v = rng.random_range(70..110u8);
                    ([v, v, v], false)
                }
                _ => (
                    [
                        rng.random_range(120..=255u8),
                        rng.random_range(40..=255u8),
                        rng.random_range(0..=200u8),
                    ],
                    true,
                ),
            };
            let shapes = rng.random_range(1..=4);
            let mut img = RgbaImage::new(w, h);
            for _ in 0..shapes {
                let (cx, cy) = (
                    rng.random_range(0.25..0.75f32) * w as f32,
                    rng.random_range(0.25..0.75f32) * h as f32,
                );
                let r = rng.random_range(0.12..0.3f32) * w.min(h) as f32;
                let stroke = rng.random_range(1.5..4.0f32);
                let square = rng.random_bool(0.4);
                for (x, y, p) in img.enumerate_pixels_mut() {
                    let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                    let d = if square {
                        dx.abs().max(dy.abs())
                    } else {
                        (dx * dx + dy * dy).sqrt()
                    };
                    let inside = if filled {
                        d <= r
                    } else {
                        (d - r).abs() <= stroke
                    };
                    if inside {
                        *p = Rgba([ink[0], ink[1], ink[2], 255]);
                    }
                }
            }
            img
        })
        .collect()
}
