//! The delta patches of a release (see [`crate::delta`]): for each portable
//! archive of this release, the patch from the previous release's archive of
//! the same install type, which is downloaded from the release server and
//! checked against the previous release's `manifest.json` first.
//!
//! A delta is an optimisation: when there is no previous release, it has no
//! such archive, a download fails or a patch would be nearly as large as the
//! archive, the release is published without one (a warning says why) and
//! apps download the full archive, as they always can.

use std::path::{Path, PathBuf};

use super::Provider;
use crate::context::Context;
use crate::delta::{self, Base, Made};
use crate::error::escaped;
use crate::plan::{InstallType, Plan};

/// Where the previous release's archives are put while patches are made.
fn base_dir(plan: &Plan) -> PathBuf {
    plan.out_dir.join(".pyship").join("delta-base")
}

/// The patches of this release, each with the name of the asset it
/// rebuilds. Never fails: what cannot be made is reported and left out.
pub fn make_all(plan: &Plan, provider: &dyn Provider, ctx: &Context<'_>) -> Vec<(String, Made)> {
    let portable: Vec<_> = plan
        .artifacts
        .iter()
        .filter(|a| {
            matches!(
                crate::manifest::install_type(a),
                Some(InstallType::PortableWindows | InstallType::PortableLinux)
            ) && a.path.is_file()
        })
        .collect();
    if portable.is_empty() {
        return Vec::new();
    }
    let Some(prev_tag) = crate::manifest::previous_tag(plan) else {
        ctx.reporter
            .debug("no earlier version tag: this release gets no delta patches");
        return Vec::new();
    };
    let dir = base_dir(plan);
    let out = match make_from(plan, provider, ctx, &prev_tag, &portable, &dir) {
        Ok(made) => made,
        Err(why) => {
            ctx.reporter.warn(&format!(
                "no delta patches from {}: {why}; apps download the full archive",
                escaped(&prev_tag)
            ));
            Vec::new()
        }
    };
    let _ = fs_err::remove_dir_all(&dir);
    out
}

fn make_from(
    plan: &Plan,
    provider: &dyn Provider,
    ctx: &Context<'_>,
    prev_tag: &str,
    portable: &[&crate::plan::Artifact],
    dir: &Path,
) -> Result<Vec<(String, Made)>, String> {
    // The tag as messages show it.
    let prev_tag_shown = escaped(prev_tag);
    let Some(release) = provider
        .release_by_tag(prev_tag)
        .map_err(|e| e.to_string())?
    else {
        return Err(format!("the server has no release {prev_tag_shown}"));
    };
    let assets = provider
        .list_assets(release.id)
        .map_err(|e| e.to_string())?;
    let manifest_asset = assets
        .iter()
        .find(|a| a.name == "manifest.json")
        .ok_or_else(|| format!("release {prev_tag_shown} has no manifest.json"))?;
    let bytes = provider
        .download_asset(&release, manifest_asset)
        .map_err(|e| e.to_string())?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("manifest.json of {prev_tag_shown} is not JSON: {e}"))?;
    let version = manifest["version"]["pep440"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| prev_tag.trim_start_matches('v').to_owned());
    fs_err::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for artifact in portable {
        let kind = crate::manifest::install_type(artifact)
            .expect("filtered above")
            .as_str();
        let Some(entry) = manifest["assets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["install_type"] == kind)
        else {
            ctx.reporter.warn(&format!(
                "no delta for {}: release {prev_tag_shown} has no {kind} asset",
                artifact.file_name
            ));
            continue;
        };
        let (Some(name), Some(sha)) = (entry["name"].as_str(), entry["sha256"].as_str()) else {
            ctx.reporter.warn(&format!(
                "no delta for {}: manifest.json of {prev_tag_shown} lists its {kind} asset without a name or SHA-256",
                artifact.file_name
            ));
            continue;
        };
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
            && !name.starts_with('.');
        let Some(asset) = assets.iter().find(|a| a.name == name).filter(|_| plain) else {
            ctx.reporter.warn(&format!(
                "no delta for {}: release {prev_tag_shown} has no asset {name:?}",
                artifact.file_name
            ));
            continue;
        };
        let base_path = dir.join(name);
        ctx.reporter.status(
            "Downloading",
            &format!(
                "{name} of {prev_tag_shown} ({} bytes) to make the delta",
                asset.size
            ),
        );
        if let Err(e) = provider.download_asset_to(&release, asset, &base_path) {
            ctx.reporter.warn(&format!(
                "no delta for {}: downloading {name} of {prev_tag_shown} failed: {e}",
                artifact.file_name
            ));
            continue;
        }
        match crate::fs::sha256_file(&base_path) {
            Ok(got) if got.eq_ignore_ascii_case(sha) => {}
            _ => {
                ctx.reporter.warn(&format!(
                    "no delta for {}: {name} of {prev_tag_shown} does not match the SHA-256 its manifest.json lists",
                    artifact.file_name
                ));
                continue;
            }
        }
        let base = Base {
            version: version.clone(),
            tag: prev_tag.to_owned(),
            asset: name.to_owned(),
            sha256: sha.to_ascii_lowercase(),
        };
        match delta::make(
            &base,
            &base_path,
            &artifact.path,
            &plan.out_dir,
            plan.epoch.seconds,
        ) {
            Ok(made) if (made.size as f64) < delta::MAX_SHARE * made.full_size as f64 => {
                ctx.reporter.status(
                    "Delta",
                    &format!(
                        "{} ({} bytes, {:.2}% of {}; {} of {} files)",
                        made.name,
                        made.size,
                        100.0 * made.size as f64 / made.full_size.max(1) as f64,
                        artifact.file_name,
                        made.carried,
                        made.files
                    ),
                );
                out.push((artifact.file_name.clone(), made));
            }
            Ok(made) => {
                ctx.reporter.debug(&format!(
                    "{} is {} bytes, nearly the full archive: not published",
                    made.name, made.size
                ));
                let _ = fs_err::remove_file(&made.path);
            }
            Err(e) => ctx
                .reporter
                .warn(&format!("no delta for {}: {e}", artifact.file_name)),
        }
        let _ = fs_err::remove_file(&base_path);
    }
    Ok(out)
}
