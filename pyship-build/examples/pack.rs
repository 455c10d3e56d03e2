//! `pack TREE DEST [THREADS]`: pack a directory with the bundle's archive
//! writer (`.zip` or `.tar.gz`, chosen by DEST's name), the top-level folder
//! named after TREE. The archive micro-benchmark of `bench/run.sh` times this
//! against `zip -r` / `tar czf` on the same tree.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tree, dest, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: pack TREE DEST.zip|DEST.tar.gz [THREADS]");
    };
    let tree = PathBuf::from(tree);
    let top = tree
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} has no UTF-8 folder name", tree.display()))?
        .to_owned();
    let opts = pyship_build::archive::Options {
        mtime: pyship_build::env::Env::from_process().source_date_epoch(),
        threads: rest.first().map(|t| t.parse()).transpose()?,
        // The micro-benchmark times the compressor, not the cache.
        cache: None,
    };
    let dest = PathBuf::from(dest);
    if dest.to_string_lossy().ends_with(".tar.gz") {
        pyship_build::archive::write_tar_gz(&tree, &top, &dest, &opts)?;
    } else {
        pyship_build::archive::write_zip(&tree, &top, &dest, &opts)?;
    }
    Ok(())
}
