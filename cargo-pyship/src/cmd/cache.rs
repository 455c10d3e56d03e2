//! `cargo pyship cache info|clean`: what the pyship cache holds (downloads,
//! runtimes, compressed archive entries, the prepared wine prefix, import
//! check markers), and removing it. No project is needed.

use std::process::ExitCode;

use pyship_build::cache::Cache;
use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::report::{human_bytes, Reporter};

use crate::cli::{CacheAction, CacheArgs, Format};
use crate::output::Output;

pub fn run(a: CacheArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let cache = Cache::from_env(env);
    match a.action {
        CacheAction::Info { format } => {
            let usage = cache.usage()?;
            match format {
                Format::Json => {
                    let v = serde_json::json!({
                        "root": cache.root(),
                        "buckets": usage,
                        "bytes": usage.iter().map(|u| u.bytes).sum::<u64>(),
                    });
                    println!("{}", serde_json::to_string_pretty(&v).expect("JSON"));
                }
                Format::Text => {
                    println!("{}", cache.root().display());
                    for u in &usage {
                        println!(
                            "  {:<20} {:>8} files {:>10}",
                            u.name,
                            u.files,
                            human_bytes(u.bytes)
                        );
                    }
                    println!(
                        "  {:<20} {:>8} files {:>10}",
                        "total",
                        usage.iter().map(|u| u.files).sum::<u64>(),
                        human_bytes(usage.iter().map(|u| u.bytes).sum())
                    );
                }
            }
        }
        CacheAction::Clean { bucket } => {
            let removed = cache.clean(&bucket)?;
            for u in &removed {
                out.status(
                    "Removed",
                    &format!(
                        "{} ({} files, {})",
                        cache.bucket(&u.name).display(),
                        u.files,
                        human_bytes(u.bytes)
                    ),
                );
            }
            out.status(
                "Cleaned",
                &format!(
                    "{} ({} freed)",
                    cache.root().display(),
                    human_bytes(removed.iter().map(|u| u.bytes).sum())
                ),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
