//! Speed/quality benchmark: our Barnes-Hut t-SNE vs the `bhtsne` crate (0.5) on the shared PCA-50
//! datasets, same process, same data and parameters; prints one markdown table per dataset.
//!
//! cargo run --release --example bench_tsne -- [digits] [blobs10k] [blobs50k] [--repeat N]
//!     [--threads N] [--bhtsne | --no-bhtsne] [--perplexity P] [--theta T] [--iterations I]
//!     [--save-embedding DIR]
//!
//! `--save-embedding DIR` writes our embedding of each dataset as `DIR/<name>_tsne.f64`, raw
//! little-endian f64 (x, y) pairs normalised per axis to [0,1] — the format of
//! `../shared/datasets/grid` — plus, for blobs50k, a seeded random 20 000-point subset
//! `DIR/blobs50k_tsne_20000.f64`: the real clustered inputs `bench_grid --points` takes.
//!
//! Data: $IMAGE_TSNE_LIVE_SHARED/datasets/tsne, else <crate>/../shared/datasets/tsne.

#[path = "../tests/common/metrics.rs"]
mod metrics;
use image_tsne_live::tsne::{tsne, TsneParams};
use metrics::{kl_divergence, knn_accuracy};
use ndarray::Array2;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

fn data_dir() -> PathBuf {
    let root = std::env::var("IMAGE_TSNE_LIVE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared").to_string());
    PathBuf::from(root).join("datasets/tsne")
}

fn load(name: &str, n: usize, d: usize) -> Result<(Array2<f32>, Vec<u32>), String> {
    let dir = data_dir();
    let path = dir.join(format!("{name}_pca50.f32"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() != n * d * 4 {
        return Err(format!("{}: expected {} bytes", path.display(), n * d * 4));
    }
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let data = Array2::from_shape_vec((n, d), values).map_err(|e| e.to_string())?;
    let lpath = dir.join(format!("{name}_labels.txt"));
    let text = std::fs::read_to_string(&lpath).map_err(|e| format!("{}: {e}", lpath.display()))?;
    let labels: Vec<u32> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<u32>().map_err(|e| format!("{l}: {e}")))
        .collect::<Result<_, _>>()?;
    if labels.len() != n {
        return Err(format!("{}: expected {n} labels", lpath.display()));
    }
    Ok((data, labels))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn vm_hwm_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

struct Args {
    datasets: Vec<String>,
    repeat: usize,
    threads: Option<usize>,
    bhtsne: Option<bool>,
    params: TsneParams,
    save: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        datasets: Vec::new(),
        repeat: 1,
        threads: None,
        bhtsne: None,
        params: TsneParams::default(),
        save: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--repeat" => a.repeat = value("--repeat")?.parse().map_err(|e| format!("{e}"))?,
            "--threads" => {
                a.threads = Some(value("--threads")?.parse().map_err(|e| format!("{e}"))?)
            }
            "--perplexity" => {
                a.params.perplexity = value("--perplexity")?.parse().map_err(|e| format!("{e}"))?
            }
            "--theta" => a.params.theta = value("--theta")?.parse().map_err(|e| format!("{e}"))?,
            "--iterations" => {
                a.params.iterations = value("--iterations")?.parse().map_err(|e| format!("{e}"))?
            }
            "--bhtsne" => a.bhtsne = Some(true),
            "--no-bhtsne" => a.bhtsne = Some(false),
            "--save-embedding" => a.save = Some(PathBuf::from(value("--save-embedding")?)),
            "digits" | "blobs10k" | "blobs50k" => a.datasets.push(arg),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.datasets.is_empty() {
        a.datasets = vec!["digits".into(), "blobs10k".into()];
    }
    a.repeat = a.repeat.max(1);
    Ok(a)
}

fn run_ours(data: &Array2<f32>, params: &TsneParams) -> (f64, Vec<[f32; 2]>) {
    let t = Instant::now();
    let emb = tsne(data.view(), params, &mut |_| ControlFlow::Continue(()))
        .unwrap_or_else(|e| panic!("t-SNE failed: {e}"));
    (t.elapsed().as_secs_f64(), emb)
}

fn run_bhtsne(data: &Array2<f32>, params: &TsneParams) -> (f64, Vec<[f32; 2]>) {
    let d = data.ncols();
    let flat = data.as_slice().expect("standard layout");
    let samples: Vec<&[f32]> = flat.chunks(d).collect();
    let t = Instant::now();
    let mut model: bhtsne::tSNE<f32, &[f32]> = bhtsne::tSNE::new(&samples);
    model
        .embedding_dim(2)
        .perplexity(params.perplexity)
        .epochs(params.iterations)
        .barnes_hut(params.theta, |a, b| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f32>()
                .sqrt()
        });
    let emb: Vec<[f32; 2]> = model.embedding().chunks(2).map(|c| [c[0], c[1]]).collect();
    (t.elapsed().as_secs_f64(), emb)
}

/// Write the embedding normalised per axis to [0,1] as raw f64 pairs (and a 20k subset of 50k).
fn save_embedding(dir: &std::path::Path, name: &str, emb: &[[f32; 2]]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in emb {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a] as f64);
            hi[a] = hi[a].max(p[a] as f64);
        }
    }
    let norm = |p: &[f32; 2], a: usize| (p[a] as f64 - lo[a]) / (hi[a] - lo[a]).max(1e-300);
    let write = |file: String, idx: &[usize]| -> Result<(), String> {
        let mut bytes = Vec::with_capacity(idx.len() * 16);
        for &i in idx {
            bytes.extend_from_slice(&norm(&emb[i], 0).to_le_bytes());
            bytes.extend_from_slice(&norm(&emb[i], 1).to_le_bytes());
        }
        let path = dir.join(file);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {} ({} points)", path.display(), idx.len());
        Ok(())
    };
    let all: Vec<usize> = (0..emb.len()).collect();
    write(format!("{name}_tsne.f64"), &all)?;
    if emb.len() > 20_000 {
        use rand::seq::index;
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_000);
        let mut sub = index::sample(&mut rng, emb.len(), 20_000).into_vec();
        sub.sort_unstable();
        write(format!("{name}_tsne_20000.f64"), &sub)?;
    }
    Ok(())
}

struct Row {
    name: &'static str,
    seconds: f64,
    acc: f64,
    kl: f64,
}

fn bench(name: &str, args: &Args) -> Result<(), String> {
    let (n, d) = match name {
        "digits" => (1797, 50),
        "blobs10k" => (10_000, 50),
        _ => (50_000, 50),
    };
    let (data, labels) = load(name, n, d)?;
    let p = &args.params;
    let big = n > 20_000;
    let with_bhtsne = args.bhtsne.unwrap_or(!big);
    let mut rows = Vec::new();

    if big {
        // Reset the peak-RSS counter so VmHWM reflects our run only.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let mut times = Vec::new();
    let mut emb = Vec::new();
    for _ in 0..args.repeat {
        let (s, e) = run_ours(&data, p);
        times.push(s);
        emb = e;
    }
    let hwm = vm_hwm_mib();
    if let Some(dir) = &args.save {
        save_embedding(dir, name, &emb)?;
    }
    rows.push(Row {
        name: "ours (image-tsne-live)",
        seconds: median(&mut times),
        acc: knn_accuracy(&emb, &labels, 10),
        kl: kl_divergence(data.view(), &emb, p.perplexity),
    });
    if with_bhtsne {
        let mut times = Vec::new();
        let mut accs = Vec::new();
        let mut kls = Vec::new();
        for _ in 0..args.repeat {
            let (s, e) = run_bhtsne(&data, p);
            times.push(s);
            accs.push(knn_accuracy(&e, &labels, 10));
            kls.push(kl_divergence(data.view(), &e, p.perplexity));
        }
        rows.push(Row {
            name: "bhtsne crate 0.5",
            seconds: median(&mut times),
            acc: median(&mut accs),
            kl: median(&mut kls),
        });
    }
    println!(
        "\n### {name} (n={n}, d={d}; perplexity {}, theta {}, {} iterations; median of {}; {} threads)\n",
        p.perplexity,
        p.theta,
        p.iterations,
        args.repeat,
        rayon::current_num_threads()
    );
    println!("| implementation | wall s | speed-up vs bhtsne | 10-NN acc | KL |");
    println!("|---|---|---|---|---|");
    let base = rows
        .iter()
        .find(|r| r.name.starts_with("bhtsne"))
        .map(|r| r.seconds);
    for r in &rows {
        let ratio = base.map_or("–".to_string(), |b| format!("{:.2}×", b / r.seconds));
        println!(
            "| {} | {:.2} | {} | {:.4} | {:.4} |",
            r.name, r.seconds, ratio, r.acc, r.kl
        );
    }
    if big {
        if let Some(m) = hwm {
            println!("\npeak RSS (VmHWM) during ours on {name}: {m:.0} MiB");
        }
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = args.threads {
        builder = builder.num_threads(t);
    }
    let pool = builder
        .build()
        .unwrap_or_else(|e| panic!("thread pool: {e}"));
    pool.install(|| {
        for name in &args.datasets {
            if let Err(e) = bench(name, &args) {
                eprintln!("error: {name}: {e}");
                std::process::exit(1);
            }
        }
    });
}
