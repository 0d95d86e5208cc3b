//! Several outputs, against the real app under Xvfb (started here when `DISPLAY` is not set):
//! a projector wall of three windows, its captures stitched, equals one wide window showing the
//! same view — in the overlaps the two slices' light sums to the wide render's, each slice
//! fading along the blend ramp; a mirror equals the main view; a mirror of the wall shows the
//! whole wall, letterboxed; `/lightbox i` opens the image large on every output. Captures are taken over OSC once the map is in and the start-up
//! notices are gone.

mod common;

use common::osc::Controller;
use common::{app_command, demo_dir, display, signal, wait_for, wait_until};
use image::{GenericImageView, RgbaImage};
use image_tsne_live::render::atlas::srgb_u8_to_linear;
use image_tsne_live::render::edge_blend::ramp;
use rosc::OscType;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A layout of the demo set's first 12 images of each category, in one cluster per category
/// on a 3 × 3 pattern (points from a fixed generator: the same file every run).
fn layout(dir: &Path) -> PathBuf {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut jitter = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut categories: Vec<PathBuf> = std::fs::read_dir(demo_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    let mut entries = Vec::new();
    for (c, cat) in categories.iter().enumerate() {
        let name = cat.file_name().unwrap().to_string_lossy().into_owned();
        for path in common::demo_images(&name).into_iter().take(12) {
            let (cx, cy) = (
                (c % 3) as f64 / 3.0 + 1.0 / 6.0,
                (c / 3) as f64 / 3.0 + 1.0 / 6.0,
            );
            let point = [
                (cx + 0.2 * jitter()).clamp(0.0, 1.0),
                (cy + 0.2 * jitter()).clamp(0.0, 1.0),
            ];
            entries.push(serde_json::json!({"path": path, "point": point}));
        }
    }
    assert_eq!(
        entries.len(),
        108,
        "9 demo categories of at least 12 images"
    );
    let file = dir.join("layout.json");
    std::fs::write(&file, serde_json::to_string(&entries).unwrap()).unwrap();
    file
}

/// The app running on the test layout with its outputs, driven over OSC.
struct Show {
    child: std::process::Child,
    log: PathBuf,
    osc: Controller,
    dir: PathBuf,
    outputs: usize,
}

impl Show {
    /// Starts the app on `layout` with `args` (and `outputs` windows) and waits until its
    /// heartbeat reports all 108 images shown and the start-up notices have faded.
    fn start(display: &str, dir: &Path, layout: &Path, args: &[&str], outputs: usize) -> Show {
        let log = dir.join("stderr.txt");
        let osc = Controller::new();
        let child = app_command(display, dir)
            .arg(layout)
            .args([
                "--hide-gui",
                "--settle-seconds",
                "0",
                "--background",
                "#101014",
            ])
            .args(osc.app_args())
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the app");
        wait_until("every image shown", &log, || {
            osc.inbox
                .lock()
                .unwrap()
                .iter()
                .any(|(_, m)| m.addr == "/heartbeat" && m.args.get(1) == Some(&OscType::Int(108)))
        });
        // the "108 images laid out" notice shows for 4 s, on the main window only
        std::thread::sleep(Duration::from_secs(6));
        Show {
            child,
            log,
            osc,
            dir: dir.to_path_buf(),
            outputs,
        }
    }

    /// Captures every output over OSC (`NAME.png`, `NAME-k.png`); the main window's first.
    fn capture(&self, name: &str) -> Vec<RgbaImage> {
        let path = self.dir.join(format!("{name}.png"));
        self.osc.send(
            "/capture",
            vec![OscType::String(path.to_string_lossy().into_owned())],
        );
        let paths: Vec<PathBuf> = (0..self.outputs)
            .map(|k| match k {
                0 => path.clone(),
                k => self.dir.join(format!("{name}-{k}.png")),
            })
            .collect();
        let mut images = Vec::new();
        wait_until("a capture of every output", &self.log, || {
            // written by nannou's capture threads: wait until each reads back whole
            images = paths
                .iter()
                .filter_map(|p| image::open(p).ok().map(|i| i.to_rgba8()))
                .collect();
            images.len() == self.outputs
        });
        images
    }

    /// Ends the app with SIGTERM: it exits with 143 and did not panic.
    fn stop(mut self) {
        signal(&self.child, "TERM");
        let status = wait_for(&mut self.child, Duration::from_secs(120));
        let stderr = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert_eq!(status.code(), Some(143), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Runs a [`Show`], and for each step sends its OSC message (if any) and captures every
/// output. Returns per step the captures, the main window's first.
fn captures(
    display: &str,
    dir: &Path,
    layout: &Path,
    args: &[&str],
    outputs: usize,
    steps: &[Option<(&str, OscType)>],
) -> Vec<Vec<RgbaImage>> {
    let show = Show::start(display, dir, layout, args, outputs);
    let mut shots = Vec::new();
    for (j, step) in steps.iter().enumerate() {
        if let Some((addr, arg)) = step {
            show.osc.send(addr, vec![arg.clone()]);
            std::thread::sleep(Duration::from_millis(1500));
        }
        shots.push(show.capture(&format!("step{j}")));
    }
    show.stop();
    shots
}

fn lin(img: &RgbaImage, x: u32, y: u32) -> [f32; 3] {
    let p = img.get_pixel(x, y);
    [0, 1, 2].map(|c| srgb_u8_to_linear(p[c]))
}

fn luma(c: [f32; 3]) -> f32 {
    0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
}

#[test]
fn a_wall_of_three_stitched_equals_one_wide_render_and_a_mirror_equals_the_main_view() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    // three slices 300 × 400 overlapping by 60: a canvas of 780 × 400; and a mirror of it
    let wall_dir = tmp.path().join("wall");
    std::fs::create_dir_all(&wall_dir).unwrap();
    let wall = captures(
        &display,
        &wall_dir,
        &layout,
        &[
            "--outputs",
            "wall,wall,wall,mirror:390x300",
            "--size",
            "300x400",
            "--wall-overlap",
            "60",
        ],
        4,
        &[None, Some(("/lightbox", OscType::Int(40)))],
    );
    let (wall, lightbox) = (&wall[0], &wall[1]);
    let (w, o) = (300u32, 60u32);
    for (k, img) in wall.iter().take(3).enumerate() {
        assert_eq!(img.dimensions(), (w, 400), "slice {k}");
    }
    // the same view in one wide window, and its mirror
    let wide_dir = tmp.path().join("wide");
    std::fs::create_dir_all(&wide_dir).unwrap();
    let wide = captures(
        &display,
        &wide_dir,
        &layout,
        &["--outputs", "view,mirror", "--size", "780x400"],
        2,
        &[None],
    );
    let wide = &wide[0];
    let one = &wide[0];
    assert_eq!(one.dimensions(), (780, 400));

    // stitched: every canvas pixel is the sum, in light, of the slices that show it
    let (mut worst, mut sum_err, mut n) = (0f32, 0f64, 0u64);
    let (mut ramp_checked, mut ramp_err) = (0u32, 0f32);
    for y in 0..400 {
        for x in 0..780u32 {
            let want = lin(one, x, y);
            let mut got = [0f32; 3];
            for (k, slice) in wall.iter().take(3).enumerate() {
                let left = k as u32 * (w - o);
                if (left..left + w).contains(&x) {
                    let p = lin(slice, x - left, y);
                    for c in 0..3 {
                        got[c] += p[c];
                    }
                    // in an overlap with content, each slice shows its share of the ramp
                    let inside = x - left;
                    let t = if k > 0 && inside < o {
                        Some((inside as f32 + 0.5) / o as f32)
                    } else if k < 2 && inside >= w - o {
                        Some((w - inside) as f32 / o as f32 - 0.5 / o as f32)
                    } else {
                        None
                    };
                    if let Some(t) = t.filter(|_| luma(want) > 0.15) {
                        ramp_err = ramp_err.max((luma(p) / luma(want) - ramp(t)).abs());
                        ramp_checked += 1;
                    }
                }
            }
            for c in 0..3 {
                let e = (got[c] - want[c]).abs();
                worst = worst.max(e);
                sum_err += e as f64;
                n += 1;
            }
        }
    }
    let mean = sum_err / n as f64;
    eprintln!(
        "wall stitched vs one wide render: max |Δ| {worst:.4}, mean {mean:.6} (linear); \
         {ramp_checked} overlap pixels with content, ramp share off by at most {ramp_err:.3}"
    );
    assert!(worst < 0.03 && mean < 0.002, "max {worst}, mean {mean}");
    assert!(
        ramp_checked > 300,
        "the map reaches into the overlaps ({ramp_checked} content pixels there)"
    );
    assert!(
        ramp_err < 0.08,
        "each slice fades along the ramp (off by {ramp_err})"
    );

    // a mirror equals the main view
    let (a, b) = (&wide[0], &wide[1]);
    assert_eq!(a.dimensions(), b.dimensions());
    let diff = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs())
        .max()
        .unwrap_or(0);
    assert!(diff <= 2, "mirror and main view differ by {diff}");

    // the wall's mirror: the whole 780 × 400 canvas at half size, dimmed letterbox above and
    // below, the map in between
    let m = &wall[3];
    assert_eq!(m.dimensions(), (390, 300));
    let bg = srgb_u8_to_linear(16);
    for (x, y) in [(5, 5), (380, 40), (200, 260), (10, 295)] {
        let l = lin(m, x, y)[0];
        assert!(
            (l - 0.3 * bg).abs() < 0.002,
            "letterbox at {x},{y}: {l} vs {}",
            0.3 * bg
        );
    }
    assert!(
        (lin(m, 5, 150)[0] - bg).abs() < 0.002,
        "the canvas' own background"
    );
    let content = (55..245)
        .flat_map(|y| (0..390).map(move |x| (x, y)))
        .filter(|&(x, y)| luma(lin(m, x, y)) > 0.05)
        .count();
    assert!(
        content > 2000,
        "the mirror shows the map ({content} bright pixels)"
    );

    // `/lightbox 40`: on every output the map dims and the image shows large at the canvas'
    // centre — across the middle slice, and in the middle of the mirror
    let mean = |img: &RgbaImage, x0: u32, y0: u32, x1: u32, y1: u32| -> [f32; 3] {
        let mut sum = [0f32; 3];
        for y in y0..y1 {
            for x in x0..x1 {
                let p = lin(img, x, y);
                for c in 0..3 {
                    sum[c] += p[c];
                }
            }
        }
        sum.map(|v| v / ((x1 - x0) * (y1 - y0)) as f32)
    };
    // (above the file name the main window prints at its foot)
    let dim = mean(&lightbox[0], 0, 0, 150, 300)[0] / mean(&wall[0], 0, 0, 150, 300)[0];
    assert!(
        (0.15..0.3).contains(&dim),
        "the map behind the lightbox dims: ×{dim:.3}"
    );
    // the middle slice's centre is the canvas' (390, 200); the mirror's is (195, 150)
    let before = mean(&wall[1], 90, 140, 210, 260);
    let centre = mean(&lightbox[1], 90, 140, 210, 260);
    let mirrored = mean(&lightbox[3], 165, 120, 225, 180);
    let changed: f32 = (0..3).map(|c| (centre[c] - before[c]).abs()).sum();
    let agree = (0..3)
        .map(|c| (centre[c] - mirrored[c]).abs())
        .fold(0.0, f32::max);
    eprintln!(
        "lightbox: map dimmed ×{dim:.3}; centre {centre:?} (was {before:?}), mirror {mirrored:?}"
    );
    assert!(changed > 0.03, "the image shows at the centre");
    assert!(
        agree < 0.05,
        "the mirror shows the same image at its centre"
    );
}

/// X window ids whose title contains `title` (xdotool; the windows are the app's).
fn windows_titled(display: &str, title: &str) -> Vec<String> {
    let out = std::process::Command::new("xdotool")
        .env("DISPLAY", display)
        .args(["search", "--name", title])
        .output()
        .expect("xdotool is needed for this test (apt-get install xdotool)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn xdotool(display: &str, args: &[&str]) {
    let status = std::process::Command::new("xdotool")
        .env("DISPLAY", display)
        .args(args)
        .status()
        .expect("run xdotool");
    assert!(status.success(), "xdotool {args:?}");
}

/// A touch screen or mouse at the front desk steers the show: the wheel over a mirror zooms
/// the view on every output around the point under the pointer, and a click on an image there
/// opens the lightbox on every output.
#[test]
fn the_pointer_in_a_mirror_steers_every_output() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    let show = Show::start(
        &display,
        tmp.path(),
        &layout,
        &["--outputs", "view,mirror", "--size", "400x300"],
        2,
    );
    // the main window out of the way, the mirror where the pointer goes
    let main = windows_titled(&display, "image-tsne-live");
    let mirror = windows_titled(&display, "output 1");
    assert_eq!(mirror.len(), 1, "one mirror window: {mirror:?}");
    for w in main.iter().filter(|w| !mirror.contains(w)) {
        xdotool(&display, &["windowmove", w, "600", "0"]);
    }
    xdotool(&display, &["windowmove", &mirror[0], "0", "0"]);
    std::thread::sleep(Duration::from_millis(500));
    let shot = |name: &str| show.capture(name);
    let before = shot("before");
    // five wheel steps up over the mirror's centre: closer, on both outputs
    xdotool(&display, &["mousemove", "200", "150"]);
    for _ in 0..5 {
        xdotool(&display, &["click", "4"]);
    }
    std::thread::sleep(Duration::from_secs(2));
    let zoomed = shot("zoomed");
    let bg = [16u8, 16, 20];
    let share = |img: &RgbaImage| {
        let is_bg = |p: &image::Rgba<u8>| (0..3).all(|c| (p[c] as i32 - bg[c] as i32).abs() <= 6);
        img.pixels().filter(|p| is_bg(p)).count() as f64 / img.pixels().len() as f64
    };
    eprintln!(
        "background share: main {:.3} → {:.3}, mirror {:.3} → {:.3}",
        share(&before[0]),
        share(&zoomed[0]),
        share(&before[1]),
        share(&zoomed[1])
    );
    assert!(
        share(&zoomed[0]) + 0.1 < share(&before[0]),
        "the wheel over the mirror zoomed the main view in"
    );
    let diff = zoomed[0]
        .as_raw()
        .iter()
        .zip(zoomed[1].as_raw())
        .map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs())
        .max()
        .unwrap_or(0);
    assert!(diff <= 2, "the mirror still equals the main view ({diff})");
    // a click on an image near the mirror's centre: the lightbox on both outputs
    let m = &zoomed[1];
    let solid = |x: u32, y: u32| {
        (x.saturating_sub(3)..x + 4).all(|xx| {
            (y.saturating_sub(3)..y + 4).all(|yy| {
                let p = m.get_pixel(xx.min(m.width() - 1), yy.min(m.height() - 1));
                (0..3).any(|c| (p[c] as i32 - bg[c] as i32).abs() > 30)
            })
        })
    };
    let (cx, cy) = (0..120)
        .flat_map(|r| (0..8 * r.max(1)).map(move |i| (r, i)))
        .map(|(r, i)| {
            let a = i as f32 / (8 * r.max(1)) as f32 * std::f32::consts::TAU;
            (
                (200.0 + r as f32 * a.cos()).clamp(5.0, 394.0) as u32,
                (150.0 + r as f32 * a.sin()).clamp(5.0, 294.0) as u32,
            )
        })
        .find(|&(x, y)| solid(x, y))
        .expect("an image near the mirror's centre");
    // (moved off and back: the pointer's arrival is an event even where it already was)
    xdotool(&display, &["mousemove", "5", "5"]);
    xdotool(&display, &["mousemove", &cx.to_string(), &cy.to_string()]);
    std::thread::sleep(Duration::from_millis(500));
    let at = std::process::Command::new("xdotool")
        .env("DISPLAY", &display)
        .args(["getmouselocation", "--shell"])
        .output()
        .expect("xdotool getmouselocation");
    let at = String::from_utf8_lossy(&at.stdout).into_owned();
    assert!(
        at.contains(&format!("WINDOW={}", mirror[0])),
        "the pointer is over the mirror: {at}"
    );

    xdotool(&display, &["click", "1"]);
    std::thread::sleep(Duration::from_secs(2));
    let opened = shot("opened");
    let mean = |img: &RgbaImage| {
        img.pixels()
            .map(|p| p[0] as f64 + p[1] as f64 + p[2] as f64)
            .sum::<f64>()
            / img.pixels().len() as f64
    };
    // the corners of the view dim (the map behind the lightbox)
    let corner = |img: &RgbaImage| {
        let c = img.view(0, 0, 60, 60).to_image();
        mean(&c)
    };
    eprintln!(
        "corners: main {:.1} → {:.1}, mirror {:.1} → {:.1}",
        corner(&zoomed[0]),
        corner(&opened[0]),
        corner(&zoomed[1]),
        corner(&opened[1])
    );
    for k in 0..2 {
        assert!(
            corner(&opened[k]) < 0.65 * corner(&zoomed[k]),
            "output {k}: the lightbox dims the map"
        );
    }
    show.stop();
}
