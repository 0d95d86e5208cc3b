//! image-tsne-live: lay out a folder of images by visual similarity and show it live.
//!
//! The modules follow the data's way through the program:
//!
//! 1. [`input`] — which images: scan a folder (seeded subset), watch it, the bundled demo set.
//! 2. [`images`] — decode one file robustly at the size the stages need; the CNN input and the
//!    display thumbnail from that one decode.
//! 3. [`features`] — the CNN (tract, with our own depthwise / pointwise kernels) over every
//!    image, through the [`cache`].
//! 4. [`pca`] → [`tsne`] (our Barnes-Hut t-SNE) → [`grid`] (exact linear assignment).
//! 5. [`layout_io`] — the ml4a layout JSON; [`map`] — a finished map that grows (its `.map`
//!    sidecar and the one grow driver).
//! 6. [`clusters`] — the map's groups, found (HDBSCAN) and named by the model's ImageNet head,
//!    with a curator's names kept beside the layout; [`selection`] — images a curator pulls
//!    out (lasso geometry, export, copies, a new map of them); [`metadata`] — a curator's CSV
//!    about the images (captions, filters, numeric columns to order the grid by).
//!
//! [`pipeline`] is the one analyze driver over stages 1–4, reporting through [`progress`].
//! [`render`] draws layouts on the GPU (instanced quads from a texture atlas); [`detail`] streams
//! sharper copies of what is on screen; [`app`] is the live nannou viewer; [`cli`] the command
//! line; [`util`] small helpers (atomic writes, signals).

pub mod app;
pub mod cache;
pub mod cli;
pub mod clusters;
pub mod detail;
pub mod features;
pub mod grid;
pub mod images;
pub mod input;
pub mod layout_io;
pub mod map;
pub mod metadata;
pub mod pca;
pub mod pipeline;
pub mod progress;
pub mod render;
pub mod selection;
pub mod tsne;
pub mod util;
