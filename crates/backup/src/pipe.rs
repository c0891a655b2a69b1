//! Streams between the engine and the files of a set: compress with zstd while hashing what is
//! stored, and the reverse; and the full check of a stored file (size, SHA-256, every zstd frame
//! with its checksum, and the content: a tar read to its end, or a PostgreSQL custom dump).

use crate::manifest::{Item, ItemKind};
use crate::store::{create_private_file, io_err};
use crate::BackupError;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// zstd's default level, as the `zstd` command uses.
pub const LEVEL: i32 = 3;
const CHUNK: usize = 1 << 20;

pub struct Written {
    pub raw: u64,
    pub size: u64,
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

struct CountReader<R> {
    inner: R,
    count: u64,
    /// How many zero bytes the stream read so far ends with.
    trailing_zeros: u64,
}

impl<R: Read> Read for CountReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        match last_nonzero(&buf[..n]) {
            Some(last) => self.trailing_zeros = (n - 1 - last) as u64,
            None => self.trailing_zeros += n as u64,
        }
        Ok(n)
    }
}

/// Where the last byte that is not zero is. An archive ends in zero blocks and a database's
/// files hold long runs of them: whole blocks are compared at once (a `memcmp`), then the last
/// block with data byte by byte (a byte loop over megabytes of zeros was an eighth of a
/// restore's CPU time in the test builds).
fn last_nonzero(bytes: &[u8]) -> Option<usize> {
    const ZEROS: [u8; 512] = [0; 512];
    let mut end = bytes.len();
    while end > 0 {
        let start = end.saturating_sub(ZEROS.len());
        let block = &bytes[start..end];
        if block != &ZEROS[..block.len()] {
            return block.iter().rposition(|b| *b != 0).map(|i| start + i);
        }
        end = start;
    }
    None
}

/// The top folder of a volume's archive: the engine names members after the folder the helper
/// mounts the volume at, and a restore writes them back there.
fn volume_top() -> &'static str {
    crate::docker::MOUNT.trim_start_matches('/')
}

fn workers() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Writes a stream to a new file at `path`, compressed with zstd (with frame checksums) on a
/// blocking thread, and synced. `progress` gets the bytes taken from the stream so far.
pub async fn write_zstd<S>(mut stream: S, path: &Path, mut progress: impl FnMut(u64)) -> Result<Written, BackupError>
where
    S: Stream<Item = Result<Bytes, String>> + Unpin,
{
    let file = create_private_file(path)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(32);
    let at = path.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
        let out = HashWriter {
            inner: BufWriter::with_capacity(CHUNK, file),
            hasher: Sha256::new(),
            count: 0,
        };
        let mut enc = zstd::stream::write::Encoder::new(out, LEVEL)?;
        enc.include_checksum(true)?;
        enc.multithread(workers())?;
        while let Some(chunk) = rx.blocking_recv() {
            enc.write_all(&chunk)?;
        }
        let mut out = enc.finish()?;
        out.flush()?;
        let file = out.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((out.count, hex(&out.hasher.finalize())))
    });
    let mut raw = 0u64;
    let mut failed = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                raw += chunk.len() as u64;
                progress(raw);
                if tx.send(chunk).await.is_err() {
                    break; // The writer failed; its error is reported below.
                }
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| BackupError::Io {
            path: at.clone(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(io_err(&at));
    if let Some(e) = failed {
        return Err(BackupError::Failed(e));
    }
    let (size, sha256) = written?;
    Ok(Written { raw, size, sha256 })
}

/// The decompressed content of a stored file as a stream of chunks, read on a blocking thread;
/// `progress` gets the bytes read from the file so far.
pub fn read_zstd(
    path: PathBuf,
    progress: impl Fn(u64) + Send + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(32);
    tokio::task::spawn_blocking(move || {
        let run = || -> std::io::Result<()> {
            let file = std::fs::File::open(&path)?;
            let mut counted = CountReader {
                inner: BufReader::with_capacity(CHUNK, file),
                count: 0,
                trailing_zeros: 0,
            };
            let mut dec = zstd::stream::read::Decoder::new(&mut counted)?;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = dec.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                progress(dec.get_ref().get_ref().count);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return Ok(()); // Nobody reads any more.
                }
            }
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Checks one stored file against its manifest entry, reading it once: size, SHA-256, every
/// zstd frame, and the content. `progress` gets the bytes read so far.
pub fn verify_file(path: &Path, item: &Item, progress: &mut dyn FnMut(u64)) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{} is missing: {e}", item.file))?;
    if meta.len() != item.size {
        return Err(format!(
            "{} has {} bytes, the manifest says {}",
            item.file,
            meta.len(),
            item.size
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", item.file))?;
    let mut hashed = HashReader {
        inner: BufReader::with_capacity(CHUNK, file),
        hasher: Sha256::new(),
        count: 0,
    };
    let content = check_content(&mut hashed, item, progress);
    // Read what the decoder left, so that the checksum covers the whole file.
    let _ = std::io::copy(&mut hashed, &mut std::io::sink());
    let sha = hex(&hashed.hasher.finalize());
    if sha != item.sha256 {
        return Err(format!(
            "{}: checksum differs from the manifest (file changed or damaged)",
            item.file
        ));
    }
    content.map_err(|e| format!("{}: {e}", item.file))
}

fn check_content<R: Read>(
    hashed: &mut HashReader<R>,
    item: &Item,
    progress: &mut dyn FnMut(u64),
) -> Result<(), String> {
    struct Progress<'a, R> {
        inner: &'a mut HashReader<R>,
        progress: &'a mut dyn FnMut(u64),
    }
    impl<R: Read> Read for Progress<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            (self.progress)(self.inner.count);
            Ok(n)
        }
    }
    let dec = zstd::stream::read::Decoder::new(Progress {
        inner: hashed,
        progress,
    })
    .map_err(|e| e.to_string())?;
    let mut raw = CountReader {
        inner: dec,
        count: 0,
        trailing_zeros: 0,
    };
    // Where the last member's data ends: the end-of-archive blocks follow.
    let mut members_end = None;
    match item.kind {
        ItemKind::Volume => {
            let mut archive = tar::Archive::new(&mut raw);
            let mut end = 0;
            for entry in archive.entries().map_err(|e| format!("not a tar archive: {e}"))? {
                let entry = entry.map_err(|e| format!("damaged tar archive: {e}"))?;
                let path = entry.path().map_err(|e| format!("damaged tar archive: {e}"))?;
                let path = path.strip_prefix(".").unwrap_or(&path);
                if !path.starts_with(volume_top()) {
                    return Err(format!(
                        "the archive holds {}, outside its volume's folder {}/: a restore would not write it into the volume",
                        path.display(),
                        volume_top()
                    ));
                }
                end = entry.raw_file_position() + entry.size().div_ceil(512) * 512;
            }
            members_end = Some(end);
        }
        ItemKind::Database => {
            let mut magic = [0u8; 5];
            raw.read_exact(&mut magic)
                .map_err(|e| format!("not a PostgreSQL dump: {e}"))?;
            if &magic != b"PGDMP" {
                return Err("not a PostgreSQL custom-format dump".into());
            }
        }
    }
    std::io::copy(&mut raw, &mut std::io::sink()).map_err(|e| format!("damaged zstd stream: {e}"))?;
    if let Some(end) = members_end {
        // tar ends with two zero blocks; an archive cut off after a whole member has none.
        let after = raw.count.saturating_sub(end);
        if after < 1024 || raw.trailing_zeros < after {
            return Err("the archive has no end-of-archive blocks after its last member: it was cut off".into());
        }
    }
    if raw.count != item.raw_size {
        return Err(format!(
            "holds {} bytes once decompressed, the manifest says {}",
            raw.count, item.raw_size
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_nonzero_finds_the_last_byte_with_data() {
        assert_eq!(last_nonzero(&[]), None);
        assert_eq!(last_nonzero(&[0; 2000]), None);
        for at in [0, 1, 511, 512, 513, 1487, 1999] {
            let mut b = vec![0u8; 2000];
            b[at] = 7;
            b[at / 2] = 1;
            assert_eq!(last_nonzero(&b), Some(at), "data at {at}");
        }
    }

    fn tar_of(paths: &[&str]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let data = b"known file content\n".repeat(1000);
        for p in paths {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, p, &data[..]).expect("append");
        }
        b.into_inner().expect("tar")
    }

    fn tar_bytes() -> Vec<u8> {
        tar_of(&["sirius-deck-volume/file.txt", "sirius-deck-volume/sub/other.txt"])
    }

    #[tokio::test]
    async fn an_archive_outside_its_folder_or_cut_off_does_not_verify() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = |n: &str| {
            let d = tmp.path().join(n);
            std::fs::create_dir(&d).expect("mkdir");
            d
        };
        let (path, item) = write(&dir("outside"), tar_of(&["sirius-deck-volume/a", "elsewhere/b"])).await;
        let e = verify_file(&path, &item, &mut |_| {}).expect_err("outside");
        assert!(e.contains("outside its volume's folder"), "{e}");
        // Cut off right after the first member: whole members, no end-of-archive blocks.
        let whole = tar_bytes();
        let first_end = 512 + (19 * 1000usize).div_ceil(512) * 512;
        let (path, item) = write(&dir("cut"), whole[..first_end].to_vec()).await;
        let e = verify_file(&path, &item, &mut |_| {}).expect_err("cut off");
        assert!(e.contains("cut off"), "{e}");
        // Cut off inside the end blocks.
        let (path, item) = write(&dir("half-end"), whole[..whole.len() - 1024 + 512].to_vec()).await;
        assert!(verify_file(&path, &item, &mut |_| {}).is_err());
    }

    async fn write(dir: &Path, content: Vec<u8>) -> (PathBuf, Item) {
        let path = dir.join("volume-v.tar.zst");
        let chunks: Vec<Result<Bytes, String>> = content.chunks(777).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let w = write_zstd(futures_util::stream::iter(chunks), &path, |_| {})
            .await
            .expect("writes");
        let item = Item {
            kind: ItemKind::Volume,
            name: "v".into(),
            database: None,
            user: None,
            tool: None,
            volume: Some("v".into()),
            file: "volume-v.tar.zst".into(),
            size: w.size,
            sha256: w.sha256,
            raw_size: w.raw,
        };
        (path, item)
    }

    #[tokio::test]
    async fn a_written_file_verifies_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let content = tar_bytes();
        let (path, item) = write(dir.path(), content.clone()).await;
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        verify_file(&path, &item, &mut |_| {}).expect("verifies");
        let back: Vec<Bytes> = read_zstd(path, |_| {}).map(|r| r.expect("reads")).collect().await;
        assert_eq!(back.concat(), content);
    }

    #[tokio::test]
    async fn a_flipped_byte_is_a_checksum_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, item) = write(dir.path(), tar_bytes()).await;
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(&path, &bytes).expect("write");
        let e = verify_file(&path, &item, &mut |_| {}).expect_err("an error");
        assert!(e.contains("checksum differs"), "{e}");
        // Truncated: the size says so before anything is read.
        std::fs::write(&path, &bytes[..mid]).expect("write");
        assert!(verify_file(&path, &item, &mut |_| {})
            .expect_err("an error")
            .contains("bytes"));
    }

    #[tokio::test]
    async fn content_that_is_not_what_the_manifest_says_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut item) = write(dir.path(), b"plain text, not a dump".to_vec()).await;
        item.kind = ItemKind::Database;
        assert!(verify_file(&path, &item, &mut |_| {})
            .expect_err("an error")
            .contains("not a PostgreSQL"));
    }

    #[tokio::test]
    async fn a_failing_source_stream_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let chunks = vec![Ok(Bytes::from_static(b"abc")), Err("engine went away".to_string())];
        let r = write_zstd(futures_util::stream::iter(chunks), &dir.path().join("f"), |_| {}).await;
        assert!(matches!(r, Err(BackupError::Failed(e)) if e.contains("engine went away")));
    }
}
