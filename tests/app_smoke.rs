//! The real app in a real window: start it on the bundled demo set under a virtual X display
//! (Xvfb, started here when DISPLAY is not set), let it analyze, press `G` (glide to the grid)
//! and `S` (whole-layout screenshot), capture the last frame, quit — then check both PNGs.

mod common;

use common::{app_command, display, signal, spread, wait_for};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Wait for a scripted run to end; it must succeed without a panic. Returns its stderr.
fn finished_ok(mut child: Child) -> String {
    let status = wait_for(&mut child, Duration::from_secs(600));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(status.success(), "app failed: {status}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The captured frame exists and shows images (many colours, contrast), not a blank window.
fn captured_frame(path: &Path, stderr: &str) -> image::RgbaImage {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("no captured frame ({e}); stderr:\n{stderr}"))
        .to_rgba8();
    let (colours, sd) = spread(&img);
    assert!(
        colours > 200 && sd > 10.0,
        "the frame looks blank: {colours} colours, sd {sd}"
    );
    img
}

#[test]
fn app_opens_the_demo_set_toggles_the_grid_and_saves_a_screenshot() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let frame = tmp.path().join("frame.png");
    let shots = tmp.path().join("shots");
    std::fs::create_dir(&shots).unwrap();
    let child = app_command(&display, tmp.path())
        .arg("--screenshot-dir")
        .arg(&shots)
        .args([
            "--size",
            "1024x700",
            "--press",
            "gs",
            "--quit-after",
            "120",
            "--capture-on-quit",
        ])
        .arg(&frame)
        .spawn()
        .expect("start the app");
    let stderr = finished_ok(child);
    let img = captured_frame(&frame, &stderr);
    assert!(
        img.width() >= 1000 && img.height() >= 680,
        "{}x{}",
        img.width(),
        img.height()
    );

    let shots: Vec<_> = std::fs::read_dir(&shots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(shots.len(), 1, "one screenshot from S: {shots:?}");
    let shot = image::open(&shots[0]).unwrap().to_rgba8();
    // the whole 360-image grid (19 × 19 cells), each cell at the emoji's own 64 px: larger than
    // the window, and not blown up beyond the source pixels
    assert!(
        shot.width() >= 19 * 64 && shot.height() >= 19 * 64,
        "{}x{}",
        shot.width(),
        shot.height()
    );
    assert!(
        shot.width() < 19 * 64 + 200,
        "{}x{}",
        shot.width(),
        shot.height()
    );
    let (colours, sd) = spread(&shot);
    assert!(
        colours > 500 && sd > 10.0,
        "the screenshot looks blank: {colours} colours, sd {sd}"
    );
    // The screenshot was rendered a tile per frame: the window kept presenting frames.
    let line = stderr
        .lines()
        .find(|l| l.starts_with("screenshot ") && l.contains("tiles over"))
        .unwrap_or_else(|| panic!("no screenshot report in:\n{stderr}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (tiles, frames) = (nums[nums.len() - 2], nums[nums.len() - 1]);
    assert!(tiles > 1, "{line}");
    assert!(
        frames >= tiles,
        "frames went on while the tiles rendered: {line}"
    );
}

#[test]
fn gpu_errors_and_a_lost_device_do_not_stop_the_app() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let frame = tmp.path().join("frame.png");
    let stats = tmp.path().join("stats.jsonl");
    let child = app_command(&display, tmp.path())
        .args(["--size", "800x600", "--grid", "--quit-after", "150"])
        .args([
            "--inject-gpu-fault",
            "upload@20",
            "--inject-gpu-fault",
            "lost@40",
            "--inject-gpu-fault",
            "oom@60",
        ])
        .arg("--stats")
        .arg(&stats)
        .arg("--capture-on-quit")
        .arg(&frame)
        .spawn()
        .expect("start the app");
    let stderr = finished_ok(child);
    assert_eq!(
        stderr.matches("GPU error (Validation)").count(),
        1,
        "the invalid upload is logged once:\n{stderr}"
    );
    assert!(stderr.contains("GPU resources rebuilt"), "{stderr}");
    // out of memory: the detail tier (1536 MiB less the emoji atlas) is halved
    assert_eq!(
        stderr
            .matches("out of GPU memory: the detail tier gets")
            .count(),
        1,
        "{stderr}"
    );
    // 110 frames after the simulated loss the rebuilt renderer draws every image again
    captured_frame(&frame, &stderr);
}

#[test]
fn sigterm_stops_the_app_cleanly_with_status_143() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let stats = tmp.path().join("stats.jsonl");
    let mut child = app_command(&display, tmp.path())
        .args(["--size", "640x480"])
        .arg("--stats")
        .arg(&stats)
        .spawn()
        .expect("start the app");
    // the stats file is opened once the window is up
    let start = Instant::now();
    while !stats.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the app did not start"
        );
        if let Some(s) = child.try_wait().unwrap() {
            panic!("the app ended early: {s}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    signal(&child, "TERM");
    let status = wait_for(&mut child, Duration::from_secs(120));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
