//! Camera photos: how fast `analyze` takes a folder of 8–24 Mpx JPEGs (and a few big PNG/WebP),
//! stage by stage, against the simplest Python a user could write for the same job (PIL with
//! JPEG `draft()` + onnxruntime, two processes), on the same files in the same run.
//!
//! ```text
//! cargo run --release --example bench_photos -- [--count 300] [--set mixed|24mpx|native]
//!     [--seed 7] [--dir DIR] [--threads 2] [--peer-python VENV/bin/python] [--before BINARY]
//!     [--agree 60] [--folder DIR]
//! ```
//! `--folder DIR` measures an existing folder of images as it is (your own photos) instead.
//! The folder is made once from `../shared/datasets/large-images` (or `$IMAGE_TSNE_LIVE_SHARED`)
//! and reused: seeded crops at the source's resolution (8–16 Mpx), every third resized to
//! 6000×4000 (24 Mpx), every seventh stored rotated with an EXIF orientation (a portrait shot),
//! all baseline JPEG quality 90 (`mixed`); every 25th is instead a copy of a source PNG/WebP.
//! `24mpx` makes every photo 6000×4000, `native` never resizes and has no PNG/WebP.
//!
//! Printed: the wall time and peak RSS of `image-tsne-live analyze DIR --no-cache` (this build,
//! and `--before BINARY`, an older build, for a before/after) and of the Python script; where the
//! feature time goes per image (read, decode, CNN input, thumbnail, CNN, cache), measured in
//! process with a cold cache; and how close the fast path's features stay to a full decode's
//! (median cosine similarity and ImageNet top-1 agreement on `--agree` photos and on the 26
//! source images).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/shared.rs"]
mod shared;

use image::RgbImage;
use image_tsne_live::cache::Cache;
use image_tsne_live::features::{self, argmax, FeatureModel};
use image_tsne_live::images::{self, Preprocess};
use image_tsne_live::progress::SilentReporter;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Args {
    count: usize,
    set: String,
    seed: u64,
    dir: Option<PathBuf>,
    /// An existing folder of images, measured as it is (nothing made or deleted).
    folder: Option<PathBuf>,
    threads: usize,
    peer_python: Option<PathBuf>,
    before: Option<PathBuf>,
    agree: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        count: 300,
        set: "mixed".into(),
        seed: 7,
        dir: None,
        folder: None,
        threads: 2,
        peer_python: std::env::var_os("PEER_PYTHON").map(PathBuf::from),
        before: None,
        agree: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--count" => a.count = value()?.parse()?,
            "--set" => a.set = value()?,
            "--seed" => a.seed = value()?.parse()?,
            "--dir" => a.dir = Some(value()?.into()),
            "--folder" => a.folder = Some(value()?.into()),
            "--threads" => a.threads = value()?.parse()?,
            "--peer-python" => a.peer_python = Some(value()?.into()),
            "--before" => a.before = Some(value()?.into()),
            "--agree" => a.agree = value()?.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(
        ["mixed", "24mpx", "native"].contains(&a.set.as_str()),
        "--set is mixed, 24mpx or native"
    );
    Ok(a)
}

/// An EXIF APP1 body with one IFD entry: orientation `o`.
fn exif_orientation(o: u8) -> Vec<u8> {
    let mut v = b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
    v.extend_from_slice(&[o, 0, 0, 0, 0, 0, 0, 0]);
    v
}

/// Baseline JPEG at quality 90, 4:2:0, as a camera writes it (libjpeg-turbo's defaults).
fn encode_jpeg(img: &RgbImage, exif: Option<&[u8]>) -> anyhow::Result<Vec<u8>> {
    std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        c.set_size(img.width() as usize, img.height() as usize);
        c.set_fastest_defaults();
        c.set_quality(90.0);
        let mut c = c.start_compress(Vec::new())?;
        if let Some(exif) = exif {
            c.write_marker(mozjpeg::Marker::APP(1), exif);
        }
        c.write_scanlines(img.as_raw())?;
        c.finish()
    })
    .map_err(|_| anyhow::anyhow!("libjpeg failed"))?
    .map_err(Into::into)
}

/// Make the camera-like folder (or reuse it when its stamp says it was made the same way).
fn make_folder(args: &Args, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let stamp = format!("{} {} {} v1", args.set, args.count, args.seed);
    let stamp_file = dir.join(".bench_photos");
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n != ".bench_photos"))
            .collect();
        files.sort();
        return Ok(files);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let srcs = shared::large_images()?;
    eprintln!("making {} photos in {} ...", args.count, dir.display());
    let t = Instant::now();
    let decoded: Vec<RgbImage> = srcs
        .par_iter()
        .map(|p| Ok(image::open(p)?.to_rgb8()))
        .collect::<anyhow::Result<_>>()?;
    let files: Vec<PathBuf> = (0..args.count)
        .into_par_iter()
        .map(|i| -> anyhow::Result<PathBuf> {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed * 1_000_003 + i as u64);
            let k = rng.random_range(0..srcs.len());
            if args.set == "mixed" && i % 25 == 24 {
                let src = &srcs[k % srcs.len()];
                let ext = src.extension().and_then(|e| e.to_str()).unwrap_or("png");
                if ext != "jpg" {
                    let out = dir.join(format!("scan-{i:04}.{ext}"));
                    std::fs::copy(src, &out)?;
                    return Ok(out);
                }
            }
            let img = &decoded[k];
            let (w, h) = img.dimensions();
            // a 3:2 crop of 70–100 % of the short side
            let ch = (h.min(w * 2 / 3) as f64 * rng.random_range(0.7..1.0)) as u32;
            let cw = ch * 3 / 2;
            let (x, y) = (rng.random_range(0..=w - cw), rng.random_range(0..=h - ch));
            let mut crop = image::imageops::crop_imm(img, x, y, cw, ch).to_image();
            if args.set == "24mpx" || (args.set == "mixed" && i % 3 == 0) {
                crop = image::imageops::resize(
                    &crop,
                    6000,
                    4000,
                    image::imageops::FilterType::Triangle,
                );
            }
            // a portrait shot: the sensor's pixels rotated, the EXIF tag turning them upright
            let (pixels, exif) = if i % 7 == 3 {
                (image::imageops::rotate270(&crop), Some(exif_orientation(6)))
            } else {
                (crop, None)
            };
            let out = dir.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&out, encode_jpeg(&pixels, exif.as_deref())?)?;
            Ok(out)
        })
        .collect::<anyhow::Result<_>>()?;
    std::fs::write(&stamp_file, stamp)?;
    eprintln!("made in {:.1} s", t.elapsed().as_secs_f64());
    Ok(files)
}

/// Wall time and peak RSS (MiB) of a command run to its end, measured by a fresh, small copy of
/// this program (`--measure-child`): a child's peak RSS counts the pages of the process that
/// forked it until it execs, and this one holds the decoded sources.
fn run_measured(cmd: &std::process::Command) -> anyhow::Result<(Duration, f64, String)> {
    let mut launcher = std::process::Command::new(std::env::current_exe()?);
    launcher
        .arg("--measure-child")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let out = launcher.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (child_out, last) = stdout
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", stdout.trim_end()));
    let mut it = last.split_whitespace().map(|v| v.parse::<f64>());
    match (it.next(), it.next()) {
        (Some(Ok(wall)), Some(Ok(rss))) => {
            Ok((Duration::from_secs_f64(wall), rss, child_out.to_string()))
        }
        _ => anyhow::bail!("--measure-child said {last:?}"),
    }
}

/// `--measure-child PROGRAM ARGS...`: run it, print its output, then `WALL_S RSS_MIB`.
fn measure_child(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let program = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("--measure-child needs a program"))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    let (wall, rss, stdout) = spawn_measured(&mut cmd)?;
    print!("{stdout}");
    println!("\n{} {}", wall.as_secs_f64(), rss);
    Ok(())
}

/// Wall time and peak RSS (MiB) of a command run to its end (`wait4`'s own count).
fn spawn_measured(cmd: &mut std::process::Command) -> anyhow::Result<(Duration, f64, String)> {
    let t = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    // read the pipes on threads so a chatty child cannot block on a full pipe
    let (mut out, mut err) = (child.stdout, child.stderr);
    let reader = |p: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = p {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out_t = reader(out.take().map(|p| Box::new(p) as _));
    let err_t = reader(err.take().map(|p| Box::new(p) as _));
    let mut status = 0;
    // SAFETY: plain FFI call on our own child's pid with valid out-pointers
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t.elapsed();
    anyhow::ensure!(r == pid, "wait4 failed");
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed: {stderr}"
    );
    Ok((wall, usage.ru_maxrss as f64 / 1024.0, stdout))
}

const PEER_SCRIPT: &str = r#"
import sys, os, json, resource
import numpy as np, onnxruntime as ort
from multiprocessing import Pool
from PIL import Image, ImageOps
model, files = sys.argv[1], sys.argv[2:]
def init():
    global sess
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
def feature(path):
    im = Image.open(path)
    im.draft("RGB", (224, 224))
    im = ImageOps.exif_transpose(im).convert("RGB")
    w, h = im.size
    s = min(w, h)
    l, t = (w - s) // 2, (h - s) // 2
    im = im.resize((224, 224), Image.BILINEAR, box=(l, t, l + s, t + s))
    x = (np.asarray(im, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None]
    return sess.run(["features"], {"input": x})[0][0]
if __name__ == "__main__":
    with Pool(2, initializer=init) as pool:
        feats = pool.map(feature, files, chunksize=4)
    # the parent and its two workers (each as large as the largest one) are alive together
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + 2 * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"n": len(feats), "rss_kb": rss}))
"#;

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-12)
}

/// Median cosine similarity of the features and the share of equal ImageNet top-1 classes,
/// fast path (one scaled decode) against a full decode, over `files`.
fn agreement(model: &FeatureModel, files: &[PathBuf]) -> anyhow::Result<(f64, f64, usize)> {
    let prep = Preprocess {
        input_size: model.input_size(),
        ..Preprocess::default()
    };
    let pairs: Vec<(f64, bool)> = files
        .par_iter()
        .map(|f| -> anyhow::Result<(f64, bool)> {
            let bytes = std::fs::read(f)?;
            let fast = images::cnn_input(&images::decode_covering(&bytes, prep.cover())?, &prep);
            let full = images::cnn_input(&images::decode_bytes(&bytes)?, &prep);
            let cos = cosine(&model.features(&fast)?, &model.features(&full)?);
            let top = |img: &RgbImage| -> anyhow::Result<Option<usize>> {
                Ok(model.logits(img)?.and_then(|l| argmax(&l)))
            };
            Ok((cos, top(&fast)? == top(&full)?))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut cos: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    cos.sort_by(|a, b| a.total_cmp(b));
    let median = cos.get(cos.len() / 2).copied().unwrap_or(f64::NAN);
    let same = pairs.iter().filter(|p| p.1).count() as f64 / pairs.len().max(1) as f64;
    Ok((median, same, pairs.len()))
}

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--measure-child") {
        return measure_child(std::env::args().skip(2));
    }
    let args = parse_args()?;
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "image-tsne-live-photos-{}-{}-{}",
            args.set, args.count, args.seed
        ))
    });
    let (dir, files) = match &args.folder {
        Some(folder) => {
            let found = image_tsne_live::input::scan::scan(folder, false)?;
            (folder.clone(), found.images)
        }
        None => {
            let files = make_folder(&args, &dir)?;
            (dir, files)
        }
    };
    let n = files.len();
    let mpx: f64 = files
        .iter()
        .filter_map(|f| image::image_dimensions(f).ok())
        .map(|(w, h)| w as f64 * h as f64 / 1e6)
        .sum::<f64>()
        / n.max(1) as f64;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "folder: {} ({n} files, mean {mpx:.1} Mpx, {:.0} MiB), {} threads",
        dir.display(),
        bytes as f64 / (1 << 20) as f64,
        args.threads
    );
    let app = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("image-tsne-live")))
        .filter(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("build the app first: cargo build --release"))?;
    let work = tempfile::tempdir()?;

    let mut rows: Vec<(String, Duration, f64)> = Vec::new();
    let mut analyze = |name: &str, bin: &Path| -> anyhow::Result<()> {
        let out = work.path().join("layout.json");
        let (wall, rss, _) = run_measured(
            std::process::Command::new(bin)
                .arg("analyze")
                .arg(&dir)
                .arg("-o")
                .arg(&out)
                .args(["--no-cache", "--quiet", "--max-images"])
                .arg(n.to_string())
                .arg("--threads")
                .arg(args.threads.to_string()),
        )?;
        rows.push((name.to_string(), wall, rss));
        Ok(())
    };
    analyze("image-tsne-live analyze --no-cache (this build)", &app)?;
    if let Some(before) = &args.before {
        analyze(
            &format!("image-tsne-live analyze --no-cache ({})", before.display()),
            before,
        )?;
    }
    if let Some(python) = &args.peer_python {
        let script = work.path().join("peer.py");
        std::fs::write(&script, PEER_SCRIPT)?;
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/efficientnet-lite0.onnx");
        // (a Python pool whose workers cannot load the model restarts them forever)
        anyhow::ensure!(
            model.is_file(),
            "{} is missing: rebuild this example from this checkout",
            model.display()
        );
        let (wall, _, stdout) = run_measured(
            std::process::Command::new(python)
                .arg(&script)
                .arg(&model)
                .args(&files),
        )?;
        let rss = serde_json::from_str::<serde_json::Value>(stdout.trim())
            .ok()
            .and_then(|v| v["rss_kb"].as_f64())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN);
        rows.push((
            "Python: PIL draft + onnxruntime, 2 processes".into(),
            wall,
            rss,
        ));
    }
    let python_wall = rows.iter().find(|r| r.0.starts_with("Python")).map(|r| r.1);
    println!("\n| pipeline | wall s | ms/image | vs Python | peak RSS MiB |");
    println!("|---|---:|---:|---:|---:|");
    for (name, wall, rss) in &rows {
        let ratio = python_wall
            .map(|p| format!("{:.2}×", wall.as_secs_f64() / p.as_secs_f64()))
            .unwrap_or_else(|| "–".into());
        println!(
            "| {name} | {:.2} | {:.1} | {ratio} | {rss:.0} |",
            wall.as_secs_f64(),
            wall.as_secs_f64() * 1000.0 / n as f64
        );
    }
    if python_wall.is_none() {
        println!(
            "(no Python baseline: pass --peer-python VENV/bin/python with onnxruntime and pillow)"
        );
    }

    // where the feature time goes, in process, cold cache
    let model = FeatureModel::bundled()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let cache = Cache::at(work.path().join("cache"));
    let rep = SilentReporter::default();
    let set = pool.install(|| {
        features::extract_features(&files, &model, &Preprocess::default(), &cache, &rep)
    })?;
    let t = set.time;
    println!(
        "\nfeature stage in process (cold cache): {:.2} s wall, {:.1} ms/image, {} used, {} skipped",
        t.wall.as_secs_f64(),
        t.wall.as_secs_f64() * 1000.0 / n as f64,
        set.paths.len(),
        set.skipped.len()
    );
    println!("| part | ms/image/thread |\n|---|---:|");
    for (name, d) in t.parts() {
        println!("| {name} | {:.1} |", d.as_secs_f64() * 1000.0 / n as f64);
    }

    if args.agree > 0 {
        let sample: Vec<PathBuf> = files.iter().take(args.agree).cloned().collect();
        let (cos, top1, k) = pool.install(|| agreement(&model, &sample))?;
        println!(
            "\nfast path vs full decode: median cosine {cos:.4}, top-1 agreement {:.1} % ({k} photos)",
            top1 * 100.0
        );
        let originals = shared::large_images()?;
        let (cos, top1, k) = pool.install(|| agreement(&model, &originals))?;
        println!(
            "fast path vs full decode: median cosine {cos:.4}, top-1 agreement {:.1} % ({k} large-images sources)",
            top1 * 100.0
        );
    }
    Ok(())
}
