//! `image-tsne-live render` end to end: a layout JSON with real images and a missing file gives
//! a PNG of the whole layout (t-SNE and grid), the missing image drawn as a placeholder, and
//! each image's colour where the layout puts it.

mod common;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
}

/// A solid-colour 64×64 PNG.
fn solid(path: &std::path::Path, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(64, 64, image::Rgb(rgb))
        .save(path)
        .unwrap();
}

#[test]
fn render_a_layout_with_a_missing_file_in_both_views() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    solid(&dir.join("red.png"), [255, 0, 0]);
    solid(&dir.join("green.png"), [0, 255, 0]);
    solid(&dir.join("blue.png"), [0, 0, 255]);
    // relative paths, an unnormalised point set and a missing file (ml4a-style input)
    let json = r#"[
        {"path": "red.png", "point": [0, 0]},
        {"path": "green.png", "point": [10, 0]},
        {"path": "blue.png", "point": [0, 10]},
        {"path": "gone.png", "point": [10, 10]}
    ]"#;
    std::fs::write(dir.join("layout.json"), json).unwrap();
    for grid in [false, true] {
        let out = dir.join(if grid { "grid.png" } else { "tsne.png" });
        let mut cmd = bin();
        cmd.arg("render")
            .arg(dir.join("layout.json"))
            .arg("-o")
            .arg(&out)
            .args(["--background", "#000000", "--no-cache"]);
        if grid {
            cmd.arg("--grid");
        }
        let o = cmd.env("XDG_RUNTIME_DIR", dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert!(stderr.contains("1 missing"), "{stderr}");
        assert!(
            stderr.contains("gone.png"),
            "the missing file is named: {stderr}"
        );
        let img = image::open(&out).unwrap().to_rgb8();
        let (w, h) = img.dimensions();
        assert!(w > 64 && h > 64, "{w}x{h}");
        // where is each colour? (centroid of its pixels)
        let centroid = |want: [u8; 3]| {
            let (mut sx, mut sy, mut n) = (0f64, 0f64, 0f64);
            for (x, y, p) in img.enumerate_pixels() {
                if (0..3).all(|c| (p[c] as i32 - want[c] as i32).abs() < 40) {
                    sx += x as f64;
                    sy += y as f64;
                    n += 1.0;
                }
            }
            assert!(
                n > 100.0,
                "colour {want:?} not drawn ({n} px) in {}",
                out.display()
            );
            [sx / n / w as f64, sy / n / h as f64]
        };
        let r = centroid([255, 0, 0]);
        let g = centroid([0, 255, 0]);
        let b = centroid([0, 0, 255]);
        // red top-left, green to its right, blue below it (y grows down), in both layouts
        assert!(
            g[0] > r[0] + 0.2 && (g[1] - r[1]).abs() < 0.1,
            "red {r:?} green {g:?}"
        );
        assert!(
            b[1] > r[1] + 0.2 && (b[0] - r[0]).abs() < 0.1,
            "red {r:?} blue {b:?}"
        );
        // the placeholder (neutral grey) sits bottom-right
        let mut grey = 0;
        for (x, y, p) in img.enumerate_pixels() {
            let neutral =
                p[0] > 30 && p[0] < 200 && p[0].abs_diff(p[1]) < 6 && p[1].abs_diff(p[2]) < 6;
            if neutral && x > w / 2 && y > h / 2 {
                grey += 1;
            }
        }
        assert!(grey > 100, "no placeholder drawn ({grey} grey px)");
    }
}

#[test]
fn render_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .arg("render")
        .arg(tmp.path().join("nope.json"))
        .arg("-o")
        .arg(tmp.path().join("x.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("nope.json"), "{stderr}");
    let json = tmp.path().join("empty.json");
    std::fs::write(&json, "[]").unwrap();
    let o = bin()
        .arg("render")
        .arg(&json)
        .arg("-o")
        .arg(tmp.path().join("x.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no usable entries"));
    assert!(!tmp.path().join("x.png").exists());
}
