//! How well two labellings of the same items agree: adjusted mutual information (Vinh, Epps &
//! Bailey 2010), the measure the cluster benchmark reports against known categories. 1 for the
//! same partition (whatever the label numbers), about 0 for unrelated ones. Normalised by the
//! arithmetic mean of the two entropies, as scikit-learn's `adjusted_mutual_info_score` does by
//! default, so the numbers compare with Python peers.

use std::collections::HashMap;

/// Adjusted mutual information of two labellings (any hashable labels; noise is one more label).
/// Two labellings that are each one single group agree perfectly (1).
pub fn adjusted_mutual_info<A, B>(a: &[A], b: &[B]) -> f64
where
    A: std::hash::Hash + Eq,
    B: std::hash::Hash + Eq,
{
    assert_eq!(a.len(), b.len(), "labellings of different lengths");
    let n = a.len();
    if n == 0 {
        return 1.0;
    }
    let ia = dense(a);
    let ib = dense(b);
    let (ka, kb) = (count(&ia), count(&ib));
    if (ka == 1 && kb == 1) || (ka == n && kb == n) {
        return 1.0;
    }
    let mut sa = vec![0usize; ka];
    let mut sb = vec![0usize; kb];
    let mut joint: HashMap<(usize, usize), usize> = HashMap::new();
    for (&x, &y) in ia.iter().zip(&ib) {
        sa[x] += 1;
        sb[y] += 1;
        *joint.entry((x, y)).or_default() += 1;
    }
    let nf = n as f64;
    let mi: f64 = joint
        .iter()
        .map(|(&(x, y), &c)| {
            let c = c as f64;
            c / nf * (nf * c / (sa[x] as f64 * sb[y] as f64)).ln()
        })
        .sum();
    let entropy = |s: &[usize]| -> f64 {
        s.iter()
            .map(|&c| {
                let p = c as f64 / nf;
                -p * p.ln()
            })
            .sum()
    };
    let (ha, hb) = (entropy(&sa), entropy(&sb));
    let emi = expected_mutual_info(&sa, &sb, n);
    let denominator = 0.5 * (ha + hb) - emi;
    if denominator.abs() < 1e-15 {
        return 0.0;
    }
    (mi - emi) / denominator
}

/// Labels renumbered `0..k` in order of first appearance.
fn dense<T: std::hash::Hash + Eq>(labels: &[T]) -> Vec<usize> {
    let mut ids: HashMap<&T, usize> = HashMap::new();
    labels
        .iter()
        .map(|l| {
            let next = ids.len();
            *ids.entry(l).or_insert(next)
        })
        .collect()
}

fn count(dense: &[usize]) -> usize {
    dense.iter().max().map_or(0, |m| m + 1)
}

/// Expected mutual information of two random labellings with these group sizes
/// (hypergeometric model), with log-factorials from a table.
fn expected_mutual_info(sa: &[usize], sb: &[usize], n: usize) -> f64 {
    let mut log_fact = vec![0f64; n + 1];
    for i in 1..=n {
        log_fact[i] = log_fact[i - 1] + (i as f64).ln();
    }
    let nf = n as f64;
    let mut emi = 0.0;
    for &a in sa {
        for &b in sb {
            let lo = (a + b).saturating_sub(n).max(1);
            let hi = a.min(b);
            // the part of the hypergeometric probability that does not depend on nij
            let fixed = log_fact[a] + log_fact[b] + log_fact[n - a] + log_fact[n - b] - log_fact[n];
            for nij in lo..=hi {
                let p = (fixed
                    - log_fact[nij]
                    - log_fact[a - nij]
                    - log_fact[b - nij]
                    - log_fact[n + nij - a - b])
                    .exp();
                let v = nij as f64;
                emi += v / nf * (nf * v / (a as f64 * b as f64)).ln() * p;
            }
        }
    }
    emi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_partition_scores_one_whatever_the_label_names() {
        let a = [0, 0, 1, 1, 2, 2, 2];
        let b = ["x", "x", "z", "z", "y", "y", "y"];
        assert!((adjusted_mutual_info(&a, &b) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn matches_scikit_learn_on_a_small_case() {
        // sklearn.metrics.adjusted_mutual_info_score([0,0,0,1,1,1,2,2,2,2], [0,0,1,1,1,2,2,2,2,0])
        // = 0.237288777... (scikit-learn 1.9.1, average_method="arithmetic")
        let a = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
        let b = [0, 0, 1, 1, 1, 2, 2, 2, 2, 0];
        let ami = adjusted_mutual_info(&a, &b);
        assert!((ami - 0.237_288_777_7).abs() < 1e-9, "{ami}");
    }

    #[test]
    fn unrelated_labellings_score_near_zero() {
        // 600 items, labels from two independent generators
        let mut s = 7u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 33) as usize
        };
        let a: Vec<usize> = (0..600).map(|_| next() % 6).collect();
        let b: Vec<usize> = (0..600).map(|_| next() % 5).collect();
        let ami = adjusted_mutual_info(&a, &b);
        assert!(ami.abs() < 0.02, "{ami}");
        // and a labelling that refines the other by splitting one group scores in between
        let c: Vec<usize> = a
            .iter()
            .enumerate()
            .map(|(i, &x)| if x == 0 { 10 + i % 2 } else { x })
            .collect();
        let refined = adjusted_mutual_info(&a, &c);
        assert!(refined > 0.8 && refined < 1.0, "{refined}");
    }
}
