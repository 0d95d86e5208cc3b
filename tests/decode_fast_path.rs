//! The fast decode — one DCT-scaled decode of a big JPEG feeding both the CNN input and the
//! thumbnail — gives the same maps as a full decode: on real photo crops, at their own size
//! and upscaled to 12 and 24 Mpx camera photos, the CNN features stay at cosine similarity ≥ 0.99
//! (median) and the ImageNet top-1 class agrees on ≥ 95 % of the photos; PNGs (the emoji) are
//! decoded exactly as before; odd JPEGs (progressive, CMYK, cut short) keep their outcomes.
//!
//! Data: `tests/fixtures/photos` (seven 1600×1067 crops of CC-BY-SA wallpapers, one stored
//! rotated with EXIF orientation 6) and the bundled demo emoji (`assets/demo`).

use image::{DynamicImage, RgbImage};
use image_tsne_live::features::{argmax, FeatureModel};
use image_tsne_live::images::{self, Cover, Preprocess};
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)))
        .collect();
    v.sort();
    v
}

fn fixture_photos() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos");
    let v = files_under(&dir, "jpg");
    assert_eq!(v.len(), 7, "photo fixtures missing in {}", dir.display());
    v
}

/// A baseline (or progressive) JPEG as a camera or an editor writes it (libjpeg-turbo, q90,
/// 4:2:0), optionally with an EXIF orientation.
fn encode_jpeg(img: &RgbImage, progressive: bool, orientation: Option<u8>) -> Vec<u8> {
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    c.set_size(img.width() as usize, img.height() as usize);
    c.set_fastest_defaults();
    c.set_quality(90.0);
    if progressive {
        c.set_progressive_mode();
    }
    let mut c = c.start_compress(Vec::new()).unwrap();
    if let Some(o) = orientation {
        let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        exif.extend_from_slice(&[o, 0, 0, 0, 0, 0, 0, 0]);
        c.write_marker(mozjpeg::Marker::APP(1), &exif);
    }
    c.write_scanlines(img.as_raw()).unwrap();
    c.finish().unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn mean_abs_diff(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y) as u64)
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn photos_give_the_same_features_and_classes_scaled_as_in_full() {
    let model = FeatureModel::bundled().unwrap();
    let prep = Preprocess {
        input_size: model.input_size(),
        ..Preprocess::default()
    };
    // each fixture at its own size (decoded at 1/2) and as 12 and 24 Mpx camera photos (1/4, 1/8)
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for path in fixture_photos() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let stored = image::load_from_memory(&bytes).unwrap().to_rgb8(); // pixels as stored
        let (w, h) = stored.dimensions();
        let orientation = name.contains("exif6").then_some(6);
        for (mpx, long, short) in [(24, 6000, 4000), (12, 4000, 2667)] {
            let (bw, bh) = if w >= h { (long, short) } else { (short, long) };
            let big =
                image::imageops::resize(&stored, bw, bh, image::imageops::FilterType::Triangle);
            cases.push((
                format!("{name} at {mpx} Mpx"),
                encode_jpeg(&big, false, orientation),
            ));
        }
        cases.push((name, bytes));
    }

    let mut cos = Vec::new();
    let mut same_top1 = 0;
    for (name, bytes) in &cases {
        let fast_img = images::decode_covering(bytes, prep.cover()).unwrap();
        let full_img = images::decode_bytes(bytes).unwrap();
        // the fast path really is scaled, and upright like the full decode
        assert!(
            fast_img.width() * 2 <= full_img.width(),
            "{name}: not scaled ({}×{} vs {}×{})",
            fast_img.width(),
            fast_img.height(),
            full_img.width(),
            full_img.height()
        );
        assert_eq!(
            fast_img.width() > fast_img.height(),
            full_img.width() > full_img.height(),
            "{name}: orientation differs"
        );
        // ... and still covers the CNN's crop (twice over) and the thumbnail
        assert!(
            fast_img.width().min(fast_img.height()) >= 2 * prep.input_size,
            "{name}"
        );
        assert!(
            fast_img.width().max(fast_img.height()) >= prep.thumb_size,
            "{name}"
        );

        let fast = images::cnn_input(&fast_img, &prep);
        let full = images::cnn_input(&full_img, &prep);
        let c = cosine(
            &model.features(&fast).unwrap(),
            &model.features(&full).unwrap(),
        );
        let top = |img: &RgbImage| argmax(&model.logits(img).unwrap().expect("logits"));
        let agree = top(&fast) == top(&full);
        println!(
            "{name}: cosine {c:.4}, top-1 {}",
            if agree { "same" } else { "DIFFERS" }
        );
        same_top1 += agree as usize;
        cos.push(c);

        // the thumbnail from the one scaled decode looks like the one from the full decode
        let (tf, tu) = (
            images::thumbnail(&fast_img, prep.thumb_size),
            images::thumbnail(&full_img, prep.thumb_size),
        );
        assert_eq!(tf.dimensions(), tu.dimensions(), "{name}: thumbnail size");
        // (both are filtered down from a larger image, by DCT scaling or by a box filter, then
        // by Catmull-Rom: they differ in fine texture only; 3.2 at most on these photos)
        let d = mean_abs_diff(&tf, &tu);
        assert!(
            d < 4.0,
            "{name}: thumbnails differ by {d:.2} grey levels on average"
        );
    }
    cos.sort_by(|a, b| a.total_cmp(b));
    let median = cos[cos.len() / 2];
    let share = same_top1 as f64 / cases.len() as f64;
    println!(
        "median cosine {median:.4} (min {:.4}), top-1 agreement {same_top1}/{}",
        cos[0],
        cases.len()
    );
    assert!(median >= 0.99, "median cosine {median:.4}");
    assert!(cos[0] >= 0.95, "worst cosine {:.4}", cos[0]);
    assert!(
        share >= 0.95,
        "top-1 agrees on {same_top1} of {}",
        cases.len()
    );
}

#[test]
fn pngs_decode_exactly_as_before() {
    // the emoji (and any PNG) cannot be DCT-scaled: the fast path is the full decode, pixel for
    // pixel, so their features and 10-NN accuracy cannot change
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let pngs = files_under(&demo, "png");
    assert!(pngs.len() >= 300, "{} demo images", pngs.len());
    let prep = Preprocess::default();
    for p in &pngs {
        let bytes = std::fs::read(p).unwrap();
        let fast = images::decode_covering(&bytes, prep.cover()).unwrap();
        let full = images::decode_bytes(&bytes).unwrap();
        assert_eq!(fast, full, "{}", p.display());
    }
}

#[test]
fn odd_jpegs_keep_their_outcomes() {
    let stored = image::open(&fixture_photos()[0]).unwrap().to_rgb8();
    let cover = Cover {
        short: 224,
        long: 256,
    };
    // progressive: scaled too (libjpeg scales progressive scans)
    let prog = encode_jpeg(&stored, true, None);
    let img = images::decode_covering(&prog, cover).unwrap();
    assert_eq!((img.width(), img.height()), (400, 267)); // 1/4

    // CMYK (Adobe): left to the full decoder, which converts it; the same colours as RGB
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
    c.set_size(stored.width() as usize, stored.height() as usize);
    c.set_fastest_defaults();
    c.set_quality(95.0);
    let mut c = c.start_compress(Vec::new()).unwrap();
    let cmyk: Vec<u8> = stored
        .pixels()
        .flat_map(|p| {
            // Adobe CMYK JPEGs store inverted values: 255 - (C, M, Y), K = 0 → the RGB itself
            [p[0], p[1], p[2], 255]
        })
        .collect();
    c.write_scanlines(&cmyk).unwrap();
    let cmyk = c.finish().unwrap();
    let full = images::decode_bytes(&cmyk).unwrap();
    assert_eq!((full.width(), full.height()), stored.dimensions());
    let img = images::decode_covering(&cmyk, cover).unwrap();
    assert_eq!(
        img,
        images::reduce_to_cover(full, cover),
        "full decode, then box-reduced"
    );
    let img = images::decode_bytes(&cmyk).unwrap();
    let reference = DynamicImage::ImageRgb8(stored.clone());
    let (a, b) = (img.to_rgb8(), reference.to_rgb8());
    let diff: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y) as f64)
        .sum::<f64>()
        / a.as_raw().len() as f64;
    assert!(diff < 12.0, "CMYK colours off by {diff:.1} on average");

    // cut short: an error naming the reason, as from the full decoder
    let mut cut = encode_jpeg(&stored, false, None);
    cut.truncate(cut.len() * 55 / 100);
    let err = images::decode_covering(&cut, cover).unwrap_err();
    assert!(err.to_string().contains("end-of-image"), "{err}");
    let err = images::decode_bytes(&cut).unwrap_err();
    assert!(err.to_string().contains("end-of-image"), "{err}");

    // a header claiming 48 Mpx is decoded scaled, with bounded memory
    let huge = image::imageops::resize(&stored, 8000, 6000, image::imageops::FilterType::Nearest);
    let img = images::decode_covering(&encode_jpeg(&huge, false, None), cover).unwrap();
    assert_eq!((img.width(), img.height()), (1000, 750));
}
