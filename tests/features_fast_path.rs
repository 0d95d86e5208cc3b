//! The fast plan (depthwise, stem and pointwise ops, on channel-blocked tensors by default and
//! on CHW ones) gives the same features as tract's plain plan on real images: 200 of the bundled demo emoji (every category) and the photo fixtures
//! (`tests/fixtures/photos`, `tests/fixtures/samples`), within 1e-4 of the largest feature of
//! each image, with an unchanged 10-NN category accuracy on the emoji.

mod common;

use common::metrics::knn_accuracy_nd;
use image_tsne_live::features::{Engine, FeatureModel};
use image_tsne_live::images::{self, Preprocess};
use ndarray::Array2;
use std::collections::HashMap;
use std::path::PathBuf;

fn images_under(dir: &std::path::Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e.to_lowercase().as_str()))
        })
        .collect();
    v.sort();
    v
}

/// Largest |a − b| over the vector, relative to the largest |b|.
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let d = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    let m = b.iter().map(|y| y.abs()).fold(0f32, f32::max);
    d / m.max(1e-12)
}

#[test]
fn fast_plan_features_equal_plain_plan_features() {
    let plain = FeatureModel::bundled_with(Engine::Plain).unwrap();
    let fast = FeatureModel::bundled_with(Engine::Fast).unwrap();
    assert_eq!(plain.fast_conv_count(), 0);
    // 16 depthwise convolutions, the stem and the 32 pointwise (1×1) convolutions
    assert_eq!(fast.fast_conv_count(), 49);
    // every one of them on channel-blocked tensors (all channel counts are multiples of 8)
    assert_eq!(fast.blocked_conv_count(), 49);
    let chw = FeatureModel::bundled_with(Engine::FastChw).unwrap();
    assert_eq!((chw.fast_conv_count(), chw.blocked_conv_count()), (49, 0));
    // The default constructor takes the fast path.
    assert_eq!(FeatureModel::bundled().unwrap().engine(), Engine::Fast);

    let emoji_dir = common::demo_dir();
    let all = images_under(&emoji_dir, &["png"]);
    assert_eq!(all.len(), 360);
    // 200 of 360, spread over every category (the files are sorted by category)
    let emoji: Vec<PathBuf> = (0..200).map(|i| all[i * all.len() / 200].clone()).collect();
    let mut photos = images_under(&common::fixture("photos"), &["jpg"]);
    photos.extend(images_under(&common::fixture("samples"), &["png"]));
    assert!(photos.len() >= 10, "{} photos", photos.len());

    let prep = Preprocess::default();
    let mut worst = (0f32, PathBuf::new());
    let mut rows_plain = vec![];
    let mut rows_fast = vec![];
    for (i, p) in emoji.iter().chain(&photos).enumerate() {
        let img = images::cnn_input(&images::decode_file(p).unwrap(), &prep);
        let a = plain.features(&img).unwrap();
        let b = fast.features(&img).unwrap();
        let d = rel_diff(&b, &a).max(rel_diff(&chw.features(&img).unwrap(), &a));
        if d > worst.0 {
            worst = (d, p.clone());
        }
        if i < emoji.len() {
            rows_plain.extend(a);
            rows_fast.extend(b);
        }
    }
    assert!(
        worst.0 <= 1e-4,
        "max relative difference {} at {}",
        worst.0,
        worst.1.display()
    );

    // 10-NN accuracy by category on the emoji, from each plan's features.
    let labels = common::labels(&emoji_dir);
    let mut ids: HashMap<String, u32> = HashMap::new();
    let y: Vec<u32> = emoji
        .iter()
        .map(|p| {
            let cat = labels.get(p).cloned().unwrap_or_default();
            let next = ids.len() as u32;
            *ids.entry(cat).or_insert(next)
        })
        .collect();
    assert!(ids.len() >= 5, "labels not found: {ids:?}");
    let xp = Array2::from_shape_vec((emoji.len(), 1280), rows_plain).unwrap();
    let xf = Array2::from_shape_vec((emoji.len(), 1280), rows_fast).unwrap();
    let (ap, af) = (
        knn_accuracy_nd(xp.view(), &y, 10),
        knn_accuracy_nd(xf.view(), &y, 10),
    );
    assert_eq!(ap, af, "10-NN accuracy plain {ap} vs fast {af}");
}
