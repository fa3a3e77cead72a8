//! A document fed to the detector in pieces gives exactly the result of feeding it whole,
//! for every seeding, with a prompt, with dedup on and off, and across documents (the
//! pooled aggregate).

use tracemark_core::{Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::{DetectOptions, Detection, Detector};

fn ids(n: usize, seed: u64) -> Vec<u32> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % 300) as u32
        })
        .collect()
}

fn summary(d: &Detection) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        d.test, d.skipped, d.window, d.per_token
    )
}

#[test]
fn pieces_give_the_whole_documents_result() {
    for (kind, h, gumbel) in [
        (SeedingKind::LeftHash, 0, false),
        (SeedingKind::LeftHash, 1, false),
        (SeedingKind::LeftHash, 3, true),
        (SeedingKind::SelfHash, 3, false),
        (SeedingKind::MinHash, 4, false),
    ] {
        let config = WatermarkConfig {
            seeding: Seeding::new(kind, h).unwrap(),
            scheme: if gumbel {
                Scheme::Gumbel
            } else {
                WatermarkConfig::default().scheme
            },
        };
        let wm = Watermark::new(&Key::from_secret([3; 32], config));
        for dedup in [true, false] {
            let options = DetectOptions {
                dedup,
                window: Some(16),
                per_token: true,
                ..DetectOptions::default()
            };
            let docs = [ids(900, 1), ids(3, 2), ids(400, 3)];
            let prompt = ids(50, 1);
            let (mut whole, mut pieces) =
                (Detector::new(&wm, options), Detector::new(&wm, options));
            for (d, doc) in docs.iter().enumerate() {
                let expect = whole.detect(doc, Some(&prompt));
                pieces.begin(Some(&prompt));
                // Cuts of every size: empty, shorter than h, longer.
                let mut at = 0;
                for (i, step) in [0, 1, 2, 7, 0, 64, 5, 300, 1].iter().cycle().enumerate() {
                    if at >= doc.len() || i > 200 {
                        break;
                    }
                    let end = (at + step).min(doc.len());
                    pieces.feed(&doc[at..end]);
                    at = end;
                }
                pieces.feed(&doc[at..]);
                let got = pieces.end();
                assert_eq!(
                    summary(&got),
                    summary(&expect),
                    "{kind:?} h={h} dedup={dedup} doc {d}"
                );
            }
            assert_eq!(summary(&pieces.aggregate()), summary(&whole.aggregate()));
        }
    }
}
