//! The fast pointwise (1×1) convolution op against tract's own convolution, on random inputs
//! and weights, for every 1×1 shape of the bundled model with the epilogue the model fuses
//! there (nothing, the ReLU6 clip, or the residual add) — and that what it does not handle is
//! left to tract.

mod common;

use common::tract_models::{op_names, run};
use image_tsne_live::features::depthwise::{self, Kernel};
use image_tsne_live::features::pointwise::{
    accelerate, pack_weights, pointwise, pointwise_shapes, Epilogue, Shape,
};
use image_tsne_live::features::DEFAULT_MODEL;
use rand::{Rng, SeedableRng};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::DataFormat;

/// A one-conv model of tract's own ops: `x → conv 1×1 (stride s) → epilogue`, where the
/// residual of [`Epilogue::Residual`] is a second source `r`.
fn conv_model(
    cin: usize,
    cout: usize,
    side: usize,
    stride: usize,
    weights: &[f32],
    bias: &[f32],
    epilogue: Epilogue,
) -> TractResult<TypedModel> {
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact([1, cin, side, side]))?;
    let k = m.add_const("k", Tensor::from_shape(&[cout, cin, 1, 1], weights)?)?;
    let b = m.add_const("b", Tensor::from_shape(&[cout], bias)?)?;
    let pool_spec = PoolSpec {
        data_format: DataFormat::NCHW,
        kernel_shape: tvec![1, 1],
        padding: PaddingSpec::Valid,
        dilations: None,
        strides: Some(tvec![stride, stride]),
        input_channels: cin,
        output_channels: cout,
    };
    let conv = Conv {
        pool_spec,
        kernel_fmt: KernelFormat::OIHW,
        group: 1,
        q_params: None,
    };
    let mut y = m.wire_node("conv", conv, &[x, k, b])?[0];
    let out = side.div_ceil(stride);
    match epilogue {
        Epilogue::None => {}
        Epilogue::Clip(lo, hi) => {
            let lo = m.add_const("lo", Tensor::from_shape(&[1, 1, 1, 1], &[lo])?)?;
            let hi = m.add_const("hi", Tensor::from_shape(&[1, 1, 1, 1], &[hi])?)?;
            y = m.wire_node("relu.min", math::max(), &[y, lo])?[0];
            y = m.wire_node("relu.max", math::min(), &[y, hi])?[0];
        }
        Epilogue::Residual => {
            let r = m.add_source("r", f32::fact([1, cout, out, out]))?;
            y = m.wire_node("skip", math::add(), &[y, r])?[0];
        }
    }
    m.select_output_outlets(&[y])?;
    Ok(m)
}

/// The fast op in the plan and the portable kernel alone vs tract; returns the largest
/// difference relative to the largest output.
fn compare(s: &Shape, epilogue: Epilogue, seed: u64) -> f32 {
    let side = (s.pixels as f64).sqrt() as usize;
    assert_eq!(side * side, s.pixels, "square maps only: {s:?}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rand_vec = |n: usize, scale: f32| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-scale..scale)).collect()
    };
    let weights = rand_vec(s.cout * s.cin, 1.0 / (s.cin as f32).sqrt());
    let bias = rand_vec(s.cout, 1.0);
    let xs = rand_vec(s.cin * s.pixels, 3.0);
    let rs = rand_vec(s.cout * s.pixels, 3.0);
    let x = Tensor::from_shape(&[1, s.cin, side, side], &xs).unwrap();
    let mut inputs = vec![x];
    if epilogue == Epilogue::Residual {
        inputs.push(Tensor::from_shape(&[1, s.cout, side, side], &rs).unwrap());
    }

    let plain = conv_model(s.cin, s.cout, side, 1, &weights, &bias, epilogue).unwrap();
    let want = run(plain.clone(), &inputs).unwrap();

    let mut fast = plain.into_decluttered().unwrap();
    assert_eq!(accelerate(&mut fast).unwrap(), 1, "{s:?} was not replaced");
    let names = op_names(&fast);
    assert!(names.iter().any(|n| n == "FastPointwise"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n == "EinSum" || n == "Add" || n == "Max" || n == "Min"),
        "bias, clip or residual not fused: {names:?}"
    );
    let got = run(fast, &inputs).unwrap();
    assert_eq!(got.len(), want.len());
    // The plan runs the fastest kernel of this CPU; the portable one must agree with tract too.
    let mut portable = vec![f32::NAN; want.len()];
    let packed = pack_weights(&weights, s.cout, s.cin).unwrap();
    let residual = (epilogue == Epilogue::Residual).then_some(&rs[..]);
    pointwise(
        s,
        &xs,
        &packed,
        &bias,
        epilogue,
        residual,
        &mut portable,
        Kernel::Portable,
    )
    .unwrap();
    let scale = want.iter().map(|v| v.abs()).fold(0f32, f32::max).max(1e-6);
    got.iter()
        .chain(&portable)
        .zip(want.iter().chain(&want))
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0f32, f32::max)
}

/// The bundled model's 1×1 convolutions, as the rewrite finds them after the depthwise one.
fn model_shapes() -> Vec<(Shape, Epilogue)> {
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut &DEFAULT_MODEL[..])
        .unwrap();
    model
        .set_input_fact(0, f32::fact([1, 3, 224, 224]).into())
        .unwrap();
    let mut typed = model.into_typed().unwrap().into_decluttered().unwrap();
    depthwise::accelerate(&mut typed).unwrap();
    pointwise_shapes(&typed).unwrap()
}

#[test]
fn every_pointwise_shape_of_the_model_matches_tract() {
    let shapes = model_shapes();
    // EfficientNet-Lite0: 16 blocks, 15 with an expand conv, each with a project conv, + head
    assert_eq!(shapes.len(), 32, "{shapes:?}");
    let clips = shapes
        .iter()
        .filter(|(_, e)| matches!(e, Epilogue::Clip(lo, hi) if *lo == 0.0 && *hi == 6.0))
        .count();
    let residuals = shapes
        .iter()
        .filter(|(_, e)| *e == Epilogue::Residual)
        .count();
    // expand convs and the head clip; 9 blocks add their input back
    assert_eq!(clips, 16, "{shapes:?}");
    assert_eq!(residuals, 9, "{shapes:?}");
    let mut seen = std::collections::HashSet::new();
    for (i, (s, e)) in shapes.iter().enumerate() {
        if !seen.insert((s.cin, s.cout, s.pixels, format!("{e:?}"))) {
            continue;
        }
        let d = compare(s, *e, i as u64);
        assert!(d <= 1e-5, "{s:?} {e:?}: relative difference {d}");
    }
}

#[test]
fn a_strided_1x1_convolution_is_left_to_tract() {
    let (cin, cout) = (8, 16);
    let w = vec![0.5f32; cin * cout];
    let b = vec![0.0f32; cout];
    let mut m = conv_model(cin, cout, 8, 2, &w, &b, Epilogue::None)
        .unwrap()
        .into_decluttered()
        .unwrap();
    assert_eq!(accelerate(&mut m).unwrap(), 0, "{:?}", op_names(&m));
}

#[test]
fn kernel_detection_matches_the_cpu() {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        assert_eq!(Kernel::detect(), Kernel::Avx2);
        return;
    }
    assert_eq!(Kernel::detect(), Kernel::Portable);
}
