//! Seeded randomness and integer distributions. Every draw goes through functions here, written
//! with integer arithmetic only, so that the same seed gives the same numbers on every platform
//! and whatever the version of `rand`'s own samplers.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// The stream of the engine's generator; the scenario compiler uses [`STREAM_SCENARIO`].
pub const STREAM_ENGINE: u64 = 0;
pub const STREAM_SCENARIO: u64 = 1;

/// A `ChaCha8Rng` for (seed, run index, stream): seeded from the scenario seed, the stream
/// chosen by run index and purpose, so runs and purposes never share numbers.
pub fn rng_for(seed: u64, run: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(run.wrapping_mul(4).wrapping_add(stream));
    r
}

/// A uniform integer in `lo..=hi` (Lemire's multiply-shift with rejection).
pub fn uniform(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        return lo;
    }
    let range = hi - lo;
    if range == u64::MAX {
        return rng.next_u64();
    }
    let n = range + 1;
    loop {
        let x = rng.next_u64();
        let m = (x as u128) * (n as u128);
        let low = m as u64;
        if low >= n || low >= n.wrapping_neg() % n {
            return lo + (m >> 64) as u64;
        }
    }
}

/// True with probability `ppm` parts per million.
pub fn chance_ppm(rng: &mut ChaCha8Rng, ppm: u32) -> bool {
    if ppm >= 1_000_000 {
        return true;
    }
    if ppm == 0 {
        return false;
    }
    uniform(rng, 0, 999_999) < ppm as u64
}

/// Per-user processing latency (SPEC 3), integer milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Latency {
    Fixed {
        value_ms: u64,
    },
    Uniform {
        min_ms: u64,
        max_ms: u64,
    },
    /// Log-normal with the given median and 99th percentile.
    LogNormal {
        median_ms: u64,
        p99_ms: u64,
    },
}

impl Latency {
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        match *self {
            Latency::Fixed { value_ms } => value_ms,
            Latency::Uniform { min_ms, max_ms } => uniform(rng, min_ms, max_ms.max(min_ms)),
            Latency::LogNormal { median_ms, p99_ms } => lognormal(rng, median_ms, p99_ms),
        }
    }
}

const Q: u32 = 32; // fixed point: Q32
const ONE: i128 = 1 << Q;

/// log2(x) in Q32 for x >= 1.
fn log2_q32(x: u64) -> i128 {
    debug_assert!(x >= 1);
    let int = 63 - x.leading_zeros() as i128;
    // mantissa m in [1, 2) as Q62
    let mut m: u128 = (x as u128) << (62 - int as u32);
    let mut frac: i128 = 0;
    for i in 1..=Q {
        m = (m * m) >> 62;
        if m >= 2u128 << 62 {
            m >>= 1;
            frac |= 1 << (Q - i);
        }
    }
    (int << Q) + frac
}

/// 2^y for y in Q32 (y may be negative), as Q32.
fn exp2_q32(y: i128) -> i128 {
    let int = y >> Q; // floor
    let frac = y - (int << Q); // in [0, 1) Q32
    // e^(frac * ln2) by Taylor series in Q32
    const LN2_Q32: i128 = 2_977_044_472;
    let x = (frac * LN2_Q32) >> Q;
    let mut term = ONE;
    let mut sum = ONE;
    for k in 1..=20 {
        term = ((term * x) >> Q) / k;
        if term == 0 {
            break;
        }
        sum += term;
    }
    if int >= 0 {
        sum << int.min(60)
    } else {
        sum >> (-int).min(100)
    }
}

/// A log-normal-like draw with integer arithmetic: z ~ N(0,1) approximated by the Irwin-Hall sum
/// of 12 uniforms, then median * (p99/median)^(z / 2.3263).
fn lognormal(rng: &mut ChaCha8Rng, median: u64, p99: u64) -> u64 {
    let median = median.max(1);
    let p99 = p99.max(median);
    // z in Q32: sum of 12 uniforms in [0,1) (Q32) minus 6
    let mut z: i128 = -6 * ONE;
    for _ in 0..12 {
        z += (rng.next_u64() >> Q) as i128;
    }
    let l = log2_q32(p99) - log2_q32(median); // Q32
    // exponent = z * l / 2.3263 (2.3263 = 23263/10000)
    let e = ((z * l) >> Q) * 10_000 / 23_263;
    let factor = exp2_q32(e); // Q32
    let v = (median as i128 * factor) >> Q;
    v.clamp(0, (p99 as i128).saturating_mul(16)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_log_and_exp_are_close() {
        assert_eq!(log2_q32(1), 0);
        assert_eq!(log2_q32(8), 3 << 32);
        let l = log2_q32(10) as f64 / (1u64 << 32) as f64;
        assert!((l - 10f64.log2()).abs() < 1e-6);
        let e = exp2_q32(3 << 31) as f64 / (1u64 << 32) as f64; // 2^1.5
        assert!((e - 2f64.powf(1.5)).abs() < 1e-6);
    }

    #[test]
    fn lognormal_has_its_median_and_p99() {
        let mut r = rng_for(7, 0, STREAM_ENGINE);
        let mut v: Vec<u64> = (0..20_000)
            .map(|_| lognormal(&mut r, 1000, 10_000))
            .collect();
        v.sort();
        let med = v[10_000];
        let p99 = v[19_800];
        assert!((900..1100).contains(&med), "median {med}");
        assert!((7_000..14_000).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn uniform_stays_in_range_and_streams_differ() {
        let mut a = rng_for(1, 0, STREAM_ENGINE);
        let mut b = rng_for(1, 1, STREAM_ENGINE);
        let xa: Vec<u64> = (0..100).map(|_| uniform(&mut a, 5, 9)).collect();
        let xb: Vec<u64> = (0..100).map(|_| uniform(&mut b, 5, 9)).collect();
        assert!(xa.iter().all(|x| (5..=9).contains(x)));
        assert_ne!(xa, xb);
    }
}
