//! The asset half of a publish: for one file, delete every asset of its name,
//! upload it, list again and check exactly one of that name and size is
//! there. A failed upload is retried only after listing again: when the
//! failed attempt landed after all (its answer was lost), it is kept and any
//! extra copy deleted, so a retry never leaves a duplicate.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{with_causes, Action, Asset, Error, Item, Provider, Release};
use crate::error::escaped;
use crate::net::Backoff;
use crate::report::{Progress, Reporter};

/// Delete every asset of the item's name, upload it, check there is exactly one.
pub(super) fn publish_asset(
    p: &dyn Provider,
    release: &Release,
    item: &Item,
    backoff: &Backoff,
    reporter: &dyn Reporter,
) -> Result<Vec<Action>, Error> {
    let mut actions = Vec::new();
    backoff
        .retry_with(
            |attempt| {
                let assets = p.list_assets(release.id).map_err(Step::Other)?;
                let same: Vec<&Asset> = assets.iter().filter(|a| a.name == item.name).collect();
                if attempt > 0 {
                    // The failed attempt may have landed (e.g. the answer was lost).
                    if let Some(keep) = same.iter().find(|a| a.size == item.size) {
                        reporter.debug(&format!(
                            "{} arrived despite the error (asset {})",
                            item.name, keep.id
                        ));
                        for extra in same.iter().filter(|a| a.id != keep.id) {
                            p.delete_asset(release.id, extra.id).map_err(Step::Other)?;
                            actions.push(delete_action(extra));
                        }
                        return Ok(());
                    }
                }
                for a in &same {
                    reporter.status(
                        "Deleting",
                        &format!("{} (asset {}, {} bytes)", escaped(&a.name), a.id, a.size),
                    );
                    p.delete_asset(release.id, a.id).map_err(Step::Other)?;
                    actions.push(delete_action(a));
                }
                reporter.status("Uploading", &format!("{} ({} bytes)", item.name, item.size));
                let bar: Arc<dyn Progress> =
                    Arc::from(reporter.progress(&item.name, Some(item.size), true));
                let res = p.upload_asset(release.id, item, bar.clone());
                bar.finish();
                res.map(drop).map_err(Step::Upload)
            },
            |e, wait| {
                reporter.warn(&format!(
                    "{}; listing the assets again and retrying in {} ms",
                    with_causes(e.error()),
                    wait.as_millis()
                ))
            },
        )
        .map_err(Step::into_error)?;
    actions.push(Action::Upload {
        name: item.name.clone(),
        size: item.size,
    });
    let listed = p.list_assets(release.id)?;
    let found: Vec<u64> = listed
        .iter()
        .filter(|a| a.name == item.name)
        .map(|a| a.size)
        .collect();
    if found != [item.size] {
        return Err(Error::Verify {
            name: item.name.clone(),
            size: item.size,
            found,
        });
    }
    Ok(actions)
}

/// An error of one attempt. Only a failed upload is retried here (after
/// listing again); listing and deleting retry inside each request already.
enum Step {
    Upload(Error),
    Other(Error),
}

impl Step {
    fn error(&self) -> &Error {
        match self {
            Step::Upload(e) | Step::Other(e) => e,
        }
    }

    fn into_error(self) -> Error {
        match self {
            Step::Upload(e) | Step::Other(e) => e,
        }
    }
}

impl crate::net::Transient for Step {
    fn is_transient(&self) -> bool {
        matches!(self, Step::Upload(e) if e.is_transient())
    }
    fn retry_after(&self) -> Option<std::time::Duration> {
        self.error().retry_after()
    }
}

fn delete_action(a: &Asset) -> Action {
    Action::DeleteAsset {
        name: a.name.clone(),
        id: a.id,
        size: a.size,
    }
}

/// Run `f` over `items` on at most `n` threads; stop taking new items after the
/// first error, which is returned (the earliest item's, when several fail).
pub(super) fn parallel<T: Sync, R: Send>(
    items: &[T],
    n: usize,
    f: impl Fn(&T) -> Result<R, Error> + Sync,
) -> Result<Vec<R>, Error> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Mutex<Vec<Option<Result<R, Error>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..n.min(items.len()) {
            s.spawn(|| loop {
                if failed.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if r.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                slots.lock().expect("results lock")[i] = Some(r);
            });
        }
    });
    slots
        .into_inner()
        .expect("results lock")
        .into_iter()
        .flatten()
        .collect()
}
