//! Features: run the ONNX CNN with tract on prepared square RGB images and return one feature
//! vector per image.
//!
//! The plan is built once with a fixed input fact `[1, 3, S, S]` (a symbolic batch dimension
//! runs 4–5× slower in tract) and shared by the rayon workers. Batching does not help on CPU:
//! a fixed batch of 4 ran at 72 ms per image against 24 ms one by one (8: 95 ms), tract's plain
//! plan alike (96 vs 41 ms). Before tract optimizes the model, two rewrites swap convolutions
//! for our own vectorized ops: [`depthwise::accelerate`] the depthwise ones and a stem over
//! ≤ 4 input channels, each with the ReLU6 clip after it (tract's depthwise is scalar on x86
//! and was half of the time); then [`pointwise::accelerate`] the 1×1 ones, with their bias and
//! a clip or residual add (tract's matrix product and the packing before it were three
//! quarters of what was left); last [`blocked::accelerate`] runs them on channel-blocked
//! tensors (`[C/8, H, W, 8]`), as onnxruntime does, where the CHW depthwise kernel wasted
//! its vectors on strided and narrow planes. [`Engine::Plain`] keeps tract's plan as it was,
//! and [`Engine::FastChw`] our ops without the blocked layout, for comparison. The default
//! model, EfficientNet-Lite0 (see `models/README.md`), is compiled into the binary, so the app
//! works from any folder and offline.

use anyhow::{anyhow, bail, Context, Result};
use image::RgbImage;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

pub mod blocked;
pub mod depthwise;
pub mod extract;
pub mod pointwise;
pub mod rewrite;

pub use extract::{extract_features, feature_key, FeatureSet, FeatureTimes};

/// How the plan is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// tract's optimized plan with our fast convolution ops where they apply, on
    /// channel-blocked tensors between them ([`blocked`]).
    #[default]
    Fast,
    /// Our fast convolution ops on plain CHW tensors, without the blocked layout (for
    /// comparison).
    FastChw,
    /// tract's optimized plan, untouched.
    Plain,
}

/// Time spent in one kind of op over a profiled run.
#[derive(Clone, Debug)]
pub struct OpTime {
    /// tract's op name (`OptMatMul`, `DepthWiseConv`, `FastDepthwise`, …).
    pub op: String,
    /// Nodes of that kind in the plan.
    pub nodes: usize,
    /// Mean time per run.
    pub time: std::time::Duration,
}

/// Time spent in one node over a profiled run.
#[derive(Clone, Debug)]
pub struct NodeTime {
    /// tract's op name.
    pub op: String,
    /// The op's own description (for our ops: the shape and the fused epilogue).
    pub info: String,
    /// Mean time per run.
    pub time: std::time::Duration,
}

/// The bundled model, `models/efficientnet-lite0.onnx`.
pub static DEFAULT_MODEL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/efficientnet-lite0.onnx"
));
/// A name for the bundled model in messages.
pub const DEFAULT_MODEL_NAME: &str = "efficientnet-lite0 (bundled)";

/// A loaded, optimized CNN that maps a square RGB image to a feature vector.
pub struct FeatureModel {
    plan: Arc<TypedRunnableModel>,
    /// Side of the square input.
    input_size: u32,
    /// Index of the `features` output in the plan's outputs.
    features_output: usize,
    /// Index of the `logits` output, when the model has one.
    logits_output: Option<usize>,
    feature_len: usize,
    /// blake3 of the model file: part of the feature cache key.
    hash: String,
    name: String,
    engine: Engine,
    /// Convolutions running on the fast ops.
    fast_convs: usize,
    /// Of those, the ones on channel-blocked tensors.
    blocked_convs: usize,
}

impl std::fmt::Debug for FeatureModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureModel")
            .field("name", &self.name)
            .field("input_size", &self.input_size)
            .field("feature_len", &self.feature_len)
            .finish()
    }
}

impl FeatureModel {
    /// The bundled EfficientNet-Lite0.
    pub fn bundled() -> Result<Self> {
        Self::from_bytes(DEFAULT_MODEL, DEFAULT_MODEL_NAME)
    }

    /// The bundled model on a chosen engine (benchmarks and comparisons).
    pub fn bundled_with(engine: Engine) -> Result<Self> {
        Self::from_bytes_with(DEFAULT_MODEL, DEFAULT_MODEL_NAME, engine)
    }

    /// `Some(path)`: that ONNX file; `None`: the bundled model.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        match path {
            None => Self::bundled(),
            Some(p) => {
                let bytes = std::fs::read(p)
                    .with_context(|| format!("cannot read model {}", p.display()))?;
                Self::from_bytes(&bytes, &p.display().to_string())
                    .with_context(|| format!("cannot use {} as a feature model", p.display()))
            }
        }
    }

    /// Load an ONNX model from memory. It must have one float input laid out NCHW with 3
    /// channels (RGB in [0, 1]; the batch dimension may be symbolic; a missing spatial size
    /// means 224) and an output named `features`, or a single output; any output shape is
    /// flattened. An output named `logits` is kept for classification checks.
    ///
    /// Uses [`Engine::Fast`]; should that fail to build or run, tract's plain plan.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        match Self::from_bytes_with(bytes, name, Engine::Fast) {
            Ok(m) => Ok(m),
            Err(fast) => {
                let m = Self::from_bytes_with(bytes, name, Engine::Plain)?;
                log::warn!("{name}: fast depthwise path failed ({fast:#}); using tract's plan");
                Ok(m)
            }
        }
    }

    /// [`FeatureModel::from_bytes`] on a chosen engine.
    pub fn from_bytes_with(bytes: &[u8], name: &str, engine: Engine) -> Result<Self> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let mut model = tract_onnx::onnx().model_for_read(&mut &bytes[..])?;
        if model.input_outlets()?.len() != 1 {
            bail!(
                "the model has {} inputs; it needs exactly one (the image)",
                model.input_outlets()?.len()
            );
        }
        let input_size = spatial_size(&model)?;
        let output_names: Vec<String> = model
            .output_outlets()?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .map(str::to_string)
                    .unwrap_or_else(|| model.node(o.node).name.clone())
            })
            .collect();
        let find = |want: &str| output_names.iter().position(|n| n == want);
        let (features_output, logits_output) = match (find("features"), find("logits")) {
            (Some(f), l) => (f, l),
            (None, _) if output_names.len() == 1 => (0, None),
            (None, _) => bail!(
                "the model has outputs {output_names:?}; name the one to use `features` (or export a single output)"
            ),
        };
        model.set_input_fact(
            0,
            f32::fact([1, 3, input_size as usize, input_size as usize]).into(),
        )?;
        let typed = model.into_typed()?;
        let (typed, fast_convs, blocked_convs) = match engine {
            Engine::Fast | Engine::FastChw => {
                let mut typed = typed.into_decluttered()?;
                let n = depthwise::accelerate(&mut typed)?;
                let m = pointwise::accelerate(&mut typed)?;
                let b = if engine == Engine::Fast {
                    blocked::accelerate(&mut typed)?
                } else {
                    0
                };
                (typed, n + m, b)
            }
            Engine::Plain => (typed, 0, 0),
        };
        let plan = typed.into_optimized()?.into_runnable()?;
        let mut this = FeatureModel {
            plan,
            input_size,
            features_output,
            logits_output,
            feature_len: 0,
            hash,
            name: name.to_string(),
            engine,
            fast_convs,
            blocked_convs,
        };
        // One dry run tells the feature length and catches a model that does not run.
        let probe = RgbImage::new(input_size, input_size);
        this.feature_len = this.run(&probe)?.0.len();
        if this.feature_len == 0 {
            bail!("the model's features output is empty");
        }
        Ok(this)
    }

    pub fn input_size(&self) -> u32 {
        self.input_size
    }
    pub fn feature_len(&self) -> usize {
        self.feature_len
    }
    /// Content hash of the model file (hex).
    pub fn hash(&self) -> &str {
        &self.hash
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn engine(&self) -> Engine {
        self.engine
    }
    /// How many convolutions run on the fast ops (depthwise, a thin-input stem, pointwise).
    pub fn fast_conv_count(&self) -> usize {
        self.fast_convs
    }
    /// How many of those run on channel-blocked tensors.
    pub fn blocked_conv_count(&self) -> usize {
        self.blocked_convs
    }

    /// Per-op-kind time of `runs` runs on `img` (after one warm-up run), slowest first.
    pub fn profile(&self, img: &RgbImage, runs: usize) -> Result<Vec<OpTime>> {
        use std::collections::HashMap;
        let mut kinds: HashMap<String, (usize, std::time::Duration)> = HashMap::new();
        for n in self.profile_nodes(img, runs)? {
            let e = kinds.entry(n.op).or_default();
            e.0 += 1;
            e.1 += n.time;
        }
        let mut out: Vec<OpTime> = kinds
            .into_iter()
            .map(|(op, (nodes, time))| OpTime { op, nodes, time })
            .collect();
        out.sort_by_key(|o| std::cmp::Reverse(o.time));
        Ok(out)
    }

    /// Mean time of every node over `runs` runs on `img` (after one warm-up run), in plan
    /// order: which layers of the network are slow, not only which kinds of op.
    pub fn profile_nodes(&self, img: &RgbImage, runs: usize) -> Result<Vec<NodeTime>> {
        use std::collections::HashMap;
        use std::time::{Duration, Instant};
        let input = to_nchw(&self.resized(img))?;
        let mut per_node: HashMap<usize, Duration> = HashMap::new();
        let mut state = self.plan.spawn()?;
        for run in 0..=runs {
            state.run_plan_with_eval(
                tvec!(input.clone().into_tvalue()),
                |ctx, st, node, inputs| {
                    let t0 = Instant::now();
                    let r = tract_onnx::tract_core::plan::eval(ctx, st, node, inputs);
                    if run > 0 {
                        *per_node.entry(node.id).or_default() += t0.elapsed();
                    }
                    r
                },
            )?;
        }
        let model = self.plan.model();
        Ok(self
            .plan
            .order_without_consts()
            .iter()
            .filter_map(|&id| {
                let t = per_node.get(&id)?;
                let op = &model.node(id).op;
                Some(NodeTime {
                    op: op.name().to_string(),
                    info: op.info().unwrap_or_default().join(" "),
                    time: *t / runs.max(1) as u32,
                })
            })
            .collect())
    }

    /// Feature vector of one image (`input_size`² RGB; other sizes are resized).
    pub fn features(&self, img: &RgbImage) -> Result<Vec<f32>> {
        Ok(self.run(img)?.0)
    }

    /// ImageNet logits, when the model has a `logits` output.
    pub fn logits(&self, img: &RgbImage) -> Result<Option<Vec<f32>>> {
        Ok(self.run(img)?.1)
    }

    /// `img` at the model's input size (borrowed when it already is).
    fn resized<'a>(&self, img: &'a RgbImage) -> std::borrow::Cow<'a, RgbImage> {
        let s = self.input_size;
        if img.dimensions() != (s, s) {
            std::borrow::Cow::Owned(image::imageops::resize(
                img,
                s,
                s,
                image::imageops::FilterType::Triangle,
            ))
        } else {
            std::borrow::Cow::Borrowed(img)
        }
    }

    fn run(&self, img: &RgbImage) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        let input = to_nchw(&self.resized(img))?;
        let outputs = self.plan.run(tvec!(input.into_tvalue()))?;
        let take = |ix: usize| -> Result<Vec<f32>> {
            let t = outputs
                .get(ix)
                .ok_or_else(|| anyhow!("model output {ix} missing"))?;
            Ok(t.to_plain_array_view::<f32>()?.iter().copied().collect())
        };
        let features = take(self.features_output)?;
        let logits = match self.logits_output {
            Some(ix) => Some(take(ix)?),
            None => None,
        };
        Ok((features, logits))
    }
}

/// `[1, 3, S, S]` float tensor with values in [0, 1].
fn to_nchw(img: &RgbImage) -> TractResult<Tensor> {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let plane = w * h;
    let mut data = vec![0f32; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + i] = p[c] as f32 * (1.0 / 255.0);
        }
    }
    Tensor::from_shape(&[1, 3, h, w], &data)
}

/// The square spatial size the model expects (224 when the model leaves it open).
fn spatial_size(model: &InferenceModel) -> Result<u32> {
    let fact = model.input_fact(0)?;
    let dims: Vec<Option<i64>> = fact
        .shape
        .dims()
        .map(|d| d.concretize().and_then(|d| d.to_i64().ok()))
        .collect();
    if !fact.shape.is_open() && dims.len() != 4 {
        bail!(
            "the model's input has rank {}; it needs [N, 3, H, W]",
            dims.len()
        );
    }
    if dims.len() == 4 {
        if let Some(c) = dims[1] {
            if c != 3 {
                bail!("the model's input has {c} channels; it needs 3 (RGB, NCHW)");
            }
        }
        match (dims[2], dims[3]) {
            (Some(h), Some(w)) if h != w => {
                bail!("the model's input is {h}x{w}; only square inputs are supported")
            }
            (Some(h), _) | (_, Some(h)) if h > 0 => return Ok(h as u32),
            _ => {}
        }
    }
    Ok(224)
}

/// Softmax of logits, for reporting class probabilities.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> Option<usize> {
    v.iter()
        .enumerate()
        .filter(|(_, x)| !x.is_nan())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_layout_is_planar_rgb_in_unit_range() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([255, 0, 51]));
        img.put_pixel(1, 0, image::Rgb([0, 102, 0]));
        let t = to_nchw(&img).unwrap();
        assert_eq!(t.shape(), &[1, 3, 1, 2]);
        let v: Vec<f32> = t
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect();
        let want = [1.0, 0.0, 0.0, 0.4, 0.2, 0.0];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{v:?}");
        }
    }

    #[test]
    fn softmax_and_argmax() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(argmax(&p), Some(1));
        assert_eq!(argmax(&[]), None);
    }

    #[test]
    fn bundled_model_loads_and_gives_1280_features() {
        let m = FeatureModel::bundled().unwrap();
        assert_eq!(m.input_size(), 224);
        assert_eq!(m.feature_len(), 1280);
        let f = m
            .features(&RgbImage::from_pixel(224, 224, image::Rgb([120, 30, 200])))
            .unwrap();
        assert_eq!(f.len(), 1280);
        assert!(f.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert_eq!(
            m.logits(&RgbImage::new(10, 10)).unwrap().map(|l| l.len()),
            Some(1000)
        );
    }

    #[test]
    fn garbage_model_is_an_error_not_a_panic() {
        assert!(FeatureModel::from_bytes(b"not an onnx file", "junk").is_err());
    }
}
