//! Translations kept on disk from one run of vxos to the next.
//!
//! The memo (`memo.rs`) lets every guest of one run reuse a block another
//! translated; this file carries the same translations over to the next
//! run, so a program's start-up code (its loader, libc's initialisation,
//! an interpreter's boot) is translated once per machine rather than once
//! per run. It works because a translation depends on nothing but the
//! guest bytes it was made from (see `memo.rs`): a record holds a block's
//! host code and those bytes, and `find` hands a record out only after
//! comparing the bytes with the asking guest's memory, so a record made
//! from other code, or from an older version of a library, is never run.
//!
//! The file (`xlate-FINGERPRINT.bin` in the cache directory) is written
//! whole and renamed into place, never changed where it lies, so readers
//! map it without locks. Its layout, little-endian:
//!
//! ```text
//! header  "VXOSXC02"  fingerprint u64  records u32  0 u32  data bytes u64
//! index   records x (eip u32, offset u32, length u32, checksum u32), by eip
//! data    records: eip, code, insns, exits, pages and srcs lengths (6 x u32),
//!         guest instructions and bytes (2 x u32), code bytes, insns (host
//!         u32, eip u32, swap u16), exits (site, stub, target u32), pages
//!         (u32), srcs (address u32, length u32, bytes)
//! ```
//!
//! The fingerprint names the vxos build and the host CPU: another build
//! may translate differently, so it uses a file of its own. A record is
//! used only if its checksum holds and its lengths are consistent. The
//! file holds host code that vxos will run, so it is used only when it
//! and its directory belong to the user running vxos and nobody else can
//! write them, as for any program file of that user's.
//!
//! At exit the embedder calls `save`: when this run translated enough
//! blocks the file lacked, a new file is written with the old records and
//! the new ones (up to `MAX_FILE` bytes and `PER_EIP` versions of an
//! address).

use crate::emit::ExitSite;
use crate::memo;
use crate::translate::Block;
use crate::window::Window;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const MAGIC: &[u8; 8] = b"VXOSXC02";
const HEADER: usize = 32;
const ENTRY: usize = 16;
/// Versions of one guest address kept (different programs put different
/// code at the same addresses).
const PER_EIP: usize = 4;
/// The largest file written; past it, a save keeps only this run's blocks.
const MAX_FILE: usize = 96 << 20;
/// New blocks a run must have made before it rewrites the file.
const MIN_FRESH: usize = 32;

/// A cache file, mapped.
struct Store {
    bytes: crate::cache::FileMap,
    records: usize,
}

impl Store {
    fn entry(&self, i: usize) -> (u32, usize, usize, u32) {
        let e = &self.bytes[HEADER + i * ENTRY..HEADER + (i + 1) * ENTRY];
        (u32_at(e, 0), u32_at(e, 4) as usize, u32_at(e, 8) as usize, u32_at(e, 12))
    }

    fn data(&self) -> &[u8] {
        &self.bytes[HEADER + self.records * ENTRY..]
    }

    /// The record of entry `i`, if its checksum holds.
    fn record(&self, i: usize) -> Option<(u32, &[u8])> {
        let (eip, off, len, sum) = self.entry(i);
        let rec = self.data().get(off..off.checked_add(len)?)?;
        (checksum(rec) == sum).then_some((eip, rec))
    }

    /// The index range of the entries for `eip`.
    fn range(&self, eip: u32) -> std::ops::Range<usize> {
        let (mut lo, mut hi) = (0, self.records);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.entry(mid).0 < eip {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut end = lo;
        while end < self.records && self.entry(end).0 == eip {
            end += 1;
        }
        lo..end
    }
}

struct State {
    dir: PathBuf,
    fingerprint: u64,
    store: Option<Arc<Store>>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);
/// Blocks handed out from the file, records it held when opened.
static HITS: AtomicU64 = AtomicU64::new(0);
static RECORDS: AtomicU64 = AtomicU64::new(0);

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// A 32-bit checksum of a record: four independent lanes of eight bytes,
/// so it runs at several bytes a cycle.
pub(crate) fn checksum(b: &[u8]) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h =
        [0x243f_6a88_85a3_08d3 ^ b.len() as u64, 0x1319_8a2e_0370_7344, 0xa409_3822_299f_31d0, 0x082e_fa98_ec4e_6c89];
    let mut blocks = b.chunks_exact(32);
    for c in &mut blocks {
        for (k, h) in h.iter_mut().enumerate() {
            let w = u64::from_le_bytes(c[k * 8..k * 8 + 8].try_into().unwrap());
            *h = (*h ^ w).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut x = h[0] ^ h[1].rotate_left(16) ^ h[2].rotate_left(32) ^ h[3].rotate_left(48);
    for &v in blocks.remainder() {
        x = (x ^ v as u64).wrapping_mul(K).rotate_left(29);
    }
    x = x.wrapping_mul(K);
    (x ^ (x >> 32)) as u32
}

/// The fingerprint of this build of the translator on this CPU: the
/// identity of the running executable and the CPU's signature.
fn fingerprint() -> io::Result<u64> {
    let m = std::fs::metadata("/proc/self/exe")?;
    let sig = crate::cpuid::host_cpuid(1, 0)[0];
    let mut h: u64 = 0x6a09_e667_f3bc_c908;
    for v in [m.dev(), m.ino(), m.size(), m.mtime() as u64, m.mtime_nsec() as u64, sig as u64] {
        h = (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31);
    }
    Ok(h)
}

/// Whether `m` (a cache directory or file) is safe to take host code from:
/// ours, and writable by nobody else.
pub(crate) fn trusted(m: &std::fs::Metadata) -> bool {
    m.uid() == nix::unistd::geteuid().as_raw() && m.permissions().mode() & 0o022 == 0
}

/// Use `dir` for kept translations: create it if need be (mode 0700) and
/// map the file this build wrote there, if any. An unusable directory is
/// an error; a missing, foreign or damaged file just starts empty.
pub fn open(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let m = std::fs::metadata(dir)?;
    if !trusted(&m) {
        return Err(io::Error::other(format!("{} belongs to another user or others can write it", dir.display())));
    }
    let fingerprint = fingerprint()?;
    let store = load(&dir.join(file_name(fingerprint)), fingerprint);
    RECORDS.store(store.as_ref().map_or(0, |s| s.records as u64), Ordering::Relaxed);
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(State { dir: dir.to_path_buf(), fingerprint, store: store.map(Arc::new) });
    Ok(())
}

fn file_name(fingerprint: u64) -> String {
    format!("xlate-{fingerprint:016x}.bin")
}

fn load(path: &Path, fingerprint: u64) -> Option<Store> {
    let f = std::fs::File::open(path).ok()?;
    let m = f.metadata().ok()?;
    if !trusted(&m) || m.len() < HEADER as u64 || m.len() > MAX_FILE as u64 * 2 {
        return None;
    }
    let bytes = crate::cache::FileMap::new(&f, m.len() as usize).ok()?;
    if &bytes[..8] != MAGIC || u64::from_le_bytes(bytes[8..16].try_into().unwrap()) != fingerprint {
        return None;
    }
    let records = u32_at(&bytes, 16) as usize;
    let data = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    if (HEADER + records * ENTRY) as u64 + data != m.len() {
        return None;
    }
    Some(Store { bytes, records })
}

/// A kept translation of the block at `eip` valid for `win`'s memory.
pub(crate) fn find(win: &Window, eip: u32) -> Option<Block> {
    let store = STATE.lock().unwrap_or_else(|e| e.into_inner()).as_ref()?.store.clone()?;
    for i in store.range(eip) {
        let Some(b) = store.record(i).and_then(|(_, rec)| parse(rec)) else { continue };
        if b.eip == eip && memo::matches(win, &b) {
            HITS.fetch_add(1, Ordering::Relaxed);
            return Some(b);
        }
    }
    None
}

/// The cache directory and this build's fingerprint, if a cache is open.
pub(crate) fn location() -> Option<(PathBuf, u64)> {
    STATE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| (s.dir.clone(), s.fingerprint))
}

/// Counters: (records in the file when opened, blocks taken from it).
pub fn stats() -> (u64, u64) {
    (RECORDS.load(Ordering::Relaxed), HITS.load(Ordering::Relaxed))
}

/// A little-endian reader of a record that fails on a short record.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32_at(b, 0))
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
}

fn parse(rec: &[u8]) -> Option<Block> {
    let mut r = Rd(rec);
    let eip = r.u32()?;
    let [ncode, ninsns, nexits, npages, nsrc] = [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?].map(|n| n as usize);
    let (guest_insns, guest_len) = (r.u32()?, r.u32()?);
    if ninsns > rec.len() / 10 || nexits > rec.len() / 12 || npages > rec.len() / 4 || nsrc > rec.len() / 8 {
        return None;
    }
    let code = r.take(ncode)?.to_vec();
    let mut insns = Vec::with_capacity(ninsns);
    for _ in 0..ninsns {
        let i = (r.u32()?, r.u32()?, r.u16()?);
        if i.0 as usize >= ncode {
            return None;
        }
        insns.push(i);
    }
    let mut exits = Vec::with_capacity(nexits);
    for _ in 0..nexits {
        let e = ExitSite { site: r.u32()?, stub: r.u32()?, target: r.u32()? };
        // Chaining patches four bytes at `site`: keep them inside the code.
        if e.site as usize + 4 > ncode || e.stub as usize >= ncode {
            return None;
        }
        exits.push(e);
    }
    let pages = (0..npages).map(|_| r.u32()).collect::<Option<Vec<_>>>()?;
    let mut src = Vec::with_capacity(nsrc);
    for _ in 0..nsrc {
        let addr = r.u32()?;
        let n = r.u32()? as usize;
        src.push((addr, r.take(n)?.to_vec()));
    }
    if !r.0.is_empty() || src.first().map(|s| s.0) != Some(eip) {
        return None;
    }
    Some(Block { eip, code, insns, exits, pages, fetch_fault: false, src, guest_insns, guest_len })
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn serialize(b: &Block, out: &mut Vec<u8>) {
    for v in [b.eip, b.code.len() as u32, b.insns.len() as u32, b.exits.len() as u32, b.pages.len() as u32] {
        put32(out, v);
    }
    put32(out, b.src.len() as u32);
    put32(out, b.guest_insns);
    put32(out, b.guest_len);
    out.extend_from_slice(&b.code);
    for &(h, e, s) in &b.insns {
        put32(out, h);
        put32(out, e);
        out.extend_from_slice(&s.to_le_bytes());
    }
    for e in &b.exits {
        for v in [e.site, e.stub, e.target] {
            put32(out, v);
        }
    }
    for &p in &b.pages {
        put32(out, p);
    }
    for (addr, bytes) in &b.src {
        put32(out, *addr);
        put32(out, bytes.len() as u32);
        out.extend_from_slice(bytes);
    }
}

/// Write this run's new translations to the cache file, with the records
/// it held, if there are enough of them to be worth it. Returns the
/// number of new records written (0: nothing to do, or no cache open).
pub fn save() -> io::Result<usize> {
    let (dir, fingerprint, old) = match STATE.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(s) => (s.dir.clone(), s.fingerprint, s.store.clone()),
        None => return Ok(0),
    };
    let fresh = memo::fresh();
    if fresh.len() < MIN_FRESH {
        return Ok(0);
    }
    // The new records, then the old ones that still fit: (eip, bytes).
    let mut buf = Vec::new();
    let mut spans = Vec::with_capacity(fresh.len());
    for b in &fresh {
        let at = buf.len();
        serialize(b, &mut buf);
        spans.push((b.eip, at, buf.len() - at));
    }
    let mut recs: Vec<(u32, &[u8])> = spans.iter().map(|&(eip, at, n)| (eip, &buf[at..at + n])).collect();
    let mut size = buf.len();
    if let Some(s) = &old {
        for i in 0..s.records {
            if let Some((eip, rec)) = s.record(i) {
                size += rec.len();
                if size > MAX_FILE {
                    break;
                }
                recs.push((eip, rec));
            }
        }
    }
    // By address, the newest first among versions of one address.
    recs.sort_by_key(|r| r.0);
    let mut kept: Vec<(u32, &[u8])> = Vec::with_capacity(recs.len());
    for r in recs {
        let same = kept.iter().rev().take_while(|k| k.0 == r.0).count();
        if same < PER_EIP && !kept.iter().rev().take(same).any(|k| k.1 == r.1) {
            kept.push(r);
        }
    }
    write_file(&dir, fingerprint, &kept)?;
    prune(&dir, fingerprint);
    Ok(fresh.len())
}

fn write_file(dir: &Path, fingerprint: u64, recs: &[(u32, &[u8])]) -> io::Result<()> {
    let data: usize = recs.iter().map(|r| r.1.len()).sum();
    let mut head = Vec::with_capacity(HEADER + recs.len() * ENTRY);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&fingerprint.to_le_bytes());
    put32(&mut head, recs.len() as u32);
    put32(&mut head, 0);
    head.extend_from_slice(&(data as u64).to_le_bytes());
    let mut off = 0u32;
    for (eip, rec) in recs {
        for v in [*eip, off, rec.len() as u32, checksum(rec)] {
            put32(&mut head, v);
        }
        off += rec.len() as u32;
    }
    let tmp = dir.join(format!(".xlate-{}-{}.tmp", std::process::id(), fingerprint));
    let f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    // Records are small: one host write per 256 KiB, not one per record.
    let mut f = io::BufWriter::with_capacity(256 << 10, f);
    let written = (|| {
        f.write_all(&head)?;
        for (_, rec) in recs {
            f.write_all(rec)?;
        }
        f.flush()
    })();
    match written.and_then(|()| std::fs::rename(&tmp, dir.join(file_name(fingerprint)))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Remove the files of other builds but the two most recently written.
fn prune(dir: &Path, fingerprint: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let ours = file_name(fingerprint);
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = rd
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("xlate-") && n.ends_with(".bin") && n != ours.as_str()
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    others.sort_by_key(|o| std::cmp::Reverse(o.0));
    for (_, p) in others.iter().skip(2) {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> Block {
        Block {
            eip: 0x1000,
            code: vec![0x90; 40],
            insns: vec![(0, 0x1000, 0xffff), (5, 0x1002, 0x1234)],
            exits: vec![ExitSite { site: 8, stub: 20, target: 0x2000 }],
            pages: vec![1],
            fetch_fault: false,
            src: vec![(0x1000, vec![0xb8, 1, 0, 0, 0, 0xc3])],
            guest_insns: 2,
            guest_len: 6,
        }
    }

    #[test]
    fn records_round_trip_and_reject_damage() {
        let b = block();
        let mut rec = Vec::new();
        serialize(&b, &mut rec);
        let p = parse(&rec).expect("parses");
        assert_eq!((p.eip, &p.code, &p.insns, &p.pages, &p.src), (b.eip, &b.code, &b.insns, &b.pages, &b.src));
        assert_eq!((p.guest_insns, p.guest_len), (2, 6));
        assert_eq!((p.exits[0].site, p.exits[0].stub, p.exits[0].target), (8, 20, 0x2000));
        // Every truncation is refused, never read past.
        for n in 0..rec.len() {
            assert!(parse(&rec[..n]).is_none(), "a record cut at {n} bytes parses");
        }
        // An exit patching outside the code is refused.
        let mut bad = b;
        bad.exits[0].site = 38;
        let mut rec2 = Vec::new();
        serialize(&bad, &mut rec2);
        assert!(parse(&rec2).is_none());
        // The checksum sees a flipped bit.
        let sum = checksum(&rec);
        rec[30] ^= 4;
        assert_ne!(checksum(&rec), sum);
    }
}
