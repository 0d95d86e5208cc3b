//! The bundled CNN classifies the sample photos in `tests/fixtures/samples` into the accept
//! sets of the model's README — i.e. decoding, preprocessing and the tract plan are all right.

mod common;

use image_tsne_live::features::{argmax, softmax, FeatureModel};
use image_tsne_live::images::{self, Preprocess};

#[test]
fn sample_photos_top1_is_in_the_accept_set() {
    let samples = common::fixture("samples");
    let accept: &[(&str, &[usize])] = &[
        ("chelsea.png", &[281, 282, 285]),
        ("coffee.png", &[967]),
        ("camera.png", &[872]),
        ("rocket.png", &[540, 657, 744, 812]),
    ];
    let model = FeatureModel::bundled().unwrap();
    for (name, ok) in accept {
        let bytes = std::fs::read(samples.join(name)).unwrap();
        let prepared = images::prepare_bytes(&bytes, &Preprocess::default()).unwrap();
        let logits = model
            .logits(&prepared.cnn_input)
            .unwrap()
            .expect("bundled model has logits");
        let probs = softmax(&logits);
        let top = argmax(&probs).unwrap();
        assert!(
            ok.contains(&top),
            "{name}: top-1 {top} (p = {:.3}) not in {ok:?}",
            probs[top]
        );
        let features = model.features(&prepared.cnn_input).unwrap();
        assert_eq!(features.len(), 1280);
        assert!(features.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}
