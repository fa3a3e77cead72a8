//! `tracemark keygen` and `tracemark key-info`.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use tracemark_core::{
    AccountLayer, Key, Scheme, SchemeKind, Seeding, SeedingKind, WatermarkConfig,
};

use crate::args::{KeyInfoArgs, KeygenArgs, SchemeArg, SeedingArg};
use crate::out::{outln, warn_key_permissions};

fn config(a: &KeygenArgs) -> Result<WatermarkConfig> {
    let kind = match a.seeding {
        SeedingArg::Lefthash => SeedingKind::LeftHash,
        SeedingArg::Minhash => SeedingKind::MinHash,
        SeedingArg::Selfhash => SeedingKind::SelfHash,
    };
    let scheme = match a.scheme {
        SchemeArg::Kgw => SchemeKind::Kgw,
        SchemeArg::Gumbel => SchemeKind::Gumbel,
    };
    Ok(WatermarkConfig {
        scheme: Scheme::with_defaults(scheme, a.gamma, a.delta)?,
        seeding: Seeding::with_default_context(kind, a.context)?,
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
    if let Some(layer) = key.accounts() {
        v["accounts"] = json!({
            "colours": layer.colours(),
            "digits": layer.digits(),
            "delta": layer.delta().get(),
        });
    }
    v
}

fn generate(a: &KeygenArgs) -> Result<Key> {
    let config = config(a)?;
    let key = Key::generate(config)?;
    if !a.accounts {
        return Ok(key);
    }
    let delta = match (a.account_delta, config.scheme) {
        (Some(d), _) => d,
        (None, Scheme::Kgw { delta, .. }) => {
            f64::from(delta.get()) * AccountLayer::DEFAULT_DELTA_SHARE
        }
        (None, Scheme::Gumbel) => {
            anyhow::bail!("--accounts needs a KGW key; a Gumbel key has no bias to split")
        }
    };
    Ok(key.with_accounts(AccountLayer::new(a.colours, a.digits, delta)?)?)
}

pub fn run(a: &KeygenArgs) -> Result<ExitCode> {
    let key = generate(a)?;
    tracemark_io::write_key(&a.out, &key, a.force)?;
    if a.json {
        let mut v = describe(&key);
        v["path"] = json!(a.out.display().to_string());
        outln!("{v}")?;
    } else {
        outln!("wrote {} (mode 0600)", a.out.display())?;
        outln!("key_id  {}", key.id())?;
        outln!("scheme  {}", key.describe())?;
        outln!(
            "Keep this file secret: anyone holding it can detect, forge or remove the watermark."
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn info(a: &KeyInfoArgs) -> Result<ExitCode> {
    let path = a
        .key
        .as_ref()
        .or(a.file.as_ref())
        .expect("clap requires one");
    let key = tracemark_io::read_key(path)?;
    warn_key_permissions(path);
    if a.json {
        outln!("{}", describe(&key))?;
    } else {
        outln!("key_id  {}", key.id())?;
        outln!("scheme  {}", key.describe())?;
    }
    Ok(ExitCode::SUCCESS)
}
