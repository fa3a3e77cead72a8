//! The PRF's two steps per scored tuple, each next to the implementation it replaced:
//! a seed (HMAC-SHA256 of a short message) and one keystream word (ChaCha20).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha2::Sha256;
use tracemark_core::prf::PRF_DOMAIN;
use tracemark_core::{Prf, Seed};

/// The previous seed: clone the keyed `hmac` state, update with the message, finalize.
fn seed_hmac_crate(mac: &Hmac<Sha256>, tags: [u8; 4], ids: &[u32]) -> [u8; 32] {
    let mut msg = [0u8; 16 + 4 + 4 * 256];
    msg[..16].copy_from_slice(PRF_DOMAIN);
    msg[16..20].copy_from_slice(&tags);
    for (i, id) in ids.iter().enumerate() {
        msg[20 + 4 * i..24 + 4 * i].copy_from_slice(&id.to_le_bytes());
    }
    let mut mac = mac.clone();
    mac.update(&msg[..20 + 4 * ids.len()]);
    mac.finalize().into_bytes().into()
}

/// The previous word: seek a `ChaCha20Rng`, which computes a batch of four blocks.
fn word_rand_chacha(seed: &Seed, token: u32) -> u32 {
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    rng.set_word_pos(u128::from(token));
    rng.next_u32()
}

fn bench(c: &mut Criterion) {
    let secret = [7u8; 32];
    let prf = Prf::new(&secret);
    let mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    let ids = [11u32, 222, 3333, 44444];
    assert_eq!(
        prf.seed(1, 3, 3, &ids).0,
        seed_hmac_crate(&mac, [1, 3, 3, 4], &ids)
    );
    let seed = prf.seed(1, 1, 1, &[42]);
    assert_eq!(seed.word(40_001), word_rand_chacha(&seed, 40_001));

    let mut g = c.benchmark_group("prf");
    g.bench_function("seed_4ids", |b| {
        b.iter(|| prf.seed(1, 3, 3, black_box(&ids)))
    });
    g.bench_function("seed_4ids_hmac_crate", |b| {
        b.iter(|| seed_hmac_crate(&mac, [1, 3, 3, 4], black_box(&ids)))
    });
    g.bench_function("word", |b| {
        b.iter(|| black_box(&seed).word(black_box(40_001)))
    });
    g.bench_function("word_rand_chacha", |b| {
        b.iter(|| word_rand_chacha(black_box(&seed), black_box(40_001)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
