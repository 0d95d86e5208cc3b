//! Names for clusters from the images alone: the bundled model's own ImageNet head.
//!
//! The model's `logits` are one matrix product on its `features` (`Gemm(features, W, b)`), so the
//! class probabilities of every image come from the cached feature vectors with no second pass
//! over the pictures. A cluster is named by the one or two classes that dominate its members'
//! mean probabilities, when they do ("tabby · Egyptian cat"); otherwise by the file name of
//! its most typical member. The class names are `models/imagenet-classes.txt` (torchvision's
//! readable ILSVRC-2012 names, in the model's output order; provenance in `models/README.md`).

use anyhow::{bail, Context, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use std::path::Path;
use tract_onnx::prelude::*;

/// The 1 000 ImageNet class names, in the order of the model's `logits`.
pub fn imagenet_classes() -> Vec<&'static str> {
    include_str!("../../models/imagenet-classes.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// A model's classifier on its feature vectors: `logits = W · features + b`, with a name for
/// every class.
#[derive(Clone, Debug)]
pub struct ClassHead {
    /// classes × features.
    weights: Array2<f32>,
    bias: Array1<f32>,
    names: Vec<String>,
}

impl ClassHead {
    /// The head of the model `--model` names (`None`: the bundled one). `Ok(None)` when the
    /// model has no `logits = Gemm(features, W, b)` or its classes are not the 1 000 we can name.
    pub fn of_model(model: Option<&Path>) -> Result<Option<ClassHead>> {
        let bytes = match model {
            None => std::borrow::Cow::Borrowed(crate::features::DEFAULT_MODEL),
            Some(p) => std::borrow::Cow::Owned(
                std::fs::read(p).with_context(|| format!("cannot read model {}", p.display()))?,
            ),
        };
        Self::from_onnx(&bytes)
    }

    /// Find `logits = Gemm(features, W, b)` in an ONNX file and take `W` and `b`.
    pub fn from_onnx(bytes: &[u8]) -> Result<Option<ClassHead>> {
        let proto = tract_onnx::onnx().proto_model_for_read(&mut &bytes[..])?;
        let Some(graph) = proto.graph.as_ref() else {
            return Ok(None);
        };
        let Some(gemm) = graph.node.iter().find(|node| {
            node.op_type == "Gemm"
                && node.output.iter().any(|o| o == "logits")
                && node.input.first().is_some_and(|i| i == "features")
        }) else {
            return Ok(None);
        };
        let attr = |name: &str| gemm.attribute.iter().find(|a| a.name == name);
        let trans_a = attr("transA").map_or(0, |a| a.i);
        let trans_b = attr("transB").map_or(0, |a| a.i);
        let alpha = attr("alpha").map_or(1.0, |a| a.f);
        let beta = attr("beta").map_or(1.0, |a| a.f);
        if trans_a != 0 {
            return Ok(None);
        }
        let init = |name: &str| -> Result<Option<Tensor>> {
            match graph.initializer.iter().find(|t| t.name == name) {
                None => Ok(None),
                Some(t) => Ok(Some(tract_onnx::tensor::load_tensor(
                    &tract_onnx::data_resolver::FopenDataResolver,
                    t,
                    None,
                )?)),
            }
        };
        let (Some(w), Some(b)) = (
            init(&gemm.input[1])?,
            match gemm.input.get(2) {
                Some(name) => init(name)?,
                None => None,
            },
        ) else {
            return Ok(None);
        };
        let w = w.into_plain_array::<f32>()?;
        let b = b.into_plain_array::<f32>()?;
        if w.ndim() != 2 || b.is_empty() {
            return Ok(None);
        }
        let w = w.into_dimensionality::<ndarray::Ix2>()?;
        // W is features × classes, or classes × features when transB
        let weights = if trans_b != 0 {
            w.to_owned()
        } else {
            w.t().to_owned()
        } * alpha;
        let bias = Array1::from_iter(b.iter().copied()) * beta;
        let names = imagenet_classes();
        if weights.nrows() != names.len() || bias.len() != names.len() {
            return Ok(None);
        }
        Ok(Some(ClassHead {
            weights,
            bias,
            names: names.into_iter().map(str::to_string).collect(),
        }))
    }

    /// Length of the feature vectors the head takes.
    pub fn feature_len(&self) -> usize {
        self.weights.ncols()
    }

    pub fn class_name(&self, class: usize) -> &str {
        &self.names[class]
    }

    /// The logits of every row of `features` (rows × classes).
    pub fn logits(&self, features: ArrayView2<f32>) -> Result<Array2<f32>> {
        if features.ncols() != self.feature_len() {
            bail!(
                "feature vectors of length {} do not fit a head of {}",
                features.ncols(),
                self.feature_len()
            );
        }
        Ok(features.dot(&self.weights.t()) + self.bias.view().insert_axis(Axis(0)))
    }

    /// Mean class probabilities (softmax of each row's logits, averaged) of `rows` of
    /// `features`.
    pub fn mean_probabilities(
        &self,
        features: ArrayView2<f32>,
        rows: &[usize],
    ) -> Result<Vec<f32>> {
        let mut sum = vec![0f64; self.names.len()];
        // a block of rows at a time: a whole collection's logits would be n × 1000 floats
        for block in rows.chunks(1024) {
            let picked = features.select(Axis(0), block);
            let logits = self.logits(picked.view())?;
            for row in logits.rows() {
                for (m, p) in sum.iter_mut().zip(softmax(row)) {
                    *m += f64::from(p);
                }
            }
        }
        let n = rows.len().max(1) as f64;
        Ok(sum.into_iter().map(|m| (m / n) as f32).collect())
    }
}

fn softmax(logits: ArrayView1<f32>) -> Vec<f32> {
    crate::features::softmax(logits.as_slice().unwrap_or(&logits.to_vec()))
}

/// A class names a cluster on its own when its members give it at least this mean probability.
pub const DOMINANT: f32 = 0.5;
/// Or when it has at least [`DISTINCT_P`] and is [`DISTINCT_LIFT`] times as likely in the
/// cluster as in the whole collection: classes the model gives everything a little of (on
/// clip art: "nipple", "whistle") do not name a group.
pub const DISTINCT_P: f32 = 0.15;
pub const DISTINCT_LIFT: f32 = 4.0;
/// A second class joins the name when it is at least this share of the first and distinct too.
pub const SECOND_SHARE: f32 = 0.5;

/// The name of a cluster from its members' mean class probabilities `mean` and the whole
/// collection's `overall`: its leading class when that is clear (dominant, or distinct to the
/// cluster), with the runner-up when it is close and distinct too; `None` when no class is
/// clear. Returns the name and the classes used with their probabilities.
pub fn name_from_classes(
    mean: &[f32],
    overall: &[f32],
    class_name: impl Fn(usize) -> String,
) -> Option<(String, Vec<(String, f32)>)> {
    let mut order: Vec<usize> = (0..mean.len()).collect();
    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
    let (&c1, &c2) = (order.first()?, order.get(1)?);
    let lift = |c: usize| mean[c] / overall.get(c).copied().unwrap_or(0.0).max(1e-6);
    let clear = mean[c1] >= DOMINANT || (mean[c1] >= DISTINCT_P && lift(c1) >= DISTINCT_LIFT);
    if !clear {
        return None;
    }
    let n1 = class_name(c1);
    if mean[c2] >= SECOND_SHARE * mean[c1] && lift(c2) >= DISTINCT_LIFT.min(lift(c1)) {
        let n2 = class_name(c2);
        Some((format!("{n1} · {n2}"), vec![(n1, mean[c1]), (n2, mean[c2])]))
    } else {
        Some((n1.clone(), vec![(n1, mean[c1])]))
    }
}

/// The row of `rows` nearest the mean of `rows` in `space` (the cluster's most typical member).
pub fn most_typical(space: ArrayView2<f32>, rows: &[usize]) -> Option<usize> {
    let picked = space.select(Axis(0), rows);
    let mean = picked.mean_axis(Axis(0))?;
    rows.iter()
        .zip(picked.rows())
        .map(|(&r, row)| {
            let d: f32 = row.iter().zip(&mean).map(|(a, b)| (a - b) * (a - b)).sum();
            (d, r)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, r)| r)
}

/// A file's name without its extension, for a cluster named by its typical member.
pub fn file_label(path: &Path) -> String {
    path.file_stem()
        .or_else(|| path.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_list_is_the_thousand_imagenet_names_in_order() {
        let c = imagenet_classes();
        assert_eq!(c.len(), 1000);
        assert_eq!(c[0], "tench");
        assert_eq!(c[281], "tabby");
        assert_eq!(c[285], "Egyptian cat");
        assert_eq!(c[999], "toilet tissue");
        let unique: std::collections::HashSet<_> = c.iter().collect();
        assert_eq!(unique.len(), 1000, "names are unique");
    }

    #[test]
    fn the_bundled_head_reproduces_the_models_logits() {
        let head = ClassHead::of_model(None)
            .unwrap()
            .expect("the bundled model has a head");
        let model = crate::features::FeatureModel::bundled().unwrap();
        // a picture with structure (not a flat colour)
        let img = image::RgbImage::from_fn(224, 224, |x, y| {
            image::Rgb([
                (x * 255 / 223) as u8,
                (y * 255 / 223) as u8,
                ((x ^ y) & 255) as u8,
            ])
        });
        let features = model.features(&img).unwrap();
        let want = model.logits(&img).unwrap().unwrap();
        let f = Array2::from_shape_vec((1, features.len()), features).unwrap();
        let got = head.logits(f.view()).unwrap();
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-3,
            "head logits differ from the model's by {worst}"
        );
    }

    #[test]
    fn names_follow_the_leading_classes() {
        let name = |c: usize| format!("c{c}");
        let overall = vec![0.1f32; 10];
        let mut p = vec![0.01f32; 10];
        // dominant: named whatever the rest of the collection looks like
        p[3] = 0.6;
        p[5] = 0.1;
        assert_eq!(name_from_classes(&p, &overall, name).unwrap().0, "c3");
        // a close runner-up that is as distinct joins the name
        p[5] = 0.4;
        let rare = {
            let mut o = overall.clone();
            o[3] = 0.01;
            o[5] = 0.01;
            o
        };
        assert_eq!(name_from_classes(&p, &rare, name).unwrap().0, "c3 · c5");
        // ...and one the whole collection has as much of does not
        let mut common = overall.clone();
        common[5] = 0.4;
        assert_eq!(name_from_classes(&p, &common, name).unwrap().0, "c3");
        // a weak lead names the cluster only when it is distinct to it
        let mut weak = vec![0.05f32; 10];
        weak[2] = 0.2;
        assert!(name_from_classes(&weak, &overall, name).is_none());
        assert_eq!(
            name_from_classes(
                &weak,
                &rare
                    .iter()
                    .enumerate()
                    .map(|(k, v)| if k == 2 { 0.02 } else { *v })
                    .collect::<Vec<_>>(),
                name
            )
            .unwrap()
            .0,
            "c2"
        );
        let flat = vec![0.1f32; 10];
        assert!(name_from_classes(&flat, &overall, name).is_none());
    }

    #[test]
    fn the_typical_member_is_nearest_the_mean() {
        let space = Array2::from_shape_vec((4, 1), vec![0.0, 1.0, 2.0, 10.0]).unwrap();
        // mean of rows 0, 1, 2 is 1
        assert_eq!(most_typical(space.view(), &[0, 1, 2]), Some(1));
        assert_eq!(file_label(Path::new("a/b/cat photo.jpg")), "cat photo");
    }
}
