//! Attribution cost: 24,000 accounts on the tuples of 1M suspect tokens (the target:
//! ≤ 60 s on 2 cores), and open weights: 24,000 accounts, each with its own reading of 4
//! answers of 150 tokens (the model's reading is not timed here). One timed run per stage (criterion's repeated sampling is not needed
//! at this scale); run with `cargo bench -p tracemark-attribution --bench attribution`.

use std::time::Instant;

use tracemark_attribution::{
    AccountNull, AccountTable, ColourTable, attribute, attribute_readings, phantom_readings,
};
use tracemark_core::{AccountLayer, Key, Watermark, WatermarkConfig};
use tracemark_radioactivity::TupleSet;

/// 1M token ids with a Zipf-like spread over a 49,152-token vocabulary.
fn tokens(n: usize) -> Vec<u32> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            ((49_152f64.powf(u) - 1.0) as u32).min(49_151)
        })
        .collect()
}

fn main() {
    let layer = AccountLayer::new(
        AccountLayer::DEFAULT_COLOURS,
        AccountLayer::DEFAULT_DIGITS,
        1.0,
    )
    .unwrap();
    let key = Key::random(1, 0, WatermarkConfig::default())
        .with_accounts(layer)
        .unwrap();
    let wm = Watermark::new(&key);
    let ids = tokens(1_000_000);
    let accounts: Vec<String> = (0..24_000).map(|i| format!("user-{i:08}")).collect();
    let suspected = &accounts[..3];
    println!(
        "{} threads; {} suspect tokens; {} accounts; r = {}, L = {}",
        rayon::current_num_threads(),
        ids.len(),
        accounts.len(),
        layer.colours(),
        layer.digits()
    );
    let all = Instant::now();
    let t = Instant::now();
    let mut tuples = TupleSet::new(wm.lookback());
    for chunk in ids.chunks(200) {
        tuples.add_answer(chunk, None, None);
    }
    println!(
        "collect tuples     {:>8.3} s ({} distinct)",
        t.elapsed().as_secs_f64(),
        tuples.len()
    );
    let t = Instant::now();
    let table = ColourTable::from_tuples(&wm, &tuples).unwrap();
    println!(
        "colour table       {:>8.3} s ({} scored, {} green)",
        t.elapsed().as_secs_f64(),
        table.scored(),
        table.green()
    );
    let t = Instant::now();
    let null = AccountNull::new(&table);
    println!(
        "exact null         {:>8.3} s (mean {:.1})",
        t.elapsed().as_secs_f64(),
        null.mean()
    );
    let t = Instant::now();
    let a = attribute(&wm, &table, &accounts, Some(suspected), 1e-3, 0.7).unwrap();
    println!(
        "attribute          {:>8.3} s (null again, 24,000 codes and p-values, Holm, set test; {} attributed)",
        t.elapsed().as_secs_f64(),
        a.attributed.len()
    );
    println!("total              {:>8.3} s", all.elapsed().as_secs_f64());

    // Open weights: every account has its own tuple set and colour table.
    let all = Instant::now();
    let ids = tokens(24_000 * 600);
    let t = Instant::now();
    let readings: Vec<AccountTable> = accounts
        .iter()
        .zip(ids.chunks(600))
        .map(|(a, reading)| {
            let mut tuples = TupleSet::new(wm.lookback());
            for answer in reading.chunks(150) {
                tuples.add_reading(answer, answer, None);
            }
            AccountTable {
                account: a.clone(),
                answers_read: 4,
                table: ColourTable::tally(&wm, &tuples).unwrap(),
            }
        })
        .collect();
    println!(
        "open: 24,000 tuple sets and tables {:>8.3} s ({} tokens)",
        t.elapsed().as_secs_f64(),
        ids.len()
    );
    let t = Instant::now();
    let a = attribute_readings(&wm, &readings, &accounts, Some(suspected), 1e-3, 0.7).unwrap();
    println!(
        "open: attribute    {:>8.3} s (24,000 exact nulls, p-values, Holm, set test; {} attributed)",
        t.elapsed().as_secs_f64(),
        a.attributed.len()
    );
    let t = Instant::now();
    let phantoms: Vec<String> = (0..1000).map(|i| format!("phantom-{i:05}")).collect();
    phantom_readings(&wm, &readings, &phantoms).unwrap();
    println!("open: 1,000 phantoms {:>7.3} s", t.elapsed().as_secs_f64());
    println!("open: total        {:>8.3} s", all.elapsed().as_secs_f64());
}
