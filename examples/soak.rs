//! Soak test of an installation: the real app in gallery mode under Xvfb for a long time,
//! sampled every 10 s (frame times, RSS, GPU bytes and errors), judged on what an unattended
//! installation needs. Prints the table and the verdicts; exits 1 when a verdict fails.
//!
//! ```sh
//! cargo build --release && cargo run --release --example soak -- [--minutes 30] [--images 2000]
//!     [--dataset ../shared/datasets/emoji-google] [--size 1280x720] [--work target/soak]
//! ```
//! The CI runs the same soak for 2 minutes (`tests/soak.rs`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/shared.rs"]
mod shared;

use common::soak::{run_soak, SoakConfig};
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut minutes = 30.0f64;
    let mut images = 2000usize;
    let mut dataset: Option<PathBuf> = None;
    let mut size = "1280x720".to_string();
    let mut work = PathBuf::from("target/soak");
    let mut warmup = 120.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("{a} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--minutes" => minutes = value().parse().expect("--minutes: a number"),
            "--images" => images = value().parse().expect("--images: a number"),
            "--dataset" => dataset = Some(PathBuf::from(value())),
            "--size" => size = value(),
            "--work" => work = PathBuf::from(value()),
            "--warmup" => warmup = value().parse().expect("--warmup: seconds"),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let dataset = dataset.unwrap_or_else(|| shared::shared_dir().join("datasets/emoji-google"));
    let app = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("image-tsne-live")))
        .filter(|p| p.exists())
        .expect("build the app first: cargo build --release");
    std::fs::create_dir_all(&work).expect("work folder");
    let (display, _xvfb) = common::display();
    let cfg = SoakConfig {
        app,
        dataset,
        images,
        duration: Duration::from_secs_f64(minutes * 60.0),
        warmup,
        size,
        work,
        display,
    };
    eprintln!(
        "soak: {} images, {minutes} min, {} window, gallery mode; stats every 10 s",
        cfg.images, cfg.size
    );
    let report = run_soak(&cfg);
    println!("{}", report.table());
    let mut ok = true;
    for (what, passed, detail) in report.verdicts() {
        println!(
            "- {} {what}: {detail}",
            if passed { "PASS" } else { "FAIL" }
        );
        ok &= passed;
    }
    println!(
        "- median frame after warm-up: {:.1?} ms",
        report.median_frame_ms()
    );
    if !ok {
        eprintln!("app stderr (tail):\n{}", report.stderr_tail);
        std::process::exit(1);
    }
}
