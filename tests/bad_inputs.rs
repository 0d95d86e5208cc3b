//! The robustness fixtures in `../shared/datasets/bad-inputs` behave as their `expected.csv` says:
//! every `decode` file is used, every `skip-warn` file is left out with a warning naming it,
//! `ignore` files are not even candidates, the symlink loop ends, and nothing panics.

mod common;

use image_tsne_live::cache::Cache;
use image_tsne_live::features::FeatureModel;
use image_tsne_live::pipeline::{self, AnalyzeOptions};
use image_tsne_live::progress::SilentReporter;
use image_tsne_live::thumbs::{self, Preprocess};
use std::collections::HashSet;
use std::path::PathBuf;

fn bad_inputs() -> PathBuf {
    common::shared_dir().join("datasets/bad-inputs")
}

#[test]
fn bad_inputs_behave_as_expected_csv_says() {
    let dir = bad_inputs();
    let expected = std::fs::read_to_string(dir.join("expected.csv")).unwrap();
    let rep = SilentReporter::default();
    let opts = AnalyzeOptions {
        max_images: 1000,
        cache: Cache::disabled(),
        ..AnalyzeOptions::default()
    };
    let paths = pipeline::scan_folder(&dir, &opts, &rep).unwrap();
    let unique: HashSet<_> = paths.iter().collect();
    assert_eq!(unique.len(), paths.len(), "an image is listed twice");
    let model = FeatureModel::bundled().unwrap();
    let set = pipeline::extract_features(
        &paths,
        &model,
        &Preprocess::default(),
        &Cache::disabled(),
        &rep,
    )
    .unwrap();
    let used: HashSet<PathBuf> = set.paths.iter().cloned().collect();
    let candidates: HashSet<PathBuf> = paths.iter().cloned().collect();
    let warnings = rep.warnings();
    let mut checked = 0;
    for line in expected.lines().skip(1) {
        let fields = common::csv_fields(line);
        let (rel, expect) = (&fields[0], fields[1].as_str());
        let path = dir.join(rel);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match expect {
            "decode" => assert!(
                used.contains(&path),
                "{rel} should be decoded and used; warnings: {warnings:#?}"
            ),
            "skip-warn" => {
                assert!(!used.contains(&path), "{rel} should be skipped");
                assert!(
                    warnings.iter().any(|w| w.contains(&name)),
                    "no warning names {rel}: {warnings:#?}"
                );
            }
            "ignore" => assert!(
                !candidates.contains(&path),
                "{rel} should not be a candidate"
            ),
            "no-loop" => {
                // The walk ended (we are here) and listed nothing through the loop.
                assert!(
                    !paths.iter().any(|p| p.starts_with(&path)),
                    "{rel} was followed"
                );
            }
            "decode-or-ignore" => {
                // Our documented choice: every real file is listed once, so a link to a file
                // that is reached directly is dropped and its target used instead. (Where the
                // fixture is a plain file, as a checkout without symlinks makes it, it is not an
                // image: skipped with a warning naming it.)
                let is_link = std::fs::symlink_metadata(&path)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false);
                if is_link {
                    let target = std::fs::canonicalize(&path).expect("the link resolves");
                    assert!(
                        !candidates.contains(&path),
                        "{rel} is listed besides its target"
                    );
                    assert!(used.contains(&target), "{rel}: its target is used");
                } else {
                    assert!(!used.contains(&path), "{rel} is not an image here");
                    assert!(
                        warnings.iter().any(|w| w.contains(&name)),
                        "no warning names {rel}: {warnings:#?}"
                    );
                }
            }
            other => panic!("unknown expectation {other:?} for {rel}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 33);
    // 22 decodable images, plus the file symlink when it is a real link to a file that is
    // reached directly too (we list every real file once, so it is not counted twice).
    assert_eq!(set.paths.len(), 22, "used: {:#?}", set.paths);
    // every skipped image has a reason
    assert!(set.skipped.iter().all(|(_, why)| !why.is_empty()));
}

#[test]
fn decoder_details_are_right() {
    let dir = bad_inputs();
    // EXIF orientation 6: stored 320x240, shown 240x320.
    let img = thumbs::decode_file(&dir.join("exif-orientation-6.jpg")).unwrap();
    assert_eq!((img.width(), img.height()), (240, 320));
    // 16-bit gray is scaled, not clamped to white.
    let gray = thumbs::decode_file(&dir.join("gray-16bit.png"))
        .unwrap()
        .to_rgb8();
    let mean =
        gray.pixels().map(|p| p[0] as f64).sum::<f64>() / (gray.width() * gray.height()) as f64;
    assert!(mean > 30.0 && mean < 225.0, "16-bit gray mean {mean}");
    // CMYK looks like the baseline cat, not inverted.
    let base = thumbs::decode_file(&dir.join("valid-baseline.jpg"))
        .unwrap()
        .to_rgb8();
    let cmyk = thumbs::decode_file(&dir.join("cmyk.jpg"))
        .unwrap()
        .to_rgb8();
    let small = |i: &image::RgbImage| {
        image::imageops::resize(i, 32, 32, image::imageops::FilterType::Triangle)
    };
    let (a, b) = (small(&base), small(&cmyk));
    let diff = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| {
            (0..3)
                .map(|c| (p[c] as f64 - q[c] as f64).abs())
                .sum::<f64>()
        })
        .sum::<f64>()
        / (32.0 * 32.0 * 3.0);
    assert!(
        diff < 20.0,
        "CMYK differs from the baseline by {diff} per channel"
    );
    // The decompression bomb is refused by size, naming the reason.
    let err = thumbs::decode_file(&dir.join("bomb-20000x20000.png")).unwrap_err();
    assert!(err.to_string().contains("20000x20000"), "{err}");
    // The 48 Mpx JPEG decodes and its CNN input is small.
    let prepared = thumbs::prepare_bytes(
        &std::fs::read(dir.join("huge-8000x6000.jpg")).unwrap(),
        &Preprocess::default(),
    )
    .unwrap();
    assert_eq!((prepared.width, prepared.height), (8000, 6000));
    assert_eq!(prepared.cnn_input.dimensions(), (224, 224));
    assert_eq!(prepared.thumb.width(), 256);
    // Transparent pixels of the RGBA photo take the background colour, not the hidden photo.
    let rgba = thumbs::decode_file(&dir.join("rgba-transparent.png")).unwrap();
    let white = thumbs::composite_on(&rgba, [255, 255, 255]);
    assert_eq!(white.get_pixel(0, 0).0, [255, 255, 255]);
}
