//! The asset half of a publish: for one file, delete every asset of its name,
//! upload it, list again and check exactly one of that name and size is
//! there. A failed upload is retried only after listing again: when the
//! failed attempt landed after all (its answer was lost), it is kept and any
//! extra copy deleted, so a retry never leaves a duplicate.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{retry_delay, with_causes, Action, Asset, Error, Item, Provider, Release};
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
    let mut attempt = 0u32;
    loop {
        let assets = p.list_assets(release.id)?;
        let same: Vec<&Asset> = assets.iter().filter(|a| a.name == item.name).collect();
        if attempt > 0 {
            // The failed attempt may have landed (e.g. the answer was lost).
            if let Some(keep) = same.iter().find(|a| a.size == item.size) {
                reporter.debug(&format!(
                    "{} arrived despite the error (asset {})",
                    item.name, keep.id
                ));
                for extra in same.iter().filter(|a| a.id != keep.id) {
                    p.delete_asset(release.id, extra.id)?;
                    actions.push(delete_action(extra));
                }
                actions.push(Action::Upload {
                    name: item.name.clone(),
                    size: item.size,
                });
                break;
            }
        }
        for a in &same {
            reporter.status(
                "Deleting",
                &format!("{} (asset {}, {} bytes)", a.name, a.id, a.size),
            );
            p.delete_asset(release.id, a.id)?;
            actions.push(delete_action(a));
        }
        reporter.status("Uploading", &format!("{} ({} bytes)", item.name, item.size));
        let bar: Arc<dyn Progress> =
            Arc::from(reporter.progress(&item.name, Some(item.size), true));
        let res = p.upload_asset(release.id, &item.name, &item.path, item.size, bar.clone());
        bar.finish();
        match res {
            Ok(_) => {
                actions.push(Action::Upload {
                    name: item.name.clone(),
                    size: item.size,
                });
                break;
            }
            Err(e) if e.is_transient() && attempt + 1 < backoff.attempts => {
                let wait = retry_delay(backoff, attempt, &e);
                reporter.warn(&format!(
                    "{}; listing the assets again and retrying in {} ms",
                    with_causes(&e),
                    wait.as_millis()
                ));
                std::thread::sleep(wait);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
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
