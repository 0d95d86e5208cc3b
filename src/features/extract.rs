//! Extract: every image's feature vector — decode (at the size the stages need), cut the CNN
//! input and the thumbnail from that one decode, run the CNN — in parallel on the current rayon
//! pool, through the cache (features and thumbnails keyed by file content). Unusable images are
//! skipped with a warning naming the file; the run goes on without them.

use super::FeatureModel;
use crate::cache::{content_key, Cache};
use crate::images::{self, Prepared, Preprocess};
use crate::pipeline::Cancelled;
use crate::progress::{Reporter, Stage, StageTimer};
use anyhow::{bail, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Feature vectors of the images that could be used.
#[derive(Clone, Debug)]
pub struct FeatureSet {
    /// Images that were used, in order; row i of `features` belongs to `paths[i]`.
    pub paths: Vec<PathBuf>,
    /// For each row, its position in the list given to [`extract_features`] (the list may name
    /// a file twice, so positions, not paths, identify images).
    pub indices: Vec<usize>,
    pub features: Array2<f32>,
    /// Images that were skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// How many came from the cache.
    pub from_cache: usize,
    /// Where the time went (summed over workers).
    pub time: FeatureTimes,
}

/// Per-part time of feature extraction, summed over all worker threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeatureTimes {
    pub read: Duration,
    /// Decoding (a big JPEG DCT-scaled), EXIF orientation included.
    pub decode: Duration,
    /// Cutting and resizing the CNN input.
    pub resize: Duration,
    /// Making the display thumbnail.
    pub thumbnail: Duration,
    pub inference: Duration,
    pub cache: Duration,
    pub wall: Duration,
}

impl FeatureTimes {
    /// Each part's name and time summed over the worker threads, in pipeline order (the
    /// benchmarks' tables).
    pub fn parts(&self) -> [(&'static str, Duration); 6] {
        [
            ("read file", self.read),
            ("decode", self.decode),
            ("CNN input (crop + resize)", self.resize),
            ("thumbnail", self.thumbnail),
            ("CNN (tract)", self.inference),
            ("hash + cache", self.cache),
        ]
    }
}

/// The key of the feature vectors a model makes with these preprocessing settings (the cache's
/// folder name; a grown map refuses features made with another key).
pub fn feature_key(model: &FeatureModel, prep: &Preprocess) -> String {
    let prep = Preprocess {
        input_size: model.input_size(),
        ..*prep
    };
    format!("{}-{}", &model.hash()[..16], prep.cache_tag())
}

/// What became of one image.
enum Outcome {
    /// Its features, and whether they came from the cache.
    Used(Vec<f32>, bool),
    Skipped(String),
}

/// Time per part, added up by the worker threads.
#[derive(Default)]
struct Clocks {
    read: AtomicU64,
    decode: AtomicU64,
    resize: AtomicU64,
    thumbnail: AtomicU64,
    inference: AtomicU64,
    cache: AtomicU64,
}

impl Clocks {
    fn add(acc: &AtomicU64, since: Instant) {
        acc.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn times(&self, wall: Duration) -> FeatureTimes {
        let ns = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        FeatureTimes {
            read: ns(&self.read),
            decode: ns(&self.decode),
            resize: ns(&self.resize),
            thumbnail: ns(&self.thumbnail),
            inference: ns(&self.inference),
            cache: ns(&self.cache),
            wall,
        }
    }
}

/// What every worker shares while extracting.
struct Job<'a> {
    model: &'a FeatureModel,
    model_key: String,
    prep: Preprocess,
    cache: &'a Cache,
    rep: &'a dyn Reporter,
    /// The reporter shows thumbnails as they come (the app).
    wants_thumbs: bool,
    clocks: Clocks,
}

/// Decode every image and run the CNN, in parallel on the current rayon pool; cached results are
/// reused and new ones stored. Unusable images are skipped with a warning naming the file.
pub fn extract_features(
    paths: &[PathBuf],
    model: &FeatureModel,
    prep: &Preprocess,
    cache: &Cache,
    rep: &dyn Reporter,
) -> Result<FeatureSet> {
    let job = Job {
        model,
        model_key: feature_key(model, prep),
        prep: Preprocess {
            input_size: model.input_size(),
            ..*prep
        },
        cache,
        rep,
        wants_thumbs: rep.wants_thumbnails(),
        clocks: Clocks::default(),
    };
    let timer = StageTimer::start(rep, Stage::Features, paths.len() as u64);
    let done = AtomicUsize::new(0);
    let outcomes: Vec<Option<Outcome>> = paths
        .par_iter()
        .enumerate()
        .map(|(index, path)| {
            if rep.cancelled() {
                return None;
            }
            let outcome = job.one_image(index, path);
            if let Outcome::Skipped(why) = &outcome {
                rep.warn(&format!("skipped {}: {why}", path.display()));
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            rep.advance(Stage::Features, n as u64);
            Some(outcome)
        })
        .collect();
    if rep.cancelled() {
        bail!(Cancelled);
    }
    let set = gather(
        paths,
        outcomes,
        model.feature_len(),
        rep,
        &job.clocks,
        &timer,
    )?;
    let computed = set.paths.len() - set.from_cache;
    let per_image = if computed > 0 {
        format!(
            ", CNN {:.1} ms/image/thread",
            set.time.inference.as_secs_f64() * 1000.0 / computed as f64
        )
    } else {
        String::new()
    };
    timer.finish(&format!(
        "{} images used ({} from cache), {} skipped, {}-d {}{per_image}",
        set.paths.len(),
        set.from_cache,
        set.skipped.len(),
        model.feature_len(),
        model.name()
    ));
    Ok(set)
}

impl Job<'_> {
    /// One image: cached features (and thumbnail) when the cache has them, else decode, prepare
    /// and run the CNN, storing what was made.
    fn one_image(&self, index: usize, path: &Path) -> Outcome {
        let t = Instant::now();
        // the header is checked (size, pixel count) before the file is read whole
        let bytes = match images::read_image_file(path) {
            Ok(b) => b,
            Err(e) => return Outcome::Skipped(e.to_string()),
        };
        Clocks::add(&self.clocks.read, t);

        let t = Instant::now();
        // the content hash only names cache entries: without a cache it is not needed
        let key = match self.cache.root() {
            Some(_) => content_key(&bytes),
            None => String::new(),
        };
        let cached = self.cache.load_features(&self.model_key, &key);
        let cached_thumb = match (&cached, self.wants_thumbs) {
            (Some(_), true) => self.cache.load_thumb(self.prep.thumb_size, &key),
            _ => None,
        };
        Clocks::add(&self.clocks.cache, t);
        match (cached, cached_thumb) {
            (Some(f), Some(thumb)) => {
                self.rep.image_ready(index, path, &thumb);
                Outcome::Used(f, true)
            }
            (Some(f), None) if !self.wants_thumbs => Outcome::Used(f, true),
            (cached, _) => self.compute(index, path, &bytes, &key, cached),
        }
    }

    /// Decode and prepare (thumbnail for the cache or the reporter), then the CNN unless the
    /// features were cached.
    fn compute(
        &self,
        index: usize,
        path: &Path,
        bytes: &[u8],
        key: &str,
        cached: Option<Vec<f32>>,
    ) -> Outcome {
        // a thumbnail is made only for someone: the cache or the reporter (the app)
        let thumb_size =
            (self.wants_thumbs || self.cache.root().is_some()).then_some(self.prep.thumb_size);
        let prepared = match self.prepare_timed(bytes, thumb_size) {
            Ok(p) => p,
            Err(e) => return Outcome::Skipped(e.to_string()),
        };
        if self.wants_thumbs {
            self.rep.image_ready(index, path, &prepared.thumb);
        }
        if thumb_size.is_some() {
            let t = Instant::now();
            let _ = self
                .cache
                .store_thumb(self.prep.thumb_size, key, &prepared.thumb);
            Clocks::add(&self.clocks.cache, t);
        }
        if let Some(f) = cached {
            return Outcome::Used(f, true);
        }
        let t = Instant::now();
        let result = self.model.features(&prepared.cnn_input);
        Clocks::add(&self.clocks.inference, t);
        let f = match result {
            Ok(f) => f,
            Err(e) => return Outcome::Skipped(format!("the CNN failed on it: {e}")),
        };
        let t = Instant::now();
        if let Err(e) = self.cache.store_features(&self.model_key, key, &f) {
            log::debug!("cannot write the feature cache: {e}");
        }
        Clocks::add(&self.clocks.cache, t);
        Outcome::Used(f, false)
    }

    /// [`images::prepare_bytes`] with each step's time added to its clock (decode, CNN input,
    /// thumbnail): one decode, covering both products, feeds both. `thumb_size: None` skips the
    /// thumbnail (an empty one is returned): `analyze --no-cache` has no use for it.
    fn prepare_timed(
        &self,
        bytes: &[u8],
        thumb_size: Option<u32>,
    ) -> Result<Prepared, images::DecodeError> {
        let t = Instant::now();
        let img = images::decode_covering(bytes, self.prep.cover())?;
        Clocks::add(&self.clocks.decode, t);
        let t = Instant::now();
        let cnn_input = images::cnn_input(&img, &self.prep);
        Clocks::add(&self.clocks.resize, t);
        let t = Instant::now();
        let thumb = match thumb_size {
            Some(size) => images::thumbnail(&img, size),
            None => image::RgbaImage::new(0, 0),
        };
        Clocks::add(&self.clocks.thumbnail, t);
        Ok(Prepared {
            cnn_input,
            thumb,
            width: img.width(),
            height: img.height(),
        })
    }
}

/// The used images' vectors as one matrix, in the order given; invalid vectors (wrong length,
/// not finite) are skipped with a warning.
fn gather(
    paths: &[PathBuf],
    outcomes: Vec<Option<Outcome>>,
    dim: usize,
    rep: &dyn Reporter,
    clocks: &Clocks,
    timer: &StageTimer,
) -> Result<FeatureSet> {
    let mut used = Vec::new();
    let mut indices = Vec::new();
    let mut skipped = Vec::new();
    let mut data = Vec::with_capacity(paths.len() * dim);
    let mut from_cache = 0;
    for (i, (path, outcome)) in paths.iter().zip(outcomes).enumerate() {
        match outcome {
            Some(Outcome::Used(f, hit)) if f.len() == dim && f.iter().all(|v| v.is_finite()) => {
                data.extend_from_slice(&f);
                used.push(path.clone());
                indices.push(i);
                from_cache += hit as usize;
            }
            Some(Outcome::Used(..)) => {
                rep.warn(&format!(
                    "skipped {}: the CNN gave an invalid feature vector",
                    path.display()
                ));
                skipped.push((path.clone(), "invalid feature vector".into()));
            }
            Some(Outcome::Skipped(why)) => skipped.push((path.clone(), why)),
            None => skipped.push((path.clone(), "cancelled".into())),
        }
    }
    Ok(FeatureSet {
        features: Array2::from_shape_vec((used.len(), dim), data)?,
        paths: used,
        indices,
        skipped,
        from_cache,
        time: clocks.times(timer.elapsed()),
    })
}
