//! The real app in a real window: start it on the bundled demo set under a virtual X display
//! (Xvfb, started here when DISPLAY is not set), let it analyze, press `G` (glide to the grid)
//! and `S` (whole-layout screenshot), capture the last frame, quit — then check both PNGs.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Xvfb(Option<Child>);

impl Drop for Xvfb {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A display to use: `$DISPLAY`, or a fresh Xvfb on a free display number.
fn display() -> (String, Xvfb) {
    if let Some(d) = std::env::var_os("DISPLAY").filter(|d| !d.is_empty()) {
        return (d.to_string_lossy().into_owned(), Xvfb(None));
    }
    for n in 90..120 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let child = Command::new("Xvfb")
            .arg(format!(":{n}"))
            .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is needed for this test (apt-get install xvfb), or set DISPLAY");
        let start = Instant::now();
        while !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "Xvfb :{n} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        return (format!(":{n}"), Xvfb(Some(child)));
    }
    panic!("no free X display number");
}

fn spread(img: &image::RgbaImage) -> (usize, f64) {
    let mut colours = std::collections::HashSet::new();
    let mut sum = 0.0;
    let mut sum2 = 0.0;
    for p in img.pixels() {
        colours.insert([p[0] >> 3, p[1] >> 3, p[2] >> 3]);
        let l = (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0;
        sum += l;
        sum2 += l * l;
    }
    let n = (img.width() * img.height()) as f64;
    (
        colours.len(),
        (sum2 / n - (sum / n).powi(2)).max(0.0).sqrt(),
    )
}

#[test]
fn app_opens_the_demo_set_toggles_the_grid_and_saves_a_screenshot() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let frame = tmp.path().join("frame.png");
    let shots = tmp.path().join("shots");
    std::fs::create_dir(&shots).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
        .env("DISPLAY", &display)
        .env("XDG_RUNTIME_DIR", tmp.path())
        .arg("--cache-dir")
        .arg(tmp.path().join("cache"))
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
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the app");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("the app did not quit within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "app failed: {status}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let img = image::open(&frame)
        .unwrap_or_else(|e| panic!("no captured frame ({e}); stderr:\n{stderr}"))
        .to_rgba8();
    assert!(
        img.width() >= 1000 && img.height() >= 680,
        "{}x{}",
        img.width(),
        img.height()
    );
    let (colours, sd) = spread(&img);
    assert!(
        colours > 200 && sd > 10.0,
        "the frame looks blank: {colours} colours, sd {sd}"
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
}
