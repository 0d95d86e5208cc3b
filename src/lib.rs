//! image-tsne-live: lay out a folder of images by visual similarity and show it live.
//!
//! The analysis pipeline, one module per stage:
//! [`scan`] → [`thumbs`] (decode, crop, thumbnails) → [`features`] (CNN via tract, with [`cache`])
//! → [`pca`] → [`tsne`] (our Barnes-Hut t-SNE) → [`grid`] (exact linear assignment) →
//! [`layout_io`] (ml4a JSON). [`pipeline`] runs them with [`progress`] reporting; [`grow`] lets a
//! finished map take new images without moving the old ones; [`render`] draws layouts on the GPU
//! and [`app`] is the live nannou viewer; [`watch`] finds images copied into (or removed
//! from) a watched folder.

pub mod app;
pub mod atomic;
pub mod cache;
pub mod cells;
pub mod cli;
pub mod demo;
pub mod detail_decode;
pub mod detail_stream;
pub mod features;
pub mod grid;
pub mod grow;
pub mod jpeg_scaled;
pub mod layout_io;
pub mod metrics;
pub mod pca;
pub mod pipeline;
pub mod progress;
pub mod render;
pub mod resample;
pub mod scan;
pub mod signals;
pub mod thumbs;
pub mod tsne;
pub mod watch;
