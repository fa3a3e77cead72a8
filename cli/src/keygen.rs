//! `tracemark keygen` and `tracemark key-info`.

use anyhow::{Result, bail};
use serde_json::json;
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};

use crate::args::{KeyInfoArgs, KeygenArgs, SchemeArg, SeedingArg};

fn config(a: &KeygenArgs) -> Result<WatermarkConfig> {
    let kind = match a.seeding {
        SeedingArg::Lefthash => SeedingKind::LeftHash,
        SeedingArg::Minhash => SeedingKind::MinHash,
        SeedingArg::Selfhash => SeedingKind::SelfHash,
    };
    let h = a.context.unwrap_or(match kind {
        SeedingKind::LeftHash => 1,
        SeedingKind::SelfHash => 3,
        SeedingKind::MinHash => 4,
    });
    let scheme = match a.scheme {
        SchemeArg::Kgw => Scheme::Kgw {
            gamma: Gamma::new(a.gamma.unwrap_or(0.25))?,
            delta: Delta::new(a.delta.unwrap_or(2.0))?,
        },
        SchemeArg::Gumbel => {
            if a.gamma.is_some() || a.delta.is_some() {
                bail!("--gamma and --delta apply to the kgw scheme only");
            }
            Scheme::Gumbel
        }
    };
    Ok(WatermarkConfig {
        scheme,
        seeding: Seeding::new(kind, h)?,
    })
}

fn describe(key: &Key) -> serde_json::Value {
    let c = key.config();
    let mut v = json!({
        "key_id": key.id().as_str(),
        "scheme": c.scheme.name(),
        "seeding": c.seeding.kind.name(),
        "context": c.seeding.lookback(),
    });
    if let Scheme::Kgw { gamma, delta } = c.scheme {
        v["gamma"] = json!(gamma.nominal());
        v["delta"] = json!(delta.get());
    }
    v
}

pub fn run(a: &KeygenArgs) -> Result<()> {
    let key = Key::generate(config(a)?)?;
    tracemark_io::write_key(&a.out, &key, a.force)?;
    if a.json {
        let mut v = describe(&key);
        v["path"] = json!(a.out.display().to_string());
        println!("{v}");
    } else {
        println!("wrote {} (mode 0600)", a.out.display());
        println!("key_id  {}", key.id());
        println!("scheme  {}", key.config().describe());
        println!(
            "Keep this file secret: anyone holding it can detect, forge or remove the watermark."
        );
    }
    Ok(())
}

pub fn info(a: &KeyInfoArgs) -> Result<()> {
    let key = tracemark_io::read_key(&a.key)?;
    if a.json {
        println!("{}", describe(&key));
    } else {
        println!("key_id  {}", key.id());
        println!("scheme  {}", key.config().describe());
    }
    Ok(())
}
