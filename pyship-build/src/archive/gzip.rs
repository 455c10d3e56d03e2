//! Parallel, deterministic gzip for the Linux tarball.
//!
//! Why: one core deflating the whole tarball was most of a warm Linux bundle.
//! The stream is cut into fixed-size chunks; each chunk is deflated on its own
//! (on a rayon pool) with the previous chunk's last 32 KiB as its dictionary,
//! ends with a sync flush (the last one with the final block), and the pieces
//! are written in order. That is the scheme of `pigz`: the result is ONE gzip
//! member that any reader (`gzip -t`, `tar xzf`, Python's `tarfile`, a
//! single-member decoder) reads, about as small as a one-core gzip, and the
//! same bytes at any thread count because chunk boundaries depend only on the
//! input. The header has no name and mtime 0.
//!
//! A chunk's compressed bytes depend only on the chunk and its dictionary, so
//! they are cached like zip entries (see [`super::entry_cache`]), keyed by the
//! SHA-256 of dictionary, chunk and whether it is the last: a warm build of an
//! unchanged tree copies every chunk.

use std::io::{self, Write};
use std::sync::Arc;

use super::entry_cache::{self, EntryCache, Record};

/// Uncompressed bytes per chunk. Larger chunks compress a little better and
/// cost fewer sync markers; smaller ones spread better over threads.
pub const CHUNK: usize = 1 << 20;
/// The deflate window: what a chunk may refer back to.
const WINDOW: usize = 32 * 1024;
/// The compressed-entry cache setting of gzip chunks (level, chunk size, backend).
pub const SETTING: &str = "gzip-chunk-1m-6-zlib-rs";

/// A `Write` that gzips what it is given on a thread pool. Call
/// [`finish`](Self::finish) to write the last chunk and the trailer.
pub struct ParGzEncoder<W: Write> {
    inner: W,
    pool: rayon::ThreadPool,
    level: u32,
    cache: Option<Arc<EntryCache>>,
    /// Full chunks waiting for a batch.
    pending: Vec<Vec<u8>>,
    /// The chunk being filled.
    buf: Vec<u8>,
    /// The last [`WINDOW`] bytes before `pending[0]`.
    tail: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
    batch: usize,
}

impl<W: Write> ParGzEncoder<W> {
    /// Write the gzip header to `inner`; compress at `level` on `pool`.
    pub fn new(
        mut inner: W,
        pool: rayon::ThreadPool,
        level: u32,
        cache: Option<Arc<EntryCache>>,
    ) -> io::Result<Self> {
        // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown).
        inner.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
        let batch = 2 * pool.current_num_threads().max(1);
        Ok(Self {
            inner,
            pool,
            level,
            cache,
            pending: Vec::new(),
            buf: Vec::with_capacity(CHUNK),
            tail: Vec::new(),
            crc: crc32fast::Hasher::new(),
            len: 0,
            batch,
        })
    }

    /// Compress the pending chunks (the last of them final when `last`) and
    /// write them in order.
    fn flush_batch(&mut self, last: bool) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let n = self.pending.len();
        let (pending, tail, level, cache) = (&self.pending, &self.tail, self.level, &self.cache);
        let pieces: Vec<io::Result<Vec<u8>>> = self.pool.install(|| {
            use rayon::prelude::*;
            (0..n)
                .into_par_iter()
                .map(|i| {
                    let dict = if i == 0 {
                        tail.as_slice()
                    } else {
                        window_of(&pending[i - 1])
                    };
                    compress_chunk(
                        &pending[i],
                        dict,
                        last && i == n - 1,
                        level,
                        cache.as_deref(),
                    )
                })
                .collect()
        });
        for p in pieces {
            self.inner.write_all(&p?)?;
        }
        let prev = self.pending.pop().expect("not empty");
        self.tail = window_of(&prev).to_vec();
        self.pending.clear();
        Ok(())
    }

    /// Compress what is left, write the trailer, and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let rest = std::mem::take(&mut self.buf);
        self.pending.push(rest);
        self.flush_batch(true)?;
        let crc = self.crc.clone().finalize();
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner.write_all(&(self.len as u32).to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParGzEncoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.crc.update(&data[..n]);
        self.len += n as u64;
        if self.buf.len() == CHUNK {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
            self.pending.push(full);
            if self.pending.len() >= self.batch {
                self.flush_batch(false)?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunk boundaries depend only on the input, never on flushes.
        Ok(())
    }
}

fn window_of(chunk: &[u8]) -> &[u8] {
    &chunk[chunk.len().saturating_sub(WINDOW)..]
}

/// Raw deflate of `chunk` with `dict` as the preset window, ending with a
/// sync flush, or with the final block when `last`. Cached by its inputs.
fn compress_chunk(
    chunk: &[u8],
    dict: &[u8],
    last: bool,
    level: u32,
    cache: Option<&EntryCache>,
) -> io::Result<Vec<u8>> {
    let key = cache.map(|_| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update((dict.len() as u64).to_le_bytes());
        h.update(dict);
        h.update([u8::from(last)]);
        h.update(chunk);
        hex::encode(h.finalize())
    });
    let crc = crc32fast::hash(chunk);
    if let (Some(c), Some(k)) = (cache, &key) {
        if let Some(r) = c
            .get(k)
            .filter(|r| r.method == 8 && r.crc == crc && r.size == chunk.len() as u64)
        {
            return Ok(r.data);
        }
    }
    let out = deflate_chunk(chunk, dict, last, level)?;
    if let (Some(c), Some(k)) = (cache, &key) {
        c.put(
            k,
            &Record {
                method: 8,
                crc,
                size: chunk.len() as u64,
                data: out.clone(),
            },
        );
    }
    Ok(out)
}

fn deflate_chunk(chunk: &[u8], dict: &[u8], last: bool, level: u32) -> io::Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(chunk.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(64 * 1024);
        }
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&chunk[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done = c.total_in() as usize == chunk.len();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete when all input went in and the output
            // was not filled to the brim (zlib's "avail_out != 0" rule).
            Status::Ok | Status::BufError if done && !last && out.len() < out.capacity() => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The cache of gzip chunks in `bucket`.
pub fn chunk_cache(bucket: &std::path::Path) -> EntryCache {
    EntryCache::new(bucket, SETTING, entry_cache::DEFAULT_MAX_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn data(n: usize) -> Vec<u8> {
        // Compressible but not trivially: text with a changing counter and
        // some noise, so chunks refer back across boundaries.
        let mut out = Vec::with_capacity(n);
        let mut i: u32 = 0;
        while out.len() < n {
            out.extend_from_slice(
                format!("line {} value {}\n", i, i.wrapping_mul(2_654_435_761) >> 20).as_bytes(),
            );
            i += 1;
        }
        out.truncate(n);
        out
    }

    fn gz(input: &[u8], threads: usize, cache: Option<Arc<EntryCache>>) -> Vec<u8> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut e = ParGzEncoder::new(Vec::new(), pool, 6, cache).unwrap();
        // Odd write sizes: boundaries must not depend on them.
        for piece in input.chunks(77_777) {
            e.write_all(piece).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn one_member_that_decodes_back_at_any_thread_count() {
        for n in [0, 1, 1000, CHUNK, 3 * CHUNK + 12_345] {
            let input = data(n);
            let a = gz(&input, 1, None);
            let b = gz(&input, 4, None);
            assert_eq!(a, b, "{n} bytes");
            // A single-member decoder reads all of it.
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&a[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input, "{n} bytes");
        }
    }

    #[test]
    fn cached_chunks_give_the_same_bytes() {
        let d = tempfile::tempdir().unwrap();
        let input = data(5 * CHUNK / 2);
        let cold = gz(&input, 2, None);
        let c = Arc::new(chunk_cache(d.path()));
        let first = gz(&input, 2, Some(c.clone()));
        assert!(c.wrote());
        let c2 = Arc::new(chunk_cache(d.path()));
        let warm = gz(&input, 3, Some(c2.clone()));
        assert!(!c2.wrote(), "a warm run finds every chunk");
        assert_eq!(cold, first);
        assert_eq!(cold, warm);
    }

    #[test]
    fn about_as_small_as_one_stream() {
        let input = data(4 * CHUNK);
        let par = gz(&input, 2, None);
        let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        one.write_all(&input).unwrap();
        let one = one.finish().unwrap();
        assert!(
            (par.len() as f64) < one.len() as f64 * 1.01,
            "{} vs {}",
            par.len(),
            one.len()
        );
    }
}
