//! Fast pointwise (1×1) convolution for the CNN: an AVX2/FMA matrix product that reads the
//! CHW activations in place (no packing), with the bias, a clip (ReLU6) or a residual add fused
//! into its store, wrapped in a tract op; and the graph rewrite that puts it in place of the
//! `EinSum` that tract's declutter makes of a 1×1 convolution (`IHW,OI->OHW`, the following
//! bias `Add`, then either `Max`/`Min` by constants or an `Add` of a same-shaped tensor).
//!
//! After the depthwise rewrite ([`super::depthwise`]), tract's matrix product (and the packing
//! of its right-hand side before every product) was three quarters of EfficientNet-Lite0's
//! time. Here the output is `out[o, p] = bias[o] + Σ_i w[o, i] · x[i, p]` over the `H·W`
//! pixels `p`: the weights are packed once, when the op is built, into panels of [`MR`] output
//! channels (`[panel][i][r]`), and the kernel computes a tile of `MR` channels × 16 pixels in
//! 12 AVX2 accumulators, one broadcast weight times two 8-pixel rows of `x` per step — the
//! pixel rows of `x` are contiguous in CHW, so nothing is copied. The last tile of a row of
//! pixels uses masked loads and stores.
//!
//! Like the depthwise rewrite (both go through [`super::rewrite`]), only exact matches are replaced (f32, concrete shapes, constant
//! weights and bias); anything else stays with tract, so any model still runs.

use anyhow::{ensure, Result};
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{EvalContext, EvalOp, Op, TypedOp, Validation};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::{as_op, op_as_typed_op};

use super::depthwise::Kernel;
use super::rewrite::{const_f32, fuse_clamps, replace_matches, sole_successor, Replacement};

/// Output channels per weight panel (rows of a kernel tile).
pub const MR: usize = 6;
/// f32 lanes of an AVX2 vector.
const LANES: usize = 8;
/// Vectors of pixels per kernel tile (tile width 16 pixels).
const NV: usize = 2;

/// Shape of one pointwise convolution: `cout × cin` weights over `pixels` (= H·W) pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub cin: usize,
    pub cout: usize,
    pub pixels: usize,
}

impl Shape {
    fn panels(&self) -> usize {
        self.cout.div_ceil(MR)
    }
}

/// Weights `[cout, cin]` (row-major) packed into panels of [`MR`] output channels,
/// `[panel][cin][MR]`, the missing rows of the last panel zero.
pub fn pack_weights(w: &[f32], cout: usize, cin: usize) -> Result<Vec<f32>> {
    ensure!(
        w.len() == cout * cin,
        "weights: {} values for {cout}×{cin}",
        w.len()
    );
    let panels = cout.div_ceil(MR);
    let mut packed = vec![0.0f32; panels * cin * MR];
    for o in 0..cout {
        let (p, r) = (o / MR, o % MR);
        for i in 0..cin {
            packed[(p * cin + i) * MR + r] = w[o * cin + i];
        }
    }
    Ok(packed)
}

/// What is fused into the store of each output value: the bias always, then one of these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Epilogue {
    /// Nothing more.
    None,
    /// `min(max(v, lo), hi)`.
    Clip(f32, f32),
    /// `v + residual` (a skip connection), the residual the op's second input.
    Residual,
}

/// `out = epilogue(bias + w·x)` for one image: `x` is `[cin, pixels]`, `out` and a residual
/// `[cout, pixels]`, `packed` from [`pack_weights`].
#[allow(clippy::too_many_arguments)]
pub fn pointwise(
    s: &Shape,
    x: &[f32],
    packed: &[f32],
    bias: &[f32],
    epilogue: Epilogue,
    residual: Option<&[f32]>,
    out: &mut [f32],
    kernel: Kernel,
) -> Result<()> {
    ensure!(x.len() == s.cin * s.pixels, "input size");
    ensure!(out.len() == s.cout * s.pixels, "output size");
    ensure!(
        packed.len() == s.panels() * s.cin * MR,
        "packed weights size"
    );
    ensure!(bias.len() == s.cout, "bias size");
    let residual = match epilogue {
        Epilogue::Residual => {
            let r =
                residual.ok_or_else(|| anyhow::anyhow!("residual epilogue without residual"))?;
            ensure!(r.len() == out.len(), "residual size");
            Some(r)
        }
        _ => None,
    };
    let p = Product {
        s,
        x,
        packed,
        bias,
        epilogue,
        residual,
    };
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            // SAFETY: `Kernel::Avx2` is only chosen when the CPU has AVX2 and FMA
            // (`Kernel::detect`), and every length was checked above.
            unsafe { avx2::pointwise(&p, out) }
        }
        _ => portable(&p, out),
    }
    Ok(())
}

/// One product to run, its lengths checked: the op's constants and one image's activations.
struct Product<'a> {
    s: &'a Shape,
    x: &'a [f32],
    packed: &'a [f32],
    bias: &'a [f32],
    epilogue: Epilogue,
    /// `Some` exactly for [`Epilogue::Residual`].
    residual: Option<&'a [f32]>,
}

/// Apply the epilogue to one value (`r` = the residual value, 0 when none).
#[inline(always)]
fn finish(v: f32, epilogue: Epilogue, r: f32) -> f32 {
    match epilogue {
        Epilogue::None => v,
        Epilogue::Clip(lo, hi) => v.max(lo).min(hi),
        Epilogue::Residual => v + r,
    }
}

/// The portable kernel: the same sums in the same order (over `i` ascending), row by row;
/// without fused multiply-adds, so it differs from the SIMD kernel in the last bits.
fn portable(p: &Product, out: &mut [f32]) {
    let Product {
        s,
        x,
        packed,
        bias,
        epilogue,
        residual,
    } = *p;
    let n = s.pixels;
    let mut acc = vec![0.0f32; n];
    for o in 0..s.cout {
        let (panel, r) = (o / MR, o % MR);
        acc.iter_mut().for_each(|a| *a = 0.0);
        for i in 0..s.cin {
            let w = packed[(panel * s.cin + i) * MR + r];
            let xr = &x[i * n..(i + 1) * n];
            for (a, &xv) in acc.iter_mut().zip(xr) {
                *a += w * xv;
            }
        }
        let row = &mut out[o * n..(o + 1) * n];
        for (j, (dst, &a)) in row.iter_mut().zip(&acc).enumerate() {
            let rv = residual.map_or(0.0, |res| res[o * n + j]);
            *dst = finish(a + bias[o], epilogue, rv);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// Lane mask with the first `n` (1..=8) lanes on.
    #[target_feature(enable = "avx2")]
    unsafe fn tail_mask(n: usize) -> __m256i {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx)
    }

    /// `MR` rows × `V` vectors of sums over all `cin` for the pixels at `x`; the last vector
    /// masked when `MASKED`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile<const V: usize, const MASKED: bool>(
        x: *const f32,
        stride: usize,
        cin: usize,
        w: *const f32,
        mask: __m256i,
    ) -> [[__m256; V]; MR] {
        let mut acc = [[_mm256_setzero_ps(); V]; MR];
        let mut xv = [_mm256_setzero_ps(); V];
        for i in 0..cin {
            let row = x.add(i * stride);
            for (v, xv) in xv.iter_mut().enumerate() {
                *xv = if MASKED && v == V - 1 {
                    _mm256_maskload_ps(row.add(v * LANES), mask)
                } else {
                    _mm256_loadu_ps(row.add(v * LANES))
                };
            }
            let wi = w.add(i * MR);
            for (r, acc) in acc.iter_mut().enumerate() {
                let wr = _mm256_broadcast_ss(&*wi.add(r));
                for v in 0..V {
                    acc[v] = _mm256_fmadd_ps(wr, xv[v], acc[v]);
                }
            }
        }
        acc
    }

    /// Add the bias, apply the epilogue and store `rows` rows of a tile at `out`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn store<const V: usize, const MASKED: bool>(
        acc: &[[__m256; V]; MR],
        rows: usize,
        bias: *const f32,
        epilogue: Epilogue,
        residual: Option<*const f32>,
        out: *mut f32,
        stride: usize,
        mask: __m256i,
    ) {
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let b = _mm256_set1_ps(*bias.add(r));
            for (v, &a) in acc.iter().enumerate() {
                let at = r * stride + v * LANES;
                let last = MASKED && v == V - 1;
                let mut y = _mm256_add_ps(a, b);
                match epilogue {
                    Epilogue::None => {}
                    Epilogue::Clip(lo, hi) => {
                        y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
                    }
                    Epilogue::Residual => {
                        if let Some(res) = residual {
                            let rv = if last {
                                _mm256_maskload_ps(res.add(at), mask)
                            } else {
                                _mm256_loadu_ps(res.add(at))
                            };
                            y = _mm256_add_ps(y, rv);
                        }
                    }
                }
                if last {
                    _mm256_maskstore_ps(out.add(at), mask, y);
                } else {
                    _mm256_storeu_ps(out.add(at), y);
                }
            }
        }
    }

    /// One run of tiles of `V` vectors (the last masked when `MASKED`) over every panel.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn columns<const V: usize, const MASKED: bool>(
        p: &Product,
        col: usize,
        out: &mut [f32],
        mask: __m256i,
    ) {
        let (s, n) = (p.s, p.s.pixels);
        for panel in 0..s.panels() {
            let o = panel * MR;
            let rows = MR.min(s.cout - o);
            let acc = tile::<V, MASKED>(
                p.x.as_ptr().add(col),
                n,
                s.cin,
                p.packed.as_ptr().add(panel * s.cin * MR),
                mask,
            );
            store::<V, MASKED>(
                &acc,
                rows,
                p.bias.as_ptr().add(o),
                p.epilogue,
                p.residual.map(|r| r.as_ptr().add(o * n + col)),
                out.as_mut_ptr().add(o * n + col),
                n,
                mask,
            );
        }
    }

    /// The whole product, tile by tile along the pixels.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; slice lengths as checked by [`super::pointwise`]
    /// (which makes the [`Product`]).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn pointwise(p: &Product, out: &mut [f32]) {
        let n = p.s.pixels;
        let full = _mm256_set1_epi32(-1);
        let wide = NV * LANES;
        let mut col = 0;
        while col + wide <= n {
            columns::<NV, false>(p, col, out, full);
            col += wide;
        }
        let left = n - col;
        if left == 0 {
            return;
        }
        let vectors = left.div_ceil(LANES);
        let last = left - (vectors - 1) * LANES;
        let mask = tail_mask(last);
        match (vectors, last == LANES) {
            (1, true) => columns::<1, false>(p, col, out, full),
            (1, false) => columns::<1, true>(p, col, out, mask),
            (_, true) => columns::<2, false>(p, col, out, full),
            (_, false) => columns::<2, true>(p, col, out, mask),
        }
    }
}

/// A pointwise convolution as a tract op: input `x` (`[cin, H, W]`, or `[1, cin, H, W]`),
/// and for [`Epilogue::Residual`] a second input shaped like the output (`[cout, H, W]`, or
/// `[1, cout, H, W]`).
#[derive(Clone)]
pub struct FastPointwise {
    pub shape: Shape,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    packed: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
    pub epilogue: Epilogue,
}

impl FastPointwise {
    /// `weights` `[cout, cin]`, `bias` `[cout]`.
    pub fn new(
        input_shape: TVec<usize>,
        output_shape: TVec<usize>,
        weights: &[f32],
        bias: Vec<f32>,
        epilogue: Epilogue,
    ) -> Result<Self> {
        let (cin, hw_in) = match &*input_shape {
            &[c, h, w] | &[1, c, h, w] => (c, h * w),
            other => anyhow::bail!("input shape {other:?}"),
        };
        let (cout, hw_out) = match &*output_shape {
            &[c, h, w] | &[1, c, h, w] => (c, h * w),
            other => anyhow::bail!("output shape {other:?}"),
        };
        ensure!(
            hw_in == hw_out && hw_in > 0 && cin > 0 && cout > 0,
            "shapes"
        );
        ensure!(bias.len() == cout, "bias size");
        let shape = Shape {
            cin,
            cout,
            pixels: hw_in,
        };
        Ok(FastPointwise {
            shape,
            input_shape,
            output_shape,
            packed: Arc::new(pack_weights(weights, cout, cin)?),
            bias: Arc::new(bias),
            epilogue,
        })
    }
}

impl FastPointwise {
    /// The weights `[cout, cin]` row-major, unpacked from the panels.
    pub fn weights(&self) -> Vec<f32> {
        let Shape { cin, cout, .. } = self.shape;
        let mut w = vec![0.0f32; cout * cin];
        for o in 0..cout {
            let (p, r) = (o / MR, o % MR);
            for i in 0..cin {
                w[o * cin + i] = self.packed[(p * cin + i) * MR + r];
            }
        }
        w
    }
    /// `[cout]`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }
    /// Shape of the input tensor: `[cin, H, W]` or `[1, cin, H, W]`.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }
    /// Shape of the output tensor: `[cout, H, W]` or `[1, cout, H, W]`.
    pub fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }
}

impl std::fmt::Debug for FastPointwise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastPointwise")
            .field("shape", &self.shape)
            .field("epilogue", &self.epilogue)
            .finish()
    }
}

impl PartialEq for FastPointwise {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        self.shape == other.shape
            && self.input_shape == other.input_shape
            && format!("{:?}", self.epilogue) == format!("{:?}", other.epilogue)
            && bits(&self.packed) == bits(&other.packed)
            && bits(&self.bias) == bits(&other.bias)
    }
}
impl Eq for FastPointwise {}

impl Op for FastPointwise {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        "FastPointwise".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?} {:?}", self.shape, self.epilogue)])
    }
    fn validation(&self) -> Validation {
        Validation::Rounding
    }
    op_as_typed_op!();
}

impl EvalOp for FastPointwise {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let wants = if self.epilogue == Epilogue::Residual {
            2
        } else {
            1
        };
        ensure!(
            inputs.len() == wants,
            "FastPointwise takes {wants} inputs, got {}",
            inputs.len()
        );
        ensure!(
            inputs[0].shape() == &*self.input_shape,
            "input {:?}, want {:?}",
            inputs[0].shape(),
            self.input_shape
        );
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let res_view = match inputs.get(1) {
            Some(r) => {
                ensure!(r.shape() == &*self.output_shape, "residual {:?}", r.shape());
                Some(r.try_as_plain_ram()?)
            }
            None => None,
        };
        let residual = match &res_view {
            Some(v) => Some(v.as_slice::<f32>()?),
            None => None,
        };
        // SAFETY: every value is written by `pointwise` below before the tensor is read.
        let mut t = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
        {
            let mut view = t.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            pointwise(
                &self.shape,
                x,
                &self.packed,
                &self.bias,
                self.epilogue,
                residual,
                out,
                Kernel::detect(),
            )?;
        }
        Ok(tvec!(t.into_tvalue()))
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for FastPointwise {
    as_op!();
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.iter().all(|f| f.datum_type == f32::datum_type()));
        ensure!(
            inputs[0].shape.as_concrete() == Some(&*self.input_shape),
            "FastPointwise input {:?}, want {:?}",
            inputs[0].shape,
            self.input_shape
        );
        if self.epilogue == Epilogue::Residual {
            ensure!(inputs.len() == 2);
            ensure!(inputs[1].shape.as_concrete() == Some(&*self.output_shape));
        }
        Ok(tvec!(f32::fact(self.output_shape.clone())))
    }
}

/// Is `axes` (`to_strs` of an `EinSum`) a 1×1 convolution: `ihw,oi->ohw`, with or without a
/// leading batch axis on the input and the output (any letters; tract's declutter writes e.g.
/// `NIHW,OI->OHW` or `IHW,OI->NOHW`)?
fn is_conv1x1(inputs: &[String], outputs: &[String]) -> bool {
    let ([x, w], [y]) = (inputs, outputs) else {
        return false;
    };
    let (x, w, y): (Vec<char>, Vec<char>, Vec<char>) = (
        x.chars().collect(),
        w.chars().collect(),
        y.chars().collect(),
    );
    let &[o, i] = &w[..] else {
        return false;
    };
    let mut letters = vec![o, i];
    let mut strip_batch = |v: &[char]| -> Option<[char; 3]> {
        match *v {
            [a, b, c] => Some([a, b, c]),
            [n, a, b, c] => {
                if !letters.contains(&n) {
                    letters.push(n);
                }
                Some([a, b, c])
            }
            _ => None,
        }
    };
    let (Some([xi, xh, xw]), Some([yo, yh, yw])) = (strip_batch(&x), strip_batch(&y)) else {
        return false;
    };
    letters.extend([xh, xw]);
    let distinct = letters
        .iter()
        .enumerate()
        .all(|(k, a)| !letters[k + 1..].contains(a));
    distinct && xi == i && yo == o && [yh, yw] == [xh, xw]
}

/// The other input of a two-input node, when one of them is `from`.
fn other_input(model: &TypedModel, id: usize, from: OutletId) -> Option<OutletId> {
    let node = model.node(id);
    match &node.inputs[..] {
        [a, b] if *a == from => Some(*b),
        [a, b] if *b == from => Some(*a),
        _ => None,
    }
}

/// The fast op for node `id`, when it is a 1×1 convolution (as tract's declutter leaves it)
/// that the kernel handles, with its bias add and what it can fuse after that.
fn match_pointwise(model: &TypedModel, id: usize) -> Result<Option<Replacement<FastPointwise>>> {
    let node = model.node(id);
    let Some(ein) = node.op_as::<EinSum>() else {
        return Ok(None);
    };
    if ein.q_params.is_some() || ein.operating_dt != f32::datum_type() || node.inputs.len() != 2 {
        return Ok(None);
    }
    let (ins, outs) = ein.axes.to_strs();
    if !is_conv1x1(&ins, &outs) {
        return Ok(None);
    }
    let x = model.outlet_fact(node.inputs[0])?;
    let (Some(in_shape), Some(out_shape)) = (
        x.shape.as_concrete().map(TVec::from),
        model
            .outlet_fact(OutletId::new(id, 0))?
            .shape
            .as_concrete()
            .map(TVec::from),
    ) else {
        return Ok(None);
    };
    if x.datum_type != f32::datum_type()
        || (in_shape.len() == 4 && in_shape[0] != 1)
        || (out_shape.len() == 4 && out_shape[0] != 1)
        || out_shape.len() < 3
    {
        return Ok(None);
    }
    let Some(weights) = const_f32(model, node.inputs[1])? else {
        return Ok(None);
    };
    let cout = out_shape[out_shape.len() - 3];
    // The bias: `Add` of a constant `[cout, 1, 1]` or `[1, cout, 1, 1]` (or a scalar).
    let out0 = OutletId::new(id, 0);
    let Some(add) = sole_successor(model, out0)? else {
        return Ok(None);
    };
    if model.node(add).op_as::<TypedBinOp>().map(|b| b.0.name()) != Some("Add") {
        return Ok(None);
    }
    let Some(bias_in) = other_input(model, add, out0) else {
        return Ok(None);
    };
    let Some(bias) = const_f32(model, bias_in)? else {
        return Ok(None);
    };
    let bias_shape = model
        .outlet_fact(bias_in)?
        .shape
        .as_concrete()
        .map(TVec::from);
    let bias = match (bias.len(), bias_shape.as_deref()) {
        (l, Some(&[c, 1, 1] | &[1, c, 1, 1])) if l == cout && c == cout => bias,
        (1, _) => vec![bias[0]; cout],
        _ => return Ok(None),
    };
    if model
        .outlet_fact(OutletId::new(add, 0))?
        .shape
        .as_concrete()
        != Some(&out_shape[..])
    {
        return Ok(None);
    }
    let after_bias = OutletId::new(add, 0);
    let mut last = add;
    let mut epilogue = Epilogue::None;
    let mut residual = None;
    if let Some(next) = sole_successor(model, after_bias)? {
        let next_node = model.node(next);
        let bin = next_node
            .op_as::<TypedBinOp>()
            .map(|b| b.0.name().to_string());
        if bin.as_deref() == Some("Add") {
            // A residual: the other input is a computed tensor of the output's shape.
            if let Some(r) = other_input(model, next, after_bias) {
                let rf = model.outlet_fact(r)?;
                if rf.konst.is_none()
                    && rf.datum_type == f32::datum_type()
                    && rf.shape.as_concrete() == Some(&out_shape[..])
                    && model
                        .outlet_fact(OutletId::new(next, 0))?
                        .shape
                        .as_concrete()
                        == Some(&out_shape[..])
                {
                    epilogue = Epilogue::Residual;
                    residual = Some(r);
                    last = next;
                }
            }
        } else if let (at, Some((lo, hi))) = fuse_clamps(model, add)? {
            epilogue = Epilogue::Clip(lo, hi);
            last = at;
        }
    }
    let Ok(op) = FastPointwise::new(in_shape, out_shape, &weights, bias, epilogue) else {
        return Ok(None);
    };
    let mut inputs = tvec![node.inputs[0]];
    inputs.extend(residual);
    Ok(Some(Replacement { op, inputs, last }))
}

/// Shapes of the 1×1 convolutions [`accelerate`] would replace (for tests and reports).
pub fn pointwise_shapes(model: &TypedModel) -> Result<Vec<(Shape, Epilogue)>> {
    let mut out = vec![];
    for id in model.eval_order()? {
        if let Some(m) = match_pointwise(model, id)? {
            out.push((m.op.shape, m.op.epilogue));
        }
    }
    Ok(out)
}

/// Replace every 1×1 convolution the kernel handles (with its bias add and a following clip or
/// residual add) by a [`FastPointwise`] node; returns how many were replaced. Run on a
/// decluttered model, before `into_optimized`.
pub fn accelerate(model: &mut TypedModel) -> Result<usize> {
    replace_matches(model, "fast_pointwise", match_pointwise)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(12345);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// out = epilogue(bias + w·x) in f64, straight from the definition.
    fn reference(s: &Shape, w: &[f32], x: &[f32], b: &[f32], e: Epilogue, r: &[f32]) -> Vec<f32> {
        let n = s.pixels;
        let mut out = vec![0.0f32; s.cout * n];
        for o in 0..s.cout {
            for p in 0..n {
                let mut v = b[o] as f64;
                for i in 0..s.cin {
                    v += w[o * s.cin + i] as f64 * x[i * n + p] as f64;
                }
                out[o * n + p] = finish(v as f32, e, r.get(o * n + p).copied().unwrap_or(0.0));
            }
        }
        out
    }

    #[test]
    fn kernels_match_the_definition_on_every_tail_and_epilogue() {
        let mut kernels = vec![Kernel::Portable];
        if Kernel::detect() != Kernel::Portable {
            kernels.push(Kernel::detect());
        }
        // pixel counts hit full tiles, 1–3 tail vectors, full and partial last vectors
        for &(cin, cout, pixels) in &[
            (3, 4, 1),
            (16, 8, 49),
            (32, 16, 24),
            (7, 6, 17),
            (24, 13, 196),
            (5, 3, 8),
            (9, 10, 40),
            (64, 12, 71),
        ] {
            let s = Shape { cin, cout, pixels };
            let w = pseudo(cout * cin, 1);
            let x = pseudo(cin * pixels, 2);
            let b = pseudo(cout, 3);
            let r = pseudo(cout * pixels, 4);
            let packed = pack_weights(&w, cout, cin).expect("pack");
            for e in [Epilogue::None, Epilogue::Clip(0.0, 0.5), Epilogue::Residual] {
                let want = reference(&s, &w, &x, &b, e, &r);
                for &k in &kernels {
                    let mut out = vec![f32::NAN; cout * pixels];
                    let res = (e == Epilogue::Residual).then_some(&r[..]);
                    pointwise(&s, &x, &packed, &b, e, res, &mut out, k).expect("run");
                    for (j, (a, b)) in out.iter().zip(&want).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                            "{s:?} {e:?} {k:?} at {j}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_simd_kernel_equals_the_portable_one() {
        if Kernel::detect() == Kernel::Portable {
            return;
        }
        let s = Shape {
            cin: 96,
            cout: 24,
            pixels: 3136,
        };
        let w = pseudo(s.cout * s.cin, 5);
        let x = pseudo(s.cin * s.pixels, 6);
        let b = pseudo(s.cout, 7);
        let packed = pack_weights(&w, s.cout, s.cin).expect("pack");
        let mut a = vec![0.0; s.cout * s.pixels];
        let mut c = a.clone();
        let e = Epilogue::Clip(0.0, 6.0);
        pointwise(&s, &x, &packed, &b, e, None, &mut a, Kernel::Portable).expect("portable");
        pointwise(&s, &x, &packed, &b, e, None, &mut c, Kernel::detect()).expect("simd");
        // Same products summed in the same order; FMA rounds once where the portable kernel
        // rounds twice.
        for (p, q) in a.iter().zip(&c) {
            assert!((p - q).abs() <= 1e-5 * (1.0 + p.abs()), "{p} vs {q}");
        }
        assert!(c.iter().any(|&v| v > 0.0 && v < 6.0) && c.contains(&6.0));
    }

    #[test]
    fn axes_patterns() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(is_conv1x1(&s(&["IHW", "OI"]), &s(&["OHW"])));
        assert!(is_conv1x1(&s(&["NIHW", "OI"]), &s(&["OHW"])));
        assert!(is_conv1x1(&s(&["IHW", "OI"]), &s(&["NOHW"])));
        assert!(is_conv1x1(&s(&["NIHW", "OI"]), &s(&["NOHW"])));
        assert!(!is_conv1x1(&s(&["IHW", "OI"]), &s(&["HOHW"])));
        assert!(!is_conv1x1(&s(&["mk", "nk"]), &s(&["mn"])));
        assert!(!is_conv1x1(&s(&["IHW", "IO"]), &s(&["OHW"])));
        assert!(!is_conv1x1(&s(&["IHW", "OI"]), &s(&["OWH"])));
        assert!(!is_conv1x1(&s(&["IHW"]), &s(&["OHW"])));
    }
}
