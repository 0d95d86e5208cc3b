//! Benchmark of `grid::assign` (exact and fast) against `pathfinding::kuhn_munkres`, printed as a
//! markdown table. Every solve runs in its own child process, whose peak RSS (VmHWM) is reported.
//!
//! ```text
//! cargo run --release --example bench_grid -- [--points FILE]... [--km-max N] [--max-n N]
//! ```
//! * `--points FILE`: extra input, raw little-endian f64 (x, y) pairs (e.g. our t-SNE of
//!   `blobs50k_pca50.f32`); repeatable.
//! * `--km-max N`: run `kuhn_munkres` only up to `N` points (default: 10000 for uniform input,
//!   4096 for clustered input, where 10000 takes minutes; above: "skipped"; it needs `8 n m` bytes).
//! * `--max-n N`: skip built-in inputs above `N` points (default 50000).
//!
//! Inputs: uniform random in [0,1]²; the shared real t-SNE points (1024/4096/10000); and, for
//! 20000/50000, two **synthetic** clustered sets: `resample` (the real 10k t-SNE resampled with
//! Gaussian jitter σ = 0.005, i.e. a kernel density sample of the same layout) and `gmm`
//! (20 anisotropic Gaussian clusters of unequal sizes, tighter than the real layout: harder).
//! Shared data: `$IMAGE_TSNE_LIVE_SHARED`, else `<crate>/../shared`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use image_tsne_live::grid::{assign, GridShape, Solver};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn shared_dir() -> PathBuf {
    std::env::var_os("IMAGE_TSNE_LIVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

fn read_points(path: &std::path::Path) -> Result<Vec<[f64; 2]>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() % 16 != 0 {
        return Err(format!(
            "{}: not a list of f64 (x, y) pairs",
            path.display()
        ));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|c| {
            let mut x = [0u8; 8];
            let mut y = [0u8; 8];
            x.copy_from_slice(&c[..8]);
            y.copy_from_slice(&c[8..]);
            [f64::from_le_bytes(x), f64::from_le_bytes(y)]
        })
        .collect())
}

fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Input `kind` with `n` points (deterministic).
fn make_input(kind: &str, n: usize) -> Result<Vec<[f64; 2]>, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed ^ n as u64);
    match kind {
        "uniform" => Ok((0..n).map(|_| [rng.random(), rng.random()]).collect()),
        "tsne" => read_points(
            &shared_dir()
                .join("datasets/grid")
                .join(format!("tsne_points_{n}.f64")),
        ),
        "resample" => {
            let base = make_input("tsne", 10000)?;
            Ok((0..n)
                .map(|_| {
                    let p = base[rng.random_range(0..base.len())];
                    [
                        p[0] + 0.005 * gauss(&mut rng),
                        p[1] + 0.005 * gauss(&mut rng),
                    ]
                })
                .collect())
        }
        "gmm" => {
            let clusters: Vec<[f64; 6]> = (0..20)
                .map(|_| {
                    [
                        rng.random_range(0.3..1.7),                  // weight
                        rng.random_range(0.1..0.9),                  // centre x
                        rng.random_range(0.1..0.9),                  // centre y
                        rng.random_range(0.015..0.06),               // sd
                        rng.random_range(0.4..1.0),                  // anisotropy
                        rng.random_range(0.0..std::f64::consts::PI), // rotation
                    ]
                })
                .collect();
            let total: f64 = clusters.iter().map(|c| c[0]).sum();
            Ok((0..n)
                .map(|_| {
                    let mut u = rng.random_range(0.0..total);
                    let c = clusters
                        .iter()
                        .find(|c| {
                            u -= c[0];
                            u <= 0.0
                        })
                        .unwrap_or(&clusters[19]);
                    let (a, b) = (gauss(&mut rng) * c[3], gauss(&mut rng) * c[3] * c[4]);
                    let (s, co) = c[5].sin_cos();
                    [c[1] + a * co - b * s, c[2] + a * s + b * co]
                })
                .collect())
        }
        file => read_points(std::path::Path::new(file.trim_start_matches("file:"))),
    }
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child: one solve, printing `RESULT secs cost optimal lower_bound vmhwm_kb`.
fn child(solver: &str, kind: &str, n: usize) -> Result<(), String> {
    let pts = make_input(kind, n)?;
    let shape = GridShape::for_count(pts.len(), 1.0);
    let solver = match solver {
        "exact" => Solver::Exact,
        "fast" => Solver::Fast,
        "km" => Solver::Hungarian,
        _ => Solver::Auto,
    };
    let t = Instant::now();
    let a = assign(&pts, shape, solver, None).map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "RESULT {secs} {} {} {} {}",
        a.cost,
        a.optimal,
        a.lower_bound,
        vm_hwm_kb()
    );
    Ok(())
}

struct Run {
    secs: f64,
    cost: f64,
    optimal: bool,
    lower: f64,
    mb: f64,
}

fn run_child(solver: &str, kind: &str, n: usize) -> Result<Run, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--child", solver, kind, &n.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .ok_or_else(|| {
            format!(
                "{solver} {kind} {n}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let num = |k: usize| {
        f.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    Ok(Run {
        secs: num(1),
        cost: num(2),
        optimal: f.get(3) == Some(&"true"),
        lower: num(4),
        mb: num(5) / 1024.0,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let n = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(0);
        if let Err(e) = child(&args[2], &args[3], n) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }
    let mut files = Vec::new();
    let (mut km_max, mut max_n) = (None::<usize>, 50_000usize);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--points" => files.push(value()),
            "--km-max" => km_max = value().parse().ok(),
            "--max-n" => max_n = value().parse().unwrap_or(max_n),
            other => {
                eprintln!("unknown argument {other}; see the doc comment of bench_grid.rs");
                std::process::exit(2);
            }
        }
    }
    let mut inputs: Vec<(String, usize)> = Vec::new();
    for n in [1024, 4096, 10000, 50000] {
        inputs.push(("uniform".into(), n));
    }
    for n in [1024, 4096, 10000] {
        inputs.push(("tsne".into(), n));
    }
    for n in [20000, 50000] {
        inputs.push(("resample".into(), n));
        inputs.push(("gmm".into(), n));
    }
    inputs.retain(|(_, n)| *n <= max_n);
    for f in files {
        match make_input(&format!("file:{f}"), 0) {
            Ok(p) => inputs.push((format!("file:{f}"), p.len())),
            Err(e) => eprintln!("skipping {e}"),
        }
    }
    println!("| input | n | grid | exact: time | exact: cost | fast: time | fast: cost (vs exact) | kuhn_munkres: time | kuhn_munkres: cost | peak RSS exact / fast / km |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (kind, n) in inputs {
        let label = match kind.as_str() {
            "uniform" => "uniform random".to_string(),
            "tsne" => "clustered t-SNE (shared, real)".to_string(),
            "resample" => "clustered, synthetic (10k t-SNE resampled + jitter)".to_string(),
            "gmm" => "clustered, synthetic (20 anisotropic Gaussians)".to_string(),
            f => f.to_string(),
        };
        let shape = GridShape::for_count(n, 1.0);
        let exact = run_child("exact", &kind, n);
        let fast = run_child("fast", &kind, n);
        let km_limit = km_max.unwrap_or(if kind == "uniform" { 10_000 } else { 4096 });
        let km = (n <= km_limit).then(|| run_child("km", &kind, n));
        let cell = |r: &Result<Run, String>, what: &dyn Fn(&Run) -> String| match r {
            Ok(r) => what(r),
            Err(e) => format!("error: {}", e.trim()),
        };
        let exact_cost = exact.as_ref().map(|r| r.cost).unwrap_or(f64::NAN);
        let mb = |r: Option<&Result<Run, String>>| match r {
            Some(Ok(r)) => format!("{:.0} MB", r.mb),
            Some(Err(_)) => "error".into(),
            None => "-".into(),
        };
        println!(
            "| {label} | {n} | {}x{} | {} | {} | {} | {} | {} | {} | {} / {} / {} |",
            shape.cols,
            shape.rows,
            cell(&exact, &|r| format!("{:.3} s", r.secs)),
            cell(&exact, &|r| format!(
                "{:.6}{}",
                r.cost,
                if r.optimal {
                    " (proven)"
                } else {
                    " (NOT proven)"
                }
            )),
            cell(&fast, &|r| format!("{:.3} s", r.secs)),
            cell(&fast, &|r| format!(
                "{:.6} ({:+.3}%, bound {:.2}%)",
                r.cost,
                100.0 * (r.cost / exact_cost - 1.0),
                100.0 * (r.cost / r.lower - 1.0)
            )),
            match &km {
                Some(r) => cell(r, &|r| format!("{:.3} s", r.secs)),
                None => "skipped".into(),
            },
            match &km {
                Some(r) => cell(r, &|r| format!(
                    "{:.6} ({})",
                    r.cost,
                    if (r.cost - exact_cost).abs() <= 1e-9 * r.cost {
                        "= exact"
                    } else {
                        "DIFFERS"
                    }
                )),
                None => "skipped".into(),
            },
            mb(Some(&exact)),
            mb(Some(&fast)),
            mb(km.as_ref()),
        );
    }
}
