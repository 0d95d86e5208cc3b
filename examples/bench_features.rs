//! CNN feature extraction speed: tract's plain plan vs our fast ops on CHW and on channel-blocked
//! tensors (and, when a
//! Python with `onnxruntime` is given, onnxruntime on the same model file), 1 and 2 threads,
//! on prepared emoji images; plus how far the fast features are from the plain ones.
//!
//! ```text
//! cargo run --release --example bench_features -- [--images 200] [--profile] [--layers]
//!     [--ort-python /work/venv-ort/bin/python]      (or $ORT_PYTHON)
//! ```
//! Every thread runs its share of the images on the shared plan (as the pipeline's workers
//! do); "ms/img/thread" is wall time × threads / images. Decoding is not timed.

use image::RgbImage;
use image_tsne_live::features::{Engine, FeatureModel, DEFAULT_MODEL};
use image_tsne_live::images::{self, Preprocess};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Args {
    images: usize,
    profile: bool,
    /// Per-layer times of the fast plan.
    layers: bool,
    ort_python: Option<PathBuf>,
    rounds: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        images: 200,
        profile: false,
        layers: false,
        ort_python: std::env::var_os("ORT_PYTHON").map(PathBuf::from),
        rounds: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--images" => a.images = it.next().and_then(|v| v.parse().ok()).unwrap_or(200),
            "--rounds" => a.rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--profile" => a.profile = true,
            "--layers" => a.layers = true,
            "--ort-python" => a.ort_python = it.next().map(PathBuf::from),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

fn shared() -> PathBuf {
    std::env::var_os("IMAGE_TSNE_LIVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// The first `n` emoji (sorted paths), prepared as CNN inputs.
fn inputs(n: usize) -> anyhow::Result<Vec<RgbImage>> {
    let root = shared().join("datasets/emoji-google");
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    paths.sort();
    paths.truncate(n);
    anyhow::ensure!(!paths.is_empty(), "no images under {}", root.display());
    let prep = Preprocess::default();
    paths
        .iter()
        .map(|p| Ok(images::cnn_input(&images::decode_file(p)?, &prep)))
        .collect()
}

/// Wall seconds to run every image once, split over `threads` threads.
fn timed(model: &FeatureModel, imgs: &[RgbImage], threads: usize) -> anyhow::Result<f64> {
    let t = Instant::now();
    let chunk = imgs.len().div_ceil(threads);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = imgs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> anyhow::Result<()> {
                    for img in part {
                        model.features(img)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        }
        Ok(())
    })?;
    Ok(t.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn row(label: &str, n: usize, wall1: f64, wall2: f64) {
    println!(
        "| {label} | {:.2} | {:.1} | {:.2} | {:.1} |",
        wall1 * 1e3 / n as f64,
        n as f64 / wall1,
        wall2 * 2e3 / n as f64,
        n as f64 / wall2
    );
}

const ORT_SCRIPT: &str = r#"
import sys, time, threading, json
import numpy as np, onnxruntime as ort
model, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rounds = int(sys.argv[4])
x = np.fromfile(data, dtype=np.float32).reshape(n, 1, 3, 224, 224)
def session():
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
sessions = [session(), session()]
feats = [sessions[0].run(["features"], {"input": x[i]})[0][0] for i in range(n)]
np.asarray(feats, dtype=np.float32).tofile(data + ".features")
def work(s, part):
    for i in part:
        s.run(["features"], {"input": x[i]})
out = {}
for threads in (1, 2):
    walls = []
    for _ in range(rounds):
        parts = [range(t, n, threads) for t in range(threads)]
        ts = [threading.Thread(target=work, args=(sessions[t], parts[t])) for t in range(threads)]
        t0 = time.perf_counter()
        for t in ts: t.start()
        for t in ts: t.join()
        walls.append(time.perf_counter() - t0)
    out[threads] = sorted(walls)[len(walls) // 2]
print(json.dumps({"wall1": out[1], "wall2": out[2], "version": ort.__version__}))
"#;

/// onnxruntime's wall times (1 and 2 threads), its version and its features, or why not.
fn ort_baseline(
    python: &Path,
    imgs: &[RgbImage],
    rounds: usize,
) -> anyhow::Result<(f64, f64, String, Vec<f32>)> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, DEFAULT_MODEL)?;
    let data = dir.path().join("inputs.f32");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&data)?);
    for img in imgs {
        let plane = (img.width() * img.height()) as usize;
        let mut v = vec![0f32; 3 * plane];
        for (i, p) in img.pixels().enumerate() {
            for c in 0..3 {
                v[c * plane + i] = p[c] as f32 * (1.0 / 255.0);
            }
        }
        for x in v {
            f.write_all(&x.to_le_bytes())?;
        }
    }
    f.flush()?;
    drop(f);
    let script = dir.path().join("ort_bench.py");
    std::fs::write(&script, ORT_SCRIPT)?;
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(&model)
        .arg(&data)
        .arg(imgs.len().to_string())
        .arg(rounds.to_string())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let get = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| anyhow::anyhow!("no {k} in {v}"))
    };
    let feats: Vec<f32> = std::fs::read(data.with_extension("f32.features"))?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((
        get("wall1")?,
        get("wall2")?,
        v["version"].as_str().unwrap_or("?").to_string(),
        feats,
    ))
}

/// Max over images of max|a − b| / max|b|, and the max elementwise |a − b|.
fn diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, f32) {
    let mut rel = 0f32;
    let mut abs = 0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        let m = y.iter().map(|q| q.abs()).fold(0f32, f32::max).max(1e-12);
        rel = rel.max(d / m);
        abs = abs.max(d);
    }
    (rel, abs)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let imgs = inputs(args.images)?;
    let n = imgs.len();
    println!(
        "{n} emoji, {} round(s) per cell (median), {} CPUs\n",
        args.rounds,
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    let plain = FeatureModel::bundled_with(Engine::Plain)?;
    let chw = FeatureModel::bundled_with(Engine::FastChw)?;
    let fast = FeatureModel::bundled_with(Engine::Fast)?;
    println!(
        "fast plan: {} convolutions on the fast ops (depthwise, stem, pointwise)\n",
        fast.fast_conv_count()
    );

    println!(
        "| engine | 1 thread ms/img | 1 thread img/s | 2 threads ms/img/thread | 2 threads img/s |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (label, model) in [
        ("tract (plain plan, as before)", &plain),
        ("tract + our depthwise, stem and 1×1 ops, CHW", &chw),
        ("tract + our ops, channel-blocked (default)", &fast),
    ] {
        timed(model, &imgs[..n.min(8)], 1)?; // warm-up
        let w1 = median(
            (0..args.rounds)
                .map(|_| timed(model, &imgs, 1))
                .collect::<anyhow::Result<_>>()?,
        );
        let w2 = median(
            (0..args.rounds)
                .map(|_| timed(model, &imgs, 2))
                .collect::<anyhow::Result<_>>()?,
        );
        row(label, n, w1, w2);
    }
    let fp: Vec<Vec<f32>> = imgs
        .iter()
        .map(|i| plain.features(i))
        .collect::<anyhow::Result<_>>()?;
    let ff: Vec<Vec<f32>> = imgs
        .iter()
        .map(|i| fast.features(i))
        .collect::<anyhow::Result<_>>()?;
    let mut notes = vec![];
    match &args.ort_python {
        None => {
            notes.push("onnxruntime: skipped (no --ort-python / $ORT_PYTHON given)".to_string())
        }
        Some(py) => match ort_baseline(py, &imgs, args.rounds) {
            Ok((w1, w2, version, feats)) => {
                row(
                    &format!("onnxruntime {version} (CPU EP, 1 intra-op thread per session)"),
                    n,
                    w1,
                    w2,
                );
                let fo: Vec<Vec<f32>> = feats.chunks(fp[0].len()).map(|c| c.to_vec()).collect();
                let (r, a) = diff(&fp, &fo);
                notes.push(format!(
                    "onnxruntime vs plain tract features: max rel {r:.2e}, max abs {a:.2e}"
                ));
            }
            Err(e) => notes.push(format!("onnxruntime: skipped ({e:#})")),
        },
    }
    let (r, a) = diff(&ff, &fp);
    println!();
    println!("fast vs plain tract features: max rel (max|Δ| / max|plain| per image) {r:.2e}, max abs {a:.2e}");
    for n in notes {
        println!("{n}");
    }

    if args.profile {
        let runs = 20;
        for (label, model) in [
            ("plain", &plain),
            ("fast CHW", &chw),
            ("fast blocked", &fast),
        ] {
            let prof = model.profile(&imgs[0], runs)?;
            let total: f64 = prof.iter().map(|p| p.time.as_secs_f64()).sum();
            println!(
                "\nper-op profile, {label} plan (mean of {runs} runs, 1 thread, {:.2} ms summed)",
                total * 1e3
            );
            println!("| op | nodes | ms | share |\n|---|---:|---:|---:|");
            for p in prof {
                let t = p.time.as_secs_f64();
                println!(
                    "| {} | {} | {:.3} | {:.1}% |",
                    p.op,
                    p.nodes,
                    t * 1e3,
                    100.0 * t / total
                );
            }
        }
    }
    if args.layers {
        let runs = 20;
        let nodes = fast.profile_nodes(&imgs[0], runs)?;
        let total: f64 = nodes.iter().map(|n| n.time.as_secs_f64()).sum();
        println!(
            "\nper-layer profile, fast plan (mean of {runs} runs, 1 thread, {:.2} ms summed)",
            total * 1e3
        );
        println!("| # | op | what | ms | share |\n|---:|---|---|---:|---:|");
        for (k, n) in nodes.iter().enumerate() {
            let t = n.time.as_secs_f64();
            if t * 1e3 < 0.01 {
                continue;
            }
            println!(
                "| {k} | {} | {} | {:.3} | {:.1}% |",
                n.op,
                n.info,
                t * 1e3,
                100.0 * t / total
            );
        }
    }
    Ok(())
}
