//! Running small tract models built in a test, for comparing our ops with tract's own.

use tract_onnx::prelude::*;

/// Optimize and run `model` on `inputs`; its first output, flattened.
pub fn run(model: TypedModel, inputs: &[Tensor]) -> TractResult<Vec<f32>> {
    let plan = model.into_optimized()?.into_runnable()?;
    let out = plan.run(inputs.iter().map(|t| t.clone().into_tvalue()).collect())?;
    Ok(out[0]
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect())
}

/// The op names of `model`'s nodes.
pub fn op_names(model: &TypedModel) -> Vec<String> {
    model
        .nodes()
        .iter()
        .map(|n| n.op.name().to_string())
        .collect()
}
