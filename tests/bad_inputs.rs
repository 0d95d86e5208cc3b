//! The robustness fixtures in `tests/fixtures/bad-inputs` behave as their `expected.csv` says:
//! every `decode` file is used, every `skip-warn` file is left out with a warning naming it,
//! `ignore` files are not even candidates, the symlink loop ends, and nothing panics.

mod common;

use image_tsne_live::cache::Cache;
use image_tsne_live::features::{self, FeatureModel};
use image_tsne_live::images::{self, Preprocess};
use image_tsne_live::pipeline::{self, AnalyzeOptions};
use image_tsne_live::progress::SilentReporter;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The fixture's three symlinks, made here rather than committed: a checkout without symlink
/// support (or a copy) would turn them into plain files, and a loop inside the repository would
/// trip tools that walk it. `(link, target)`, relative to the fixture folder.
const SYMLINKS: [(&str, &str); 3] = [
    ("broken-symlink.jpg", "does-not-exist.jpg"),
    ("symlink-to-file.jpg", "valid-baseline.jpg"),
    ("symlink-loop/parent", ".."),
];

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
}

/// The bad-inputs fixture as its `expected.csv` describes it, symlinks included, in `tmp`
/// (canonical, like the paths the scan reports).
fn bad_inputs(tmp: &Path) -> PathBuf {
    let dir = tmp.join("bad-inputs");
    copy_tree(&common::fixture("bad-inputs"), &dir);
    for (link, target) in SYMLINKS {
        std::os::unix::fs::symlink(target, dir.join(link)).unwrap();
    }
    dir.canonicalize().unwrap()
}

/// `(relpath, expect)` rows of `expected.csv`.
fn expectations(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("expected.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("relpath,expect,note"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f = common::csv_fields(l);
            (f[0].clone(), f[1].clone())
        })
        .collect()
}

/// Every entry below `dir` (files and links, not following links), relative, with `/`.
fn entries(dir: &Path, rel: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type().unwrap().is_dir() {
            entries(dir, &r, out);
        } else {
            out.push(r);
        }
    }
}

#[test]
fn expected_csv_lists_every_fixture_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = bad_inputs(tmp.path());
    let mut listed: Vec<String> = expectations(&dir).into_iter().map(|(r, _)| r).collect();
    listed.sort();
    let mut found = Vec::new();
    entries(&dir, "", &mut found);
    found.retain(|r| r != "README.md" && r != "expected.csv");
    found.sort();
    assert_eq!(listed, found);
}

#[test]
fn bad_inputs_behave_as_expected_csv_says() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = bad_inputs(tmp.path());
    let expected = expectations(&dir);
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
    let set = features::extract_features(
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
    for (rel, expect) in &expected {
        let expect = expect.as_str();
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
    }
    // Exactly the `decode` rows are used: the file symlink is a real link to a file that is
    // reached directly too, and we list every real file once, so it adds nothing.
    let decode = expected.iter().filter(|(_, e)| e == "decode").count();
    assert_eq!(set.paths.len(), decode, "used: {:#?}", set.paths);
    // The decoder skipped exactly the `skip-warn` files (the dangling link is the scan's to
    // report: there is no file to decode).
    let is_link = |p: &Path| {
        std::fs::symlink_metadata(p)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
    };
    let mut want: Vec<PathBuf> = expected
        .iter()
        .filter(|(_, e)| e == "skip-warn")
        .map(|(r, _)| dir.join(r))
        .filter(|p| !is_link(p))
        .collect();
    want.sort();
    let mut skipped: Vec<PathBuf> = set.skipped.iter().map(|(p, _)| p.clone()).collect();
    skipped.sort();
    assert_eq!(skipped, want);
    // every skipped image has a reason
    assert!(set.skipped.iter().all(|(_, why)| !why.is_empty()));
}

#[test]
fn decoder_details_are_right() {
    let dir = common::fixture("bad-inputs");
    // EXIF orientation 6: stored 320x240, shown 240x320.
    let img = images::decode_file(&dir.join("exif-orientation-6.jpg")).unwrap();
    assert_eq!((img.width(), img.height()), (240, 320));
    // 16-bit gray is scaled, not clamped to white.
    let gray = images::decode_file(&dir.join("gray-16bit.png"))
        .unwrap()
        .to_rgb8();
    let mean =
        gray.pixels().map(|p| p[0] as f64).sum::<f64>() / (gray.width() * gray.height()) as f64;
    assert!(mean > 30.0 && mean < 225.0, "16-bit gray mean {mean}");
    // CMYK looks like the baseline cat, not inverted.
    let base = images::decode_file(&dir.join("valid-baseline.jpg"))
        .unwrap()
        .to_rgb8();
    let cmyk = images::decode_file(&dir.join("cmyk.jpg"))
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
    let err = images::decode_file(&dir.join("bomb-20000x20000.png")).unwrap_err();
    assert!(err.to_string().contains("20000x20000"), "{err}");
    // The 48 Mpx JPEG decodes, DCT-scaled to 1/8 (memory bounded), and its CNN input is small.
    let huge = std::fs::read(dir.join("huge-8000x6000.jpg")).unwrap();
    let full = images::decode_bytes(&huge).unwrap();
    assert_eq!((full.width(), full.height()), (8000, 6000));
    let prepared = images::prepare_bytes(&huge, &Preprocess::default()).unwrap();
    assert_eq!((prepared.width, prepared.height), (1000, 750));
    assert_eq!(prepared.cnn_input.dimensions(), (224, 224));
    assert_eq!(prepared.thumb.width(), 256);
    // Transparent pixels of the RGBA photo take the background colour, not the hidden photo.
    let rgba = images::decode_file(&dir.join("rgba-transparent.png")).unwrap();
    let white = images::composite_on(&rgba, [255, 255, 255]);
    assert_eq!(white.get_pixel(0, 0).0, [255, 255, 255]);
}
