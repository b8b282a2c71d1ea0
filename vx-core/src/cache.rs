//! The code cache: translated blocks, their lookup and chaining, and the
//! index the fault handler uses to map a host address back to a guest one.
//!
//! Code memory is one memfd mapped twice, read-write for the translator and
//! read-execute for running, so no mapping is ever writable and executable
//! at once. Blocks are appended; a direct branch first jumps to a stub that
//! exits to the dispatcher, which patches the branch to the target block
//! (chaining). Invalidating a block (the guest wrote to its page) unpatches
//! every branch into it and drops it from the lookup tables; its code stays
//! until the next flush. The fault handler reads the block index lock-free:
//! it is append-only between flushes, and flushes happen only while no code
//! of this cache runs.

use crate::emit::ExitSite;
use crate::state::OFF_MISS_PTR;
use crate::translate::Block;
use crate::zeroed::Zeroed;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for u32 keys (guest addresses and page numbers); the
/// default SipHash costs more than the rest of a block lookup.
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16;
    }
}

pub(crate) type AddrMap<V> = HashMap<u32, V, BuildHasherDefault<AddrHasher>>;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Size of one code cache.
pub const CACHE_SIZE: usize = 64 << 20;
/// Bytes at the start of the code kept for the miss stub.
const MISS_STUB: usize = 64;
pub(crate) const MAX_BLOCKS: usize = 1 << 18;
pub(crate) const MAX_INSNS: usize = 1 << 22;

/// What the fault handler needs: block start offsets and, per block, the
/// (host offset, guest eip, swap) of each instruction, packed in a u64.
pub(crate) struct BlockIndex {
    pub rx: u64,
    pub size: u64,
    starts: Zeroed<AtomicU32>,
    first_insn: Zeroed<AtomicU32>,
    insns: Zeroed<AtomicU64>,
    nblocks: AtomicUsize,
    ninsns: AtomicUsize,
}

/// The guest position of a host code address, as the fault handler finds it.
pub(crate) struct HostPos {
    pub eip: u32,
    pub swap: u16,
}

impl BlockIndex {
    fn new(rx: u64, size: u64) -> BlockIndex {
        BlockIndex {
            rx,
            size,
            // SAFETY: all-zero bits are a valid atomic integer (0).
            starts: unsafe { Zeroed::new(MAX_BLOCKS) },
            // SAFETY: as above.
            first_insn: unsafe { Zeroed::new(MAX_BLOCKS + 1) },
            // SAFETY: as above.
            insns: unsafe { Zeroed::new(MAX_INSNS) },
            nblocks: AtomicUsize::new(0),
            ninsns: AtomicUsize::new(0),
        }
    }

    /// An index of nothing, holding no memory.
    fn empty() -> BlockIndex {
        BlockIndex {
            rx: 0,
            size: 0,
            starts: Zeroed::empty(),
            first_insn: Zeroed::empty(),
            insns: Zeroed::empty(),
            nblocks: AtomicUsize::new(0),
            ninsns: AtomicUsize::new(0),
        }
    }

    fn full(&self, insns: usize) -> bool {
        self.nblocks.load(Ordering::Relaxed) + 1 >= MAX_BLOCKS
            || self.ninsns.load(Ordering::Relaxed) + insns >= MAX_INSNS
    }

    fn push(&self, start: u32, insns: &[(u32, u32, u16)]) {
        let b = self.nblocks.load(Ordering::Relaxed);
        let mut i = self.ninsns.load(Ordering::Relaxed);
        self.starts[b].store(start, Ordering::Relaxed);
        self.first_insn[b].store(i as u32, Ordering::Relaxed);
        for &(off, eip, swap) in insns {
            let packed = (eip as u64) | ((off as u64 & 0xffff) << 32) | ((swap as u64) << 48);
            // Bits 48..64 hold the swap; the offset keeps 16 bits of room.
            self.insns[i].store(packed, Ordering::Relaxed);
            i += 1;
        }
        self.first_insn[b + 1].store(i as u32, Ordering::Relaxed);
        self.ninsns.store(i, Ordering::Relaxed);
        self.nblocks.store(b + 1, Ordering::Release);
    }

    /// As `push`, for instructions already packed as `push` packs them.
    fn push_packed(&self, start: u32, insns: &[u64]) {
        let b = self.nblocks.load(Ordering::Relaxed);
        let mut i = self.ninsns.load(Ordering::Relaxed);
        self.starts[b].store(start, Ordering::Relaxed);
        self.first_insn[b].store(i as u32, Ordering::Relaxed);
        for &p in insns {
            self.insns[i].store(p, Ordering::Relaxed);
            i += 1;
        }
        self.first_insn[b + 1].store(i as u32, Ordering::Relaxed);
        self.ninsns.store(i, Ordering::Relaxed);
        self.nblocks.store(b + 1, Ordering::Release);
    }

    /// Find the guest instruction whose host code contains `rip`.
    /// Async-signal-safe: only atomic loads.
    pub(crate) fn find(&self, rip: u64) -> Option<HostPos> {
        if rip < self.rx || rip >= self.rx + self.size {
            return None;
        }
        let off = (rip - self.rx) as u32;
        let n = self.nblocks.load(Ordering::Acquire);
        if n == 0 {
            return None;
        }
        let lo = self.block_at(off, n)?;
        let start = self.starts[lo].load(Ordering::Relaxed);
        let rel = off - start;
        let (a, b) = (
            self.first_insn[lo].load(Ordering::Relaxed) as usize,
            self.first_insn[lo + 1].load(Ordering::Relaxed) as usize,
        );
        let mut best = None;
        for i in a..b {
            let p = self.insns[i].load(Ordering::Relaxed);
            let o = ((p >> 32) & 0xffff) as u32;
            if o <= rel {
                best = Some(HostPos { eip: p as u32, swap: (p >> 48) as u16 });
            } else {
                break;
            }
        }
        best
    }

    /// The number of the last of the first `n` blocks starting at or
    /// before offset `off` (block starts ascend: a packed array of them is
    /// quicker to search than the block table). Async-signal-safe.
    fn block_at(&self, off: u32, n: usize) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, n);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.starts[mid].load(Ordering::Relaxed) <= off {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (n > 0 && self.starts[lo].load(Ordering::Relaxed) <= off).then_some(lo)
    }

    fn clear(&self) {
        self.nblocks.store(0, Ordering::Release);
        self.ninsns.store(0, Ordering::Relaxed);
    }
}

/// Host address ranges of all code caches, for the fault handler to tell
/// translated code from host code.
const MAX_CACHES: usize = 1024;
static RANGES: [AtomicU64; MAX_CACHES] = [const { AtomicU64::new(0) }; MAX_CACHES];
/// One past the highest slot ever used: the fault handler looks no further.
static HIGH: AtomicUsize = AtomicUsize::new(0);

/// Tell whether `rip` lies in some code cache. Async-signal-safe.
pub(crate) fn in_any_cache(rip: u64) -> bool {
    let high = HIGH.load(Ordering::Acquire).min(MAX_CACHES);
    RANGES[..high].iter().any(|r| {
        let s = r.load(Ordering::Acquire);
        s != 0 && rip >= s && rip < s + CACHE_SIZE as u64
    })
}

#[derive(Clone)]
pub(crate) struct BlockMeta {
    pub(crate) eip: u32,
    pub(crate) host: u32,
    /// Never changed after translation: shared by the copies `restore`
    /// makes.
    pub(crate) exits: std::sync::Arc<[ExitSite]>,
    /// Chained jumps into this block: (block id, exit index).
    pub(crate) incoming: SmallVec<[(usize, usize); 2]>,
    pub(crate) pages: SmallVec<[u32; 1]>,
    pub(crate) valid: bool,
    /// It came from a snapshot (`restore`), not from the translator.
    pub(crate) restored: bool,
}

/// Translations copied out of one cache to start another from: the code,
/// the block table (blocks left out stay as unreachable, invalid entries)
/// and the fault handler's index.
pub struct Snapshot {
    pub(crate) code: SnapCode,
    pub(crate) blocks: Vec<BlockMeta>,
    /// The guest pages its blocks were made from, ascending.
    pub(crate) pages: Vec<u32>,
    pub(crate) index: (Vec<u32>, Vec<u32>, Vec<u64>),
    pub(crate) kept: usize,
}

impl Snapshot {
    /// The number of valid blocks it holds.
    pub fn blocks(&self) -> usize {
        self.kept
    }

    /// The guest pages its blocks were made from.
    pub fn pages(&self) -> impl Iterator<Item = u32> + '_ {
        self.pages.iter().copied()
    }

    /// The pages of `blocks`, ascending and each once.
    pub(crate) fn pages_of(blocks: &[BlockMeta]) -> Vec<u32> {
        let mut v: Vec<u32> = blocks.iter().flat_map(|b| b.pages.iter().copied()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The code of a snapshot: copied out of a cache, or in a file on disk.
pub(crate) enum SnapCode {
    Owned(Vec<u8>),
    /// `len` bytes at `at` in the file.
    Mapped {
        file: std::sync::Arc<FileMap>,
        at: usize,
        len: usize,
    },
}

impl std::ops::Deref for SnapCode {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SnapCode::Owned(v) => v,
            SnapCode::Mapped { file, at, len } => &file[*at..*at + *len],
        }
    }
}

/// A file mapped read-only: the translations `xcache` keeps on disk.
pub(crate) struct FileMap(memmap2::Mmap);

impl FileMap {
    pub(crate) fn new(f: &std::fs::File, len: usize) -> io::Result<FileMap> {
        // SAFETY: a private read-only mapping of a file that is never
        // written where it lies (`xcache` writes a new file and renames it
        // into place); our own data, checked before use.
        unsafe { memmap2::MmapOptions::new().len(len).map(f) }.map(FileMap)
    }
}

impl std::ops::Deref for FileMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// One address space's translated code.
pub(crate) struct CodeCache {
    rw: *mut u8,
    rx: *mut u8,
    used: usize,
    /// The most code memory ever used (what a recycled cache holds).
    high: usize,
    pub index: Box<BlockIndex>,
    blocks: Vec<BlockMeta>,
    map: AddrMap<usize>,
    pages: AddrMap<Vec<usize>>,
    /// Blocks set aside by page (see `park_page`): a block is under each
    /// of its pages that is set aside, and comes back when none is.
    parked: AddrMap<Vec<usize>>,
    slot: usize,
    /// Statistics: blocks translated, flushes, invalidations.
    pub stats: CacheStats,
}

#[derive(Default, Clone, Copy, Debug)]
pub struct CacheStats {
    pub blocks: u64,
    /// Blocks that came from a snapshot.
    pub restored: u64,
    pub flushes: u64,
    pub invalidated: u64,
    pub chained: u64,
}

// SAFETY: the cache owns its mappings; it is used by one thread at a time.
unsafe impl Send for CodeCache {}

impl CodeCache {
    pub(crate) fn new() -> io::Result<CodeCache> {
        let spare = SPARE_CACHES.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (rw, rx, slot, high, index) = match spare {
            Some(s) => (s.rw as *mut u8, s.rx as *mut u8, s.slot, s.high, s.index),
            None => {
                let (rw, rx, slot) = Self::map()?;
                (rw, rx, slot, 0, Box::new(BlockIndex::new(rx as u64, CACHE_SIZE as u64)))
            }
        };
        let mut c = CodeCache {
            rw,
            rx,
            used: 0,
            high,
            index,
            blocks: Vec::new(),
            map: AddrMap::default(),
            pages: AddrMap::default(),
            parked: AddrMap::default(),
            slot,
            stats: CacheStats::default(),
        };
        c.put_miss_stub();
        Ok(c)
    }

    /// Where the code starts (the indirect-branch table's offsets count
    /// from here).
    pub(crate) fn code_base(&self) -> u64 {
        self.rx as u64
    }

    /// Write, at offset 0, the code every empty indirect-branch table
    /// entry leads to: `jmp [r15 + miss_ptr]` (see `state::IND_ENTRIES`).
    /// Blocks start after it.
    fn put_miss_stub(&mut self) {
        let mut stub = [0u8; MISS_STUB];
        stub[..3].copy_from_slice(&[0x41, 0xff, 0xa7]);
        stub[3..7].copy_from_slice(&(OFF_MISS_PTR as u32).to_le_bytes());
        stub[7..].fill(0xcc);
        // SAFETY: the first MISS_STUB bytes of our RW view; no code runs
        // from this cache now (it is new, or being flushed).
        unsafe { std::ptr::copy_nonoverlapping(stub.as_ptr(), self.rw, MISS_STUB) };
        self.used = MISS_STUB;
        self.high = self.high.max(MISS_STUB);
    }

    /// Make the two views of a fresh code memory file and register the
    /// executable one for the fault handler.
    fn map() -> io::Result<(*mut u8, *mut u8, usize)> {
        // SAFETY: plain system calls on fresh objects we own.
        unsafe {
            let fd = libc::memfd_create(c"vx-code".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::ftruncate(fd, CACHE_SIZE as libc::off_t) != 0 {
                let e = io::Error::last_os_error();
                libc::close(fd);
                return Err(e);
            }
            let rw = libc::mmap(
                std::ptr::null_mut(),
                CACHE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            let rx = libc::mmap(
                std::ptr::null_mut(),
                CACHE_SIZE,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_SHARED,
                fd,
                0,
            );
            let e = io::Error::last_os_error();
            // The mappings keep the memory file; its descriptor can go.
            libc::close(fd);
            if rw == libc::MAP_FAILED || rx == libc::MAP_FAILED {
                for m in [rw, rx] {
                    if m != libc::MAP_FAILED {
                        libc::munmap(m, CACHE_SIZE);
                    }
                }
                return Err(e);
            }
            let Some(slot) = RANGES
                .iter()
                .position(|r| r.compare_exchange(0, rx as u64, Ordering::AcqRel, Ordering::Relaxed).is_ok())
            else {
                libc::munmap(rw, CACHE_SIZE);
                libc::munmap(rx, CACHE_SIZE);
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            };
            HIGH.fetch_max(slot + 1, Ordering::AcqRel);
            Ok((rw as *mut u8, rx as *mut u8, slot))
        }
    }

    /// Return the host entry of the valid block for `eip`, if any.
    pub(crate) fn lookup(&self, eip: u32) -> Option<u64> {
        self.map.get(&eip).map(|&b| self.rx as u64 + self.blocks[b].host as u64)
    }

    /// Tell whether a block can be added without a flush.
    pub(crate) fn has_room(&self, b: &Block) -> bool {
        self.used + b.code.len() + 64 <= CACHE_SIZE && !self.index.full(b.insns.len())
    }

    /// Place a translated block; return its host entry. With `register`
    /// false the block is reachable only through the returned address.
    pub(crate) fn insert(&mut self, b: &Block, register: bool) -> u64 {
        let host = (self.used + 63) & !63;
        // SAFETY: `has_room` was checked by the caller; we write into the
        // RW view inside the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(b.code.as_ptr(), self.rw.add(host), b.code.len());
        }
        self.used = host + b.code.len();
        self.high = self.high.max(self.used);
        self.index.push(host as u32, &b.insns);
        self.stats.blocks += 1;
        let id = self.blocks.len();
        self.blocks.push(BlockMeta {
            eip: b.eip,
            host: host as u32,
            exits: b.exits.as_slice().into(),
            incoming: SmallVec::new(),
            pages: SmallVec::from_slice(&b.pages),
            valid: register,
            restored: false,
        });
        if register {
            self.map.insert(b.eip, id);
            for &p in &b.pages {
                self.pages.entry(p).or_default().push(id);
            }
        }
        self.rx as u64 + host as u64
    }

    fn write_rel32(&mut self, site: usize, target: usize) {
        let rel = (target as i64 - (site as i64 + 4)) as i32;
        // SAFETY: `site` is a 4-byte aligned rel32 field inside the cache;
        // an aligned 4-byte store is atomic for concurrent instruction fetch.
        unsafe {
            (self.rw.add(site) as *mut AtomicU32).as_ref().unwrap().store(rel as u32, Ordering::Release);
        }
    }

    /// Chain the jump whose rel32 field is at host address `site` to the
    /// valid block for `target`.
    pub(crate) fn chain(&mut self, site_addr: u64, target: u32) {
        let Some(&to) = self.map.get(&target) else {
            return;
        };
        let site = (site_addr - self.rx as u64) as u32;
        // Find the block and exit owning this site.
        let Some(from) = self.index.block_at(site, self.blocks.len()) else {
            return;
        };
        let Some(fb) = self.blocks.get(from) else {
            return;
        };
        if !fb.valid {
            return;
        }
        let Some(k) = fb.exits.iter().position(|e| fb.host + e.site == site && e.target == target) else {
            return;
        };
        let to_host = self.blocks[to].host as usize;
        self.write_rel32(site as usize, to_host);
        self.blocks[to].incoming.push((from, k));
        self.stats.chained += 1;
    }

    /// Make block `id` unreachable: out of the address map, the chains
    /// into it undone, and off the block lists of its pages but `page`
    /// (whose list the caller has taken). Returns its eip.
    fn unhook(&mut self, id: usize, page: u32) -> u32 {
        self.blocks[id].valid = false;
        let eip = self.blocks[id].eip;
        if self.map.get(&eip) == Some(&id) {
            self.map.remove(&eip);
        }
        // (A source set aside gets its exit back too: it may come back.)
        for (from, k) in std::mem::take(&mut self.blocks[id].incoming) {
            let fb = &self.blocks[from];
            let (site, stub) = ((fb.host + fb.exits[k].site) as usize, (fb.host + fb.exits[k].stub) as usize);
            self.write_rel32(site, stub);
        }
        for i in 0..self.blocks[id].pages.len() {
            let p = self.blocks[id].pages[i];
            if p != page {
                if let Some(v) = self.pages.get_mut(&p) {
                    v.retain(|&x| x != id);
                }
            }
        }
        eip
    }

    /// Drop every block made from guest page `page`; return their eips
    /// (for the indirect tables).
    pub(crate) fn invalidate_page(&mut self, page: u32) -> Vec<u32> {
        let ids = self.pages.remove(&page).unwrap_or_default();
        let mut eips = Vec::new();
        for id in ids {
            if self.blocks[id].valid {
                self.stats.invalidated += 1;
                eips.push(self.unhook(id, page));
                self.blocks[id].pages.clear();
            }
        }
        eips
    }

    /// Set aside every block made from guest page `page`: unreachable as
    /// `invalidate_page` leaves them, but with their code kept, for
    /// `unpark_page` to bring back once the page shows the same bytes
    /// again. Returns their eips.
    pub(crate) fn park_page(&mut self, page: u32) -> Vec<u32> {
        let ids = self.pages.remove(&page).unwrap_or_default();
        let mut eips = Vec::new();
        for id in ids {
            if self.blocks[id].valid {
                eips.push(self.unhook(id, page));
                for p in self.blocks[id].pages.clone() {
                    self.parked.entry(p).or_default().push(id);
                }
            }
        }
        eips
    }

    /// Bring back the blocks set aside from guest page `page` whose other
    /// pages are not set aside; their exits start unchained (what they
    /// chained to may have gone meanwhile). Returns whether any came back.
    pub(crate) fn unpark_page(&mut self, page: u32) -> bool {
        let ids = self.parked.remove(&page).unwrap_or_default();
        let mut any = false;
        for id in ids {
            let b = &self.blocks[id];
            if b.valid || b.pages.iter().any(|p| self.parked.get(p).is_some_and(|v| v.contains(&id))) {
                continue;
            }
            let exits: Vec<(usize, usize)> =
                b.exits.iter().map(|e| ((b.host + e.site) as usize, (b.host + e.stub) as usize)).collect();
            for (site, stub) in exits {
                self.write_rel32(site, stub);
            }
            let b = &mut self.blocks[id];
            b.valid = true;
            let (eip, pages) = (b.eip, b.pages.clone());
            self.map.entry(eip).or_insert(id);
            for p in pages {
                self.pages.entry(p).or_default().push(id);
            }
            any = true;
        }
        any
    }

    /// Forget the blocks set aside from guest page `page` (its bytes are
    /// not what they were made from): they never come back.
    pub(crate) fn discard_parked(&mut self, page: u32) {
        for id in self.parked.remove(&page).unwrap_or_default() {
            for p in self.blocks[id].pages.clone() {
                if let Some(v) = self.parked.get_mut(&p) {
                    v.retain(|&x| x != id);
                    if v.is_empty() {
                        self.parked.remove(&p);
                    }
                }
            }
            self.stats.invalidated += 1;
        }
    }

    /// Whether blocks made from guest page `page` are set aside.
    pub(crate) fn has_parked(&self, page: u32) -> bool {
        self.parked.contains_key(&page)
    }

    /// How many blocks `snapshot` would keep; with `fresh`, only of those
    /// the translator made (not taken from a snapshot).
    pub(crate) fn count_kept(&self, keep: &mut dyn FnMut(u32) -> bool, fresh: bool) -> usize {
        (0..self.blocks.len()).filter(|&id| !(fresh && self.blocks[id].restored) && self.keeps(id, keep)).count()
    }

    /// Whether `snapshot` keeps block `id`: valid, the one its address
    /// finds, and made from pages that all pass `keep`.
    fn keeps(&self, id: usize, keep: &mut dyn FnMut(u32) -> bool) -> bool {
        let b = &self.blocks[id];
        b.valid && !b.pages.is_empty() && self.map.get(&b.eip) == Some(&id) && b.pages.iter().all(|&p| keep(p))
    }

    /// Copy out the valid blocks whose guest pages all pass `keep`, packed
    /// together with their chains among themselves (jumps to blocks left
    /// out go back to their stubs), for this or another cache to take in
    /// again (`restore`).
    pub(crate) fn snapshot(&self, keep: &mut dyn FnMut(u32) -> bool) -> Snapshot {
        let n = self.blocks.len();
        let kept: Vec<bool> = (0..n).map(|id| self.keeps(id, keep)).collect();
        // SAFETY: the initialised part of our own RW mapping.
        let all = unsafe { std::slice::from_raw_parts(self.rw, self.used) };
        let mut code = Vec::new();
        let mut new_id = vec![usize::MAX; n];
        let mut blocks = Vec::new();
        let (mut starts, mut first, mut insns) = (Vec::new(), vec![0u32], Vec::new());
        for id in (0..n).filter(|&id| kept[id]) {
            let b = &self.blocks[id];
            let end = self.blocks.get(id + 1).map_or(self.used, |nb| nb.host as usize);
            let host = (code.len() + 63) & !63;
            code.resize(host, 0);
            code.extend_from_slice(&all[b.host as usize..end]);
            new_id[id] = blocks.len();
            // Every exit at its stub; chains among kept blocks come next.
            for e in b.exits.iter() {
                let (site, stub) = (host + e.site as usize, host + e.stub as usize);
                let rel = (stub as i64 - (site as i64 + 4)) as i32;
                code[site..site + 4].copy_from_slice(&rel.to_le_bytes());
            }
            let incoming = b.incoming.iter().filter(|&&(from, _)| kept[from]).copied().collect();
            blocks.push(BlockMeta {
                eip: b.eip,
                host: host as u32,
                exits: b.exits.clone(),
                incoming,
                pages: b.pages.clone(),
                valid: true,
                restored: false,
            });
            starts.push(host as u32);
            let (a, z) = (
                self.index.first_insn[id].load(Ordering::Relaxed) as usize,
                self.index.first_insn[id + 1].load(Ordering::Relaxed) as usize,
            );
            insns.extend(self.index.insns[a..z].iter().map(|x| x.load(Ordering::Relaxed)));
            first.push(insns.len() as u32);
        }
        for to in 0..blocks.len() {
            let to_host = blocks[to].host as i64;
            for k in 0..blocks[to].incoming.len() {
                let (from, exit) = blocks[to].incoming[k];
                let from = new_id[from];
                blocks[to].incoming[k] = (from, exit);
                let site = (blocks[from].host + blocks[from].exits[exit].site) as usize;
                let rel = (to_host - (site as i64 + 4)) as i32;
                code[site..site + 4].copy_from_slice(&rel.to_le_bytes());
            }
        }
        let pages = Snapshot::pages_of(&blocks);
        let kept = blocks.len();
        Snapshot { code: SnapCode::Owned(code), blocks, pages, index: (starts, first, insns), kept }
    }

    /// The blocks it holds, valid or dropped.
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Take in the blocks of a snapshot after those it holds; false (and
    /// nothing done) if they do not fit. Chains inside the snapshot hold
    /// wherever it lands (they are relative); a block for an address the
    /// cache has already is kept only as the target of those chains.
    pub(crate) fn restore(&mut self, s: &Snapshot) -> bool {
        let code: &[u8] = &s.code;
        let base = (self.used + 63) & !63;
        let (starts, first, insns) = &s.index;
        if base + code.len() + 64 > CACHE_SIZE
            || self.index.full(insns.len())
            || self.blocks.len() + s.blocks.len() + 1 >= MAX_BLOCKS
            || self.index.nblocks.load(Ordering::Relaxed) != self.blocks.len()
        {
            return false;
        }
        if base + code.len() > self.high {
            // Give the code memory pages in one call rather than a host
            // fault per page. Failure only means they fault in one by one.
            let from = self.high.max(base) & !4095;
            // SAFETY: advice on part of our own RW mapping of the cache.
            unsafe {
                libc::madvise(self.rw.add(from).cast(), base + code.len() - from, libc::MADV_POPULATE_WRITE);
            }
        }
        // SAFETY: `base + code.len()` fits the cache (checked above); we
        // write into the RW view past every block, where no code runs.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), self.rw.add(base), code.len()) };
        self.used = base + code.len();
        self.high = self.high.max(self.used);
        let id0 = self.blocks.len();
        self.blocks.reserve(s.blocks.len());
        self.map.reserve(s.blocks.len());
        for (i, b) in s.blocks.iter().enumerate() {
            let id = id0 + i;
            let (a, z) = (first[i] as usize, first[i + 1] as usize);
            self.index.push_packed(base as u32 + starts[i], &insns[a..z]);
            let incoming = b.incoming.iter().map(|&(from, k)| (id0 + from, k)).collect();
            self.blocks.push(BlockMeta { host: base as u32 + b.host, incoming, restored: true, ..b.clone() });
            if b.valid && !self.map.contains_key(&b.eip) {
                self.map.insert(b.eip, id);
            }
            if b.valid {
                for &p in &b.pages {
                    self.pages.entry(p).or_default().push(id);
                }
            }
        }
        self.stats.restored += s.kept as u64;
        true
    }

    /// Return a copy of the code and (host offset, guest eip) of each block,
    /// for debugging and teaching tools.
    pub(crate) fn dump(&self) -> (Vec<u8>, Vec<(u32, u32)>) {
        let mut code = vec![0u8; self.used];
        // SAFETY: reading the initialised part of our own RW mapping.
        unsafe { std::ptr::copy_nonoverlapping(self.rw, code.as_mut_ptr(), self.used) };
        (code, self.blocks.iter().map(|b| (b.host, b.eip)).collect())
    }

    /// Throw all translations away. No code of this cache may be running.
    pub(crate) fn flush(&mut self) {
        self.put_miss_stub();
        self.blocks.clear();
        self.map.clear();
        self.pages.clear();
        self.parked.clear();
        self.index.clear();
        self.stats.flushes += 1;
    }
}

/// A dropped cache's memory, kept for a new one: its pages are already
/// there, so filling it does not fault them in again.
struct Spare {
    rw: usize,
    rx: usize,
    slot: usize,
    /// How much of its code memory has host pages already.
    high: usize,
    index: Box<BlockIndex>,
}

static SPARE_CACHES: std::sync::Mutex<Vec<Spare>> = std::sync::Mutex::new(Vec::new());
const SPARES: usize = 16;
/// Caches that grew past this give their memory back instead.
const SPARE_MAX_HIGH: usize = 8 << 20;

impl Drop for CodeCache {
    fn drop(&mut self) {
        if self.high <= SPARE_MAX_HIGH {
            let mut spares = SPARE_CACHES.lock().unwrap_or_else(|e| e.into_inner());
            if spares.len() < SPARES {
                self.index.clear();
                let index = std::mem::replace(&mut self.index, Box::new(BlockIndex::empty()));
                spares.push(Spare {
                    rw: self.rw as usize,
                    rx: self.rx as usize,
                    slot: self.slot,
                    high: self.high,
                    index,
                });
                return;
            }
        }
        RANGES[self.slot].store(0, Ordering::Release);
        // SAFETY: our own mappings; no code of ours runs now.
        unsafe {
            libc::munmap(self.rw as *mut libc::c_void, CACHE_SIZE);
            libc::munmap(self.rx as *mut libc::c_void, CACHE_SIZE);
        }
    }
}
