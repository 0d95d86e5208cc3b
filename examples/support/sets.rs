//! The labelled sets the quality benchmarks measure on: the emoji (our pipeline, features from
//! the default cache) and the shared PCA-50 inputs (our t-SNE), each with its categories.
#![allow(dead_code)]

#[path = "shared.rs"]
pub mod shared;

use image_tsne_live::pipeline::{self, AnalyzeOptions};
use image_tsne_live::progress::CliReporter;
use image_tsne_live::tsne::{tsne, TsneParams};
use ndarray::Array2;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// A labelled map: images (or rows), the t-SNE points in [0, 1]², the PCA-50 features and a
/// category per image.
pub struct Set {
    pub name: String,
    pub paths: Vec<PathBuf>,
    pub points: Vec<[f32; 2]>,
    pub features: Array2<f32>,
    /// raw model features, for naming (emoji only)
    pub raw: Option<Array2<f32>>,
    pub labels: Vec<String>,
}

/// The shared `emoji-google` set (a seeded subset of `max`), analysed by our pipeline.
pub fn emoji(max: usize) -> anyhow::Result<Set> {
    emoji_in(shared::shared_dir().join("datasets/emoji-google"), max)
}

/// A folder with a `labels.csv` (`relpath,category`), analysed by our pipeline.
pub fn emoji_in(dir: PathBuf, max: usize) -> anyhow::Result<Set> {
    let text = std::fs::read_to_string(dir.join("labels.csv"))?;
    let category: HashMap<PathBuf, String> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?, f.next()?))
        })
        .map(|(p, c)| (dir.join(p), c.trim().to_string()))
        .collect();
    let opts = AnalyzeOptions {
        max_images: max,
        ..AnalyzeOptions::default()
    };
    let rep = CliReporter::new(true);
    let a = pipeline::analyze(&dir, &opts, &rep)?;
    let labels = a
        .paths
        .iter()
        .map(|p| category.get(p).cloned().unwrap_or_else(|| "?".into()))
        .collect();
    Ok(Set {
        name: if dir.ends_with("demo") {
            "demo (bundled)".into()
        } else if max >= 3786 {
            "emoji-google".into()
        } else {
            format!("emoji-google {max}")
        },
        paths: a.paths,
        points: a.points,
        features: a.reduced,
        raw: Some(a.features),
        labels,
    })
}

/// A shared PCA-50 input with labels (`digits`, `blobs10k`, `blobs50k`), mapped by our t-SNE.
pub fn shared_pca(name: &str, n: usize) -> anyhow::Result<Set> {
    let dir = shared::shared_dir().join("datasets/tsne");
    let bytes = std::fs::read(dir.join(format!("{name}_pca50.f32")))?;
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let features = Array2::from_shape_vec((n, 50), values)?;
    let labels: Vec<String> = std::fs::read_to_string(dir.join(format!("{name}_labels.txt")))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    let raw = tsne(features.view(), &TsneParams::default(), &mut |_| {
        ControlFlow::Continue(())
    })?;
    Ok(Set {
        name: name.into(),
        paths: (0..n)
            .map(|i| PathBuf::from(format!("{name}-{i}")))
            .collect(),
        points: pipeline::normalize_raw(&raw),
        features,
        raw: None,
        labels,
    })
}

/// A set by its benchmark name: `demo` (the bundled 360), `emoji1000`, `emoji` (all 3 786),
/// `digits`, `blobs10k`, `blobs50k`.
pub fn by_name(name: &str) -> anyhow::Result<Set> {
    match name {
        "demo" => emoji_in(
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo")),
            360,
        ),
        "emoji1000" => emoji(1000),
        "emoji" => emoji(4000),
        "digits" => shared_pca("digits", 1797),
        "blobs10k" => shared_pca("blobs10k", 10000),
        "blobs50k" => shared_pca("blobs50k", 50000),
        other => anyhow::bail!("unknown set {other}"),
    }
}
