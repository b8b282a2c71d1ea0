//! Program snapshots kept on disk from one run of vxos to the next.
//!
//! A snapshot (`cache::Snapshot`) is a code cache's blocks made from one
//! program file, chains and all; the embedder starts the next exec of that
//! program from it (its `progcache`). Kept in the translation cache
//! directory (`xcache`), a snapshot lets the next run of vxos skip
//! translating, checking and chaining the program's start-up code block by
//! block: it is copied into the new cache whole.
//!
//! Unlike an `xcache` record, a snapshot does not carry the guest bytes
//! its blocks were made from: the embedder names the program by an
//! identity that changes whenever the file does (the host file's device,
//! inode, size and times) and by where exec put it, and this file is only
//! used under the same name, by the same build (`xcache`'s fingerprint),
//! with its checksum holding, and on the terms of `xcache`'s files (ours,
//! writable by nobody else). Every offset and index in it is checked before
//! use, so even a damaged file that passed those checks cannot make the
//! cache jump outside its code.
//!
//! Layout (`prog-FINGERPRINT-ID.bin`), little-endian:
//!
//! ```text
//! header  "VXOSPS02"  fingerprint u64  id u64  where u32  kept u32
//!         checksum u32 (of the body)  0 u32
//! body    code length u32, code bytes
//!         blocks u32, each: eip u32, host u32, valid u8,
//!           exits u32 x (site, stub, target u32),
//!           incoming u32 x (block u32, exit u32), pages u32 x (u32)
//!         starts u32 x (u32), first u32 x (u32), insns u32 x (u64)
//! ```

use crate::cache::{BlockMeta, FileMap, SnapCode, Snapshot, CACHE_SIZE, MAX_BLOCKS, MAX_INSNS};
use crate::emit::ExitSite;
use crate::xcache;
use smallvec::SmallVec;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"VXOSPS02";
const HEADER: usize = 40;
/// Snapshots kept at most, and their bytes (the oldest go first).
const MAX_FILES: usize = 512;
const MAX_BYTES: u64 = 512 << 20;

fn file_name(fingerprint: u64, id: u64) -> String {
    format!("prog-{fingerprint:016x}-{id:016x}.bin")
}

/// Write the snapshot of the program named `id`, laid out at `at` (the
/// embedder's word for where exec put it), into the cache directory.
/// Nothing happens when no cache directory is open.
pub fn save(id: u64, at: u32, s: &Snapshot) -> io::Result<()> {
    let Some((dir, fingerprint)) = xcache::location() else { return Ok(()) };
    let body = encode(s);
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&fingerprint.to_le_bytes());
    head.extend_from_slice(&id.to_le_bytes());
    for v in [at, s.kept as u32, xcache::checksum(&body), 0] {
        head.extend_from_slice(&v.to_le_bytes());
    }
    let tmp = dir.join(format!(".prog-{}-{id:016x}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    let written = f.write_all(&head).and_then(|()| f.write_all(&body));
    match written.and_then(|()| std::fs::rename(&tmp, dir.join(file_name(fingerprint, id)))) {
        Ok(()) => {
            prune(&dir, fingerprint);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The snapshot kept for program `id` laid out at `at`, if there is a
/// sound one made by this build.
pub fn load(id: u64, at: u32) -> Option<Snapshot> {
    let (dir, fingerprint) = xcache::location()?;
    let bytes = Arc::new(map_trusted(&dir.join(file_name(fingerprint, id)))?);
    let head = bytes.get(..HEADER)?;
    let u32_at = |o: usize| u32::from_le_bytes(head[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().unwrap());
    if &head[..8] != MAGIC || u64_at(8) != fingerprint || u64_at(16) != id || u32_at(24) != at {
        return None;
    }
    let (sum, kept) = (u32_at(32), u32_at(28) as usize);
    let body = &bytes[HEADER..];
    if xcache::checksum(body) != sum {
        return None;
    }
    let s = decode(body, |off, len| SnapCode::Mapped { file: bytes.clone(), at: HEADER + off, len })?;
    (s.kept == kept).then_some(s)
}

/// A file that is ours and writable by nobody else, mapped.
fn map_trusted(path: &Path) -> Option<FileMap> {
    let f = std::fs::File::open(path).ok()?;
    let m = f.metadata().ok()?;
    if !xcache::trusted(&m) || m.len() < HEADER as u64 || m.len() > 2 * CACHE_SIZE as u64 {
        return None;
    }
    FileMap::new(&f, m.len() as usize).ok()
}

/// Keep this build's newest snapshots, at most `MAX_FILES` of them and
/// `MAX_BYTES` in all; remove other builds'.
fn prune(dir: &Path, fingerprint: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let ours = format!("prog-{fingerprint:016x}-");
    let mut mine: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if !n.starts_with("prog-") || !n.ends_with(".bin") {
            continue;
        }
        if !n.starts_with(&ours) {
            let _ = std::fs::remove_file(e.path());
        } else if let Some((t, len)) = e.metadata().ok().and_then(|m| Some((m.modified().ok()?, m.len()))) {
            mine.push((t, len, e.path()));
        }
    }
    mine.sort_by_key(|m| std::cmp::Reverse(m.0));
    let mut total = 0;
    for (k, (_, len, p)) in mine.iter().enumerate() {
        total += len;
        if k >= MAX_FILES || total > MAX_BYTES {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn put(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn encode(s: &Snapshot) -> Vec<u8> {
    let mut o = Vec::with_capacity(s.code.len() + s.blocks.len() * 64 + s.index.2.len() * 8);
    put(&mut o, s.code.len() as u32);
    o.extend_from_slice(&s.code);
    put(&mut o, s.blocks.len() as u32);
    for b in &s.blocks {
        put(&mut o, b.eip);
        put(&mut o, b.host);
        o.push(b.valid as u8);
        put(&mut o, b.exits.len() as u32);
        for e in b.exits.iter() {
            for v in [e.site, e.stub, e.target] {
                put(&mut o, v);
            }
        }
        put(&mut o, b.incoming.len() as u32);
        for &(from, k) in &b.incoming {
            put(&mut o, from as u32);
            put(&mut o, k as u32);
        }
        put(&mut o, b.pages.len() as u32);
        for &p in &b.pages {
            put(&mut o, p);
        }
    }
    let (starts, first, insns) = &s.index;
    for list in [starts, first] {
        put(&mut o, list.len() as u32);
        for &v in list {
            put(&mut o, v);
        }
    }
    put(&mut o, insns.len() as u32);
    for &v in insns {
        o.extend_from_slice(&v.to_le_bytes());
    }
    o
}

/// A reader of the body that fails on a short one.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        (n <= self.0.len()).then(|| {
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            a
        })
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    }
    /// A count of items at least `size` bytes each, checked against what
    /// is left and against `max`.
    fn count(&mut self, size: usize, max: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= max && n.checked_mul(size)? <= self.0.len()).then_some(n)
    }
}

/// The snapshot `body` holds; `code` gives its code from the offset and
/// length of the code in `body`.
fn decode(body: &[u8], code: impl FnOnce(usize, usize) -> SnapCode) -> Option<Snapshot> {
    let mut r = Rd(body);
    let ncode = r.u32()? as usize;
    if ncode > CACHE_SIZE {
        return None;
    }
    r.take(ncode)?;
    let code = code(4, ncode);
    let in_code = |off: u32, len: usize| (off as usize).checked_add(len).is_some_and(|end| end <= ncode);
    let nblocks = r.count(21, MAX_BLOCKS)?;
    let mut blocks = Vec::with_capacity(nblocks);
    for _ in 0..nblocks {
        let (eip, host) = (r.u32()?, r.u32()?);
        let valid = match r.take(1)?[0] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let nexits = r.count(12, usize::MAX)?;
        let mut exits = Vec::with_capacity(nexits);
        for _ in 0..nexits {
            let e = ExitSite { site: r.u32()?, stub: r.u32()?, target: r.u32()? };
            // Chaining writes four bytes at `site`, relative to `stub`.
            let (site, stub) = (host.checked_add(e.site)?, host.checked_add(e.stub)?);
            if !in_code(site, 4) || !in_code(stub, 1) {
                return None;
            }
            exits.push(e);
        }
        let nin = r.count(8, usize::MAX)?;
        let incoming =
            (0..nin).map(|_| Some((r.u32()? as usize, r.u32()? as usize))).collect::<Option<SmallVec<_>>>()?;
        let np = r.count(4, usize::MAX)?;
        let pages = (0..np).map(|_| r.u32()).collect::<Option<SmallVec<_>>>()?;
        if !in_code(host, 1) {
            return None;
        }
        blocks.push(BlockMeta { eip, host, exits: exits.into(), incoming, pages, valid, restored: false });
    }
    // Chains name blocks and exits that exist.
    for b in &blocks {
        if b.incoming.iter().any(|&(from, k)| blocks.get(from).is_none_or(|f| k >= f.exits.len())) {
            return None;
        }
    }
    if blocks.iter().any(|b| b.pages.iter().any(|&p| p >= 1 << 20)) {
        return None;
    }
    let nstarts = r.count(4, MAX_BLOCKS)?;
    let starts = (0..nstarts).map(|_| r.u32()).collect::<Option<Vec<_>>>()?;
    let nfirst = r.count(4, MAX_BLOCKS + 1)?;
    let first = (0..nfirst).map(|_| r.u32()).collect::<Option<Vec<_>>>()?;
    let ninsns = r.count(8, MAX_INSNS)?;
    let insns = (0..ninsns).map(|_| r.u64()).collect::<Option<Vec<_>>>()?;
    // The fault handler's index: ascending starts inside the code, and
    // instruction ranges that ascend and stay inside the list.
    let sound = nfirst == nstarts + 1
        && starts.windows(2).all(|w| w[0] <= w[1])
        && starts.iter().all(|&s| in_code(s, 0))
        && first.windows(2).all(|w| w[0] <= w[1])
        && first.last().is_some_and(|&l| l as usize == ninsns)
        && first.first() == Some(&0)
        && r.0.is_empty();
    if !sound {
        return None;
    }
    let kept = blocks.iter().filter(|b| b.valid).count();
    let pages = Snapshot::pages_of(&blocks);
    Some(Snapshot { code, blocks, pages, index: (starts, first, insns), kept })
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::smallvec;

    fn decode_owned(body: &[u8]) -> Option<Snapshot> {
        decode(body, |at, len| SnapCode::Owned(body[at..at + len].to_vec()))
    }

    fn sample() -> Snapshot {
        let blocks = vec![
            BlockMeta {
                eip: 0x1000,
                host: 0,
                exits: vec![ExitSite { site: 4, stub: 20, target: 0x1010 }].into(),
                incoming: smallvec![],
                pages: smallvec![1],
                valid: true,
                restored: false,
            },
            BlockMeta {
                eip: 0x1010,
                host: 32,
                exits: Vec::new().into(),
                incoming: smallvec![(0, 0)],
                pages: smallvec![1],
                valid: true,
                restored: false,
            },
        ];
        Snapshot {
            code: SnapCode::Owned(vec![0x90; 64]),
            pages: Snapshot::pages_of(&blocks),
            blocks,
            index: (vec![0, 32], vec![0, 1, 2], vec![0x1000, (8 << 32) | 0x1010]),
            kept: 2,
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let d = decode_owned(&encode(&s)).expect("decodes");
        assert_eq!(&d.code[..], &s.code[..]);
        assert_eq!(d.kept, 2);
        assert_eq!(d.blocks.len(), 2);
        assert_eq!((d.blocks[1].eip, d.blocks[1].host, &d.blocks[1].incoming[..]), (0x1010, 32, &[(0, 0)][..]));
        assert_eq!(d.blocks[0].exits[0].stub, 20);
        assert_eq!(d.pages, vec![1]);
        assert_eq!(d.index, s.index);
    }

    #[test]
    fn damage_is_refused() {
        let good = encode(&sample());
        // Every truncation is refused, never read past.
        for n in 0..good.len() {
            assert!(decode_owned(&good[..n]).is_none(), "a body cut at {n} bytes decodes");
        }
        // An exit whose patch would land outside the code.
        let mut s = sample();
        let mut exits = s.blocks[0].exits.to_vec();
        exits[0].site = 62;
        s.blocks[0].exits = exits.into();
        assert!(decode_owned(&encode(&s)).is_none());
        // A chain from a block that does not exist.
        let mut s = sample();
        s.blocks[1].incoming = smallvec![(7, 0)];
        assert!(decode_owned(&encode(&s)).is_none());
        // A page past the 4 GiB window.
        let mut s = sample();
        s.blocks[1].pages = smallvec![1 << 20];
        assert!(decode_owned(&encode(&s)).is_none());
        // Block starts out of order.
        let mut s = sample();
        s.index.0 = vec![32, 0];
        assert!(decode_owned(&encode(&s)).is_none());
    }
}
