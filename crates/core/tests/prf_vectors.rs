//! The PRF byte layout is pinned against an independent Python implementation
//! (`tests/data/prf_vectors.py`: stdlib HMAC plus a from-scratch ChaCha20).

use serde_json::Value;
use tracemark_core::{
    AccountLayer, Delta, Gamma, Key, Prf, Scheme, Seeding, SeedingKind, TokenScore, Watermark,
    WatermarkConfig,
};

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/prf_vectors.json")).unwrap()
}

fn secret(v: &Value) -> [u8; 32] {
    hex::decode(v["secret"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn seeds_and_words_match_the_reference() {
    let v = vectors();
    let prf = Prf::new(&secret(&v));
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for case in cases {
        let tag = |k: &str| case[k].as_u64().unwrap() as u8;
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let seed = prf.seed(tag("scheme_tag"), tag("seeding_tag"), tag("h"), &ids);
        assert_eq!(
            hex::encode(seed.0),
            case["seed"].as_str().unwrap(),
            "{case}"
        );
        for (token, word) in case["words"].as_object().unwrap() {
            let token: u32 = token.parse().unwrap();
            assert_eq!(
                u64::from(seed.word(token)),
                word.as_u64().unwrap(),
                "token {token}"
            );
        }
    }
}

#[test]
fn key_id_and_minhash_match_the_reference() {
    let v = vectors();
    let config = WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(2.0).unwrap(),
        },
        seeding: Seeding::new(SeedingKind::MinHash, 2).unwrap(),
    };
    let key = Key::from_secret(secret(&v), config);
    assert_eq!(key.id().as_str(), v["key_id"].as_str().unwrap());

    let m = &v["minhash"];
    let window: Vec<u32> = m["window"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    let token = m["token"].as_u64().unwrap() as u32;
    let wm = Watermark::new(&key);
    assert_eq!(
        u64::from(wm.min_rank_token(&window)),
        m["min_token"].as_u64().unwrap()
    );
    let seed = wm.tuple_seed(&window, token);
    assert_eq!(u64::from(seed.word(token)), m["word"].as_u64().unwrap());
    assert_eq!(
        wm.score(&window, token),
        TokenScore::Green(m["green"].as_bool().unwrap())
    );
}

#[test]
fn account_codes_match_the_reference() {
    let v = vectors();
    let prf = Prf::new(&secret(&v));
    let cases = v["accounts"].as_array().unwrap();
    assert!(cases.len() >= 12);
    for case in cases {
        let layer = AccountLayer::new(
            case["colours"].as_u64().unwrap() as u32,
            case["digits"].as_u64().unwrap() as u32,
            1.0,
        )
        .unwrap();
        let expected: Vec<u8> = case["code"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect();
        let code = layer.code(&prf, case["account"].as_str().unwrap());
        assert_eq!(code.digits(), &expected[..], "{}", case["account"]);
    }
}
