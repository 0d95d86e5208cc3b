//! The fast convolution op against tract's own convolution, on random inputs and weights, for
//! every depthwise shape of the bundled model and its stem (plus a few others), with and
//! without the fused ReLU6 clip — and that convolutions it does not handle are left to tract.

mod common;

use common::tract_models::{op_names, run};
use image_tsne_live::features::depthwise::{
    accelerate, convolve, depthwise_geometries, Geometry, Kernel,
};
use image_tsne_live::features::DEFAULT_MODEL;
use rand::{Rng, SeedableRng};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::DataFormat;

/// A one-conv model: `x → conv (→ max 0 → min 6)`, tract's own ops; depthwise, or dense when
/// `g.dense_in > 0`.
fn conv_model(g: &Geometry, kernel: &[f32], bias: &[f32], relu6: bool) -> TractResult<TypedModel> {
    let c = g.channels;
    let mut m = TypedModel::default();
    let cin = g.in_channels();
    let x = m.add_source("x", f32::fact([1, cin, g.in_h, g.in_w]))?;
    let k = m.add_const(
        "k",
        Tensor::from_shape(&[c, g.dense_in.max(1), g.kh, g.kw], kernel)?,
    )?;
    let b = m.add_const("b", Tensor::from_shape(&[c], bias)?)?;
    // padding after: whatever makes tract's output size the geometry's
    let pad_after = |out: usize, s: usize, k: usize, pad: usize, input: usize| {
        ((out - 1) * s + k).saturating_sub(pad + input)
    };
    let pool_spec = PoolSpec {
        data_format: DataFormat::NCHW,
        kernel_shape: tvec![g.kh, g.kw],
        padding: PaddingSpec::Explicit(
            tvec![g.pad_top, g.pad_left],
            tvec![
                pad_after(g.out_h, g.sh, g.kh, g.pad_top, g.in_h),
                pad_after(g.out_w, g.sw, g.kw, g.pad_left, g.in_w)
            ],
        ),
        dilations: None,
        strides: Some(tvec![g.sh, g.sw]),
        input_channels: cin,
        output_channels: c,
    };
    let conv = Conv {
        pool_spec,
        kernel_fmt: KernelFormat::OIHW,
        group: if g.dense_in > 0 { 1 } else { c },
        q_params: None,
    };
    let mut y = m.wire_node("conv", conv, &[x, k, b])?[0];
    assert_eq!(
        m.outlet_fact(y)?.shape.as_concrete(),
        Some(&[1, c, g.out_h, g.out_w][..]),
        "test model geometry {g:?}"
    );
    if relu6 {
        let zero = m.add_const("zero", Tensor::from_shape(&[1, 1, 1, 1], &[0f32])?)?;
        let six = m.add_const("six", Tensor::from_shape(&[1, 1, 1, 1], &[6f32])?)?;
        y = m.wire_node("relu.min", math::max(), &[y, zero])?[0];
        y = m.wire_node("relu.max", math::min(), &[y, six])?[0];
    }
    m.select_output_outlets(&[y])?;
    Ok(m)
}

/// Fast op (in the plan, and the portable kernel alone) vs tract on one geometry; returns the
/// max abs difference.
fn compare(g: &Geometry, relu6: bool, seed: u64) -> f32 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let c = g.channels;
    let mut rand_vec = |n: usize, scale: f32| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-scale..scale)).collect()
    };
    let cin = g.in_channels();
    let kernel = rand_vec(c * g.taps(), 1.0);
    let bias = rand_vec(c, 1.0);
    // scale 3: with the clip on, plenty of values land on both sides of [0, 6]
    let x = Tensor::from_shape(
        &[1, cin, g.in_h, g.in_w],
        &rand_vec(cin * g.in_h * g.in_w, 3.0),
    )
    .unwrap();

    let plain = conv_model(g, &kernel, &bias, relu6).unwrap();
    let want = run(plain.clone(), std::slice::from_ref(&x)).unwrap();

    let mut fast = plain.into_decluttered().unwrap();
    assert_eq!(accelerate(&mut fast).unwrap(), 1, "{g:?} was not replaced");
    let names = op_names(&fast);
    let op = if g.dense_in > 0 {
        "FastSmallConv"
    } else {
        "FastDepthwise"
    };
    assert!(names.iter().any(|n| n == op), "{names:?}");
    if relu6 {
        assert!(
            !names.iter().any(|n| n == "Max" || n == "Min"),
            "clip not fused: {names:?}"
        );
    }
    let got = run(fast, std::slice::from_ref(&x)).unwrap();
    assert_eq!(got.len(), want.len());
    // The plan runs the fastest kernel of this CPU; the portable one must agree with tract too.
    let mut portable = vec![f32::NAN; want.len()];
    let xs: Vec<f32> = x
        .to_plain_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect();
    let clip = relu6.then_some((0.0, 6.0));
    convolve(
        g,
        1,
        &xs,
        &kernel,
        &bias,
        clip,
        &mut portable,
        Kernel::Portable,
    )
    .unwrap();
    got.iter()
        .chain(&portable)
        .zip(want.iter().chain(&want))
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max)
}

fn bundled_geometries() -> Vec<Geometry> {
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut &DEFAULT_MODEL[..])
        .unwrap();
    model
        .set_input_fact(0, f32::fact([1, 3, 224, 224]).into())
        .unwrap();
    let typed = model.into_typed().unwrap().into_decluttered().unwrap();
    depthwise_geometries(&typed).unwrap()
}

#[test]
fn fast_depthwise_matches_tract_on_every_bundled_model_shape() {
    let mut shapes = bundled_geometries();
    // EfficientNet-Lite0: 16 blocks, one depthwise conv each, 3x3 and 5x5, stride 1 and 2;
    // and the stem, 3 → 32 channels
    assert_eq!(shapes.len(), 17, "{shapes:#?}");
    let dense: Vec<_> = shapes.iter().filter(|g| g.dense_in > 0).collect();
    assert_eq!(dense.len(), 1, "{dense:#?}");
    assert_eq!((dense[0].dense_in, dense[0].channels), (3, 32));
    for (k, s) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
        assert!(
            shapes
                .iter()
                .any(|g| g.kh == k && g.kw == k && g.sh == s && g.sw == s),
            "no {k}x{k}/{s} in {shapes:#?}"
        );
    }
    shapes.sort_by_key(|g| (g.channels, g.in_h, g.kh, g.sh, g.pad_top, g.pad_left));
    shapes.dedup();
    for (i, g) in shapes.iter().enumerate() {
        for relu6 in [false, true] {
            let d = compare(g, relu6, i as u64);
            assert!(d <= 1e-5, "{g:?} relu6 {relu6}: max abs diff {d}");
        }
    }
}

#[test]
fn fast_depthwise_matches_tract_on_other_shapes() {
    let g = |c, hw, k, s, pad| Geometry {
        channels: c,
        dense_in: 0,
        in_h: hw,
        in_w: hw,
        out_h: (hw + 2 * pad - k) / s + 1,
        out_w: (hw + 2 * pad - k) / s + 1,
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        pad_top: pad,
        pad_left: pad,
    };
    let shapes = [
        g(7, 9, 3, 1, 1),
        g(3, 23, 5, 2, 2),
        g(2, 10, 7, 1, 3),
        g(5, 12, 3, 2, 0),
        // "same" padding of TF at stride 2: nothing before, one after
        Geometry {
            pad_top: 0,
            pad_left: 0,
            out_h: 8,
            out_w: 8,
            ..g(4, 16, 3, 2, 1)
        },
        Geometry {
            kh: 3,
            kw: 5,
            pad_top: 1,
            pad_left: 2,
            ..g(3, 13, 3, 1, 1)
        },
        // dense over few input channels
        Geometry {
            dense_in: 2,
            ..g(8, 15, 3, 2, 1)
        },
        Geometry {
            dense_in: 4,
            ..g(5, 12, 5, 1, 2)
        },
    ];
    for (i, s) in shapes.iter().enumerate() {
        for relu6 in [false, true] {
            let d = compare(s, relu6, 100 + i as u64);
            assert!(d <= 1e-5, "{s:?} relu6 {relu6}: max abs diff {d}");
        }
    }
}

#[test]
fn convolutions_it_does_not_handle_stay_with_tract() {
    // stride 3: not handled; the model must still be tract's and run
    let g = Geometry {
        channels: 4,
        dense_in: 0,
        in_h: 12,
        in_w: 12,
        out_h: 4,
        out_w: 4,
        kh: 3,
        kw: 3,
        sh: 3,
        sw: 3,
        pad_top: 0,
        pad_left: 0,
    };
    let model = conv_model(&g, &[0.5; 36], &[0.1; 4], true).unwrap();
    let mut m = model.into_decluttered().unwrap();
    assert_eq!(accelerate(&mut m).unwrap(), 0);
    assert!(!op_names(&m).iter().any(|n| n == "FastDepthwise"));
    let x = Tensor::from_shape(&[1, 4, 12, 12], &[1f32; 4 * 144]).unwrap();
    let out = run(m, std::slice::from_ref(&x)).unwrap();
    assert_eq!(out.len(), 4 * 16);
    // 9 taps of 0.5 + 0.1, within [0, 6]
    assert!(out.iter().all(|v| (v - 4.6).abs() < 1e-5), "{out:?}");
}
