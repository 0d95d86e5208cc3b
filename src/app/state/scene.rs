//! The scene: what is shown — the images of one layout, their t-SNE points, grid cells and
//! visibility — and the view/analysis settings of the original app.

use crate::app::protocol::{GridCells, Source};
use crate::layout_io::LayoutEntry;
use crate::render::{LayoutGeometry, LayoutParams, PlateMode, WorldRect};
use ndarray::Array2;
use std::path::PathBuf;
use std::sync::Arc;

/// The original app's view parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewSettings {
    pub view_as_grid: bool,
    /// Spread of the t-SNE layout, 1–10 (default 4).
    pub scale: f32,
    /// Image size in t-SNE view, 0–2 in grid cells (grid view sizes itself: cells touch).
    pub image_size: f32,
    /// When images are drawn on a plate (`--plates`, the panel).
    pub plates: PlateMode,
    /// A blend held by a remote fader (`/blend`), over `view_as_grid` until let go.
    pub held_blend: Option<f32>,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            view_as_grid: false,
            scale: 4.0,
            image_size: 1.0,
            plates: PlateMode::Auto,
            held_blend: None,
        }
    }
}

/// A set of images on screen (or being built), with its layouts.
#[derive(Clone, Debug)]
pub struct Scene {
    pub id: u64,
    pub source: Source,
    pub paths: Vec<PathBuf>,
    /// Whether image i is part of the layout (false: skipped/undecodable, drawn hidden).
    pub used: Vec<bool>,
    /// t-SNE positions in [0,1]² per image (hidden images sit at the centre).
    pub points: Vec<[f32; 2]>,
    /// Per-image aspect (width / height), 1 until the thumbnail arrives.
    pub aspects: Vec<f32>,
    pub grid: Option<GridCells>,
    /// PCA output for re-running t-SNE: row r belongs to image `reduced_rows[r]`.
    pub features: Option<Arc<Array2<f32>>>,
    pub reduced_rows: Vec<usize>,
    pub thumbs_loaded: usize,
    pub missing: usize,
    /// The analysis settings that produced the current points (when `tsne_known`).
    pub perplexity: f32,
    pub theta: f32,
    /// Whether `perplexity`/`theta` are known: false for a layout loaded from a file that does
    /// not record them (ml4a's), until it is re-run.
    pub tsne_known: bool,
    /// The growing map (PCA basis, features, raw embedding, grid) of the used images, in order
    /// of their indices; `None` until a job made it (or for a layout without a map file).
    pub map: Option<Arc<crate::map::MapState>>,
    /// Images the scene's GPU atlas has room for (at least `len()`).
    pub capacity: usize,
}

impl Scene {
    pub fn new(id: u64, source: Source, paths: Vec<PathBuf>) -> Self {
        let n = paths.len();
        Scene {
            id,
            source,
            paths,
            used: vec![true; n],
            points: spiral(n),
            aspects: vec![1.0; n],
            grid: None,
            features: None,
            reduced_rows: vec![],
            thumbs_loaded: 0,
            missing: 0,
            perplexity: 0.0,
            theta: 0.0,
            tsne_known: false,
            map: None,
            capacity: n,
        }
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Indices of the images that are part of the layout, in order.
    pub fn used_indices(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.used[i]).collect()
    }

    pub fn used_count(&self) -> usize {
        self.used.iter().filter(|u| **u).count()
    }

    /// The ml4a entries of the used images (t-SNE points only, as the original's export).
    pub fn entries(&self) -> Vec<LayoutEntry> {
        (0..self.len())
            .filter(|&i| self.used[i])
            .map(|i| LayoutEntry {
                path: self.paths[i].clone(),
                point: self.points[i],
                grid: None,
            })
            .collect()
    }

    /// The used images' entries with their grid cells (when the scene has a grid).
    pub fn entries_with_grid(&self) -> Vec<LayoutEntry> {
        let mut entries = self.entries();
        if let Some(g) = &self.grid {
            for (e, &i) in entries.iter_mut().zip(&self.used_indices()) {
                e.grid = g.cells.get(i).copied();
            }
        }
        entries
    }

    /// Grid geometry (the squarest grid for the count until a grid is solved).
    pub fn geometry(&self) -> LayoutGeometry {
        match &self.grid {
            Some(g) => LayoutGeometry::new(g.cols, g.rows),
            None => LayoutGeometry::for_count(self.used_count().max(1)),
        }
    }

    /// World bounds of the used images for `params`.
    pub fn bounds(&self, params: &LayoutParams) -> Option<WorldRect> {
        let geom = self.geometry();
        let cells: Vec<[u32; 2]> = match &self.grid {
            Some(g) => g.cells.clone(),
            None => vec![[0, 0]; self.len()],
        };
        let idx = self.used_indices();
        let pts: Vec<[f32; 2]> = idx.iter().map(|&i| self.points[i]).collect();
        let cs: Vec<[u32; 2]> = idx
            .iter()
            .map(|&i| cells.get(i).copied().unwrap_or([0, 0]))
            .collect();
        let asp: Vec<f32> = idx.iter().map(|&i| self.aspects[i]).collect();
        geom.bounds(&pts, &cs, &asp, params)
    }
}

/// Placeholder positions before t-SNE: a sunflower spiral filling [0,1]², so images that
/// stream in are visible right away.
pub fn spiral(n: usize) -> Vec<[f32; 2]> {
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    (0..n)
        .map(|i| {
            let r = ((i as f32 + 0.5) / n.max(1) as f32).sqrt() * 0.5;
            let a = i as f32 * golden;
            [0.5 + r * a.cos(), 0.5 + r * a.sin()]
        })
        .collect()
}
