//! Virtual memory areas: the ranges of an address space the guest mapped,
//! with their protection and what backs them. A page may be touched only
//! inside a VMA and as its protection allows; the page table then says
//! which frame holds it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::shared::SharedPages;

/// What backs a VMA's pages.
#[derive(Clone)]
pub enum Backing {
    /// Zero-filled on first touch, private to the address space (and to
    /// its copy-on-write clones).
    Anon,
    /// Pages shared by every mapping of one object: anonymous MAP_SHARED,
    /// System V shared memory, or a host file mapped MAP_SHARED (its page
    /// cache). `page` is the object page at the VMA's start.
    Shared { obj: Arc<SharedPages>, page: u32 },
    /// Private copies of a file's pages, read on first touch; bytes of the
    /// file past `file_end` (from the start of the file) read as zeros, as
    /// the tail of an ELF segment's last page does.
    File { file: Arc<dyn Pager>, offset: u64, file_end: u64 },
}

/// A file pages are read from and written back to: an open file of a
/// device (see `files.rs`), or any host file.
pub trait Pager: Send + Sync {
    /// Read at `off`; 0 at the end of the file.
    fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<usize>;
    /// Write all of `buf` at `off`.
    fn write_all_at(&self, buf: &[u8], off: u64) -> std::io::Result<()>;
    /// The file's size in bytes.
    fn size(&self) -> std::io::Result<u64>;
    /// Names the file: equal keys are the same file (for the page cache).
    fn key(&self) -> (u64, u64);
    /// The file's size and a version that changes whenever its contents
    /// do; without a version its pages are not kept in the page cache.
    fn size_vers(&self) -> std::io::Result<(u64, Option<u32>)> {
        Ok((self.size()?, None))
    }
    /// The file's name in the guest, for /proc/N/maps.
    fn name(&self) -> Option<String> {
        None
    }
    /// A name for this version of the file that holds across runs of vxos
    /// and changes whenever the file does (a host file's device, inode,
    /// size and times), for translations kept on disk; None if it has none.
    fn lasting_id(&self) -> Option<u64> {
        None
    }
}

/// The lasting id (see `Pager::lasting_id`) of a host file.
pub fn host_lasting_id(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in
        [m.dev(), m.ino(), m.size(), m.mtime() as u64, m.mtime_nsec() as u64, m.ctime() as u64, m.ctime_nsec() as u64]
    {
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17);
    }
    h
}

impl Pager for std::fs::File {
    fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, off)
    }
    fn write_all_at(&self, buf: &[u8], off: u64) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, off)
    }
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn key(&self) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        self.metadata().map(|m| (m.dev(), m.ino())).unwrap_or((u64::MAX, self as *const _ as u64))
    }
}

/// One area: `[start, end)` in guest bytes, page-aligned.
#[derive(Clone)]
pub struct Vma {
    pub end: u64,
    /// READ, WRITE, EXEC from `vx_core::window::pf`.
    pub prot: u8,
    pub backing: Backing,
    /// The stack: faults just below it extend it down.
    pub grows_down: bool,
}

impl Vma {
    /// Return the VMA for the part `[from, to)` of this one, which starts at `start`.
    fn slice(&self, start: u32, from: u32, to: u64) -> Vma {
        let delta = (from - start) as u64;
        let backing = match &self.backing {
            Backing::Anon => Backing::Anon,
            Backing::Shared { obj, page } => Backing::Shared { obj: obj.clone(), page: page + (delta / 4096) as u32 },
            Backing::File { file, offset, file_end } => {
                Backing::File { file: file.clone(), offset: offset + delta, file_end: *file_end }
            }
        };
        Vma { end: to, prot: self.prot, backing, grows_down: self.grows_down }
    }
}

/// The VMAs of one address space, by start address.
#[derive(Default, Clone)]
pub struct Vmas {
    map: BTreeMap<u32, Vma>,
}

impl Vmas {
    /// The bytes mapped, for RLIMIT_AS.
    pub fn mapped(&self) -> u64 {
        self.map.iter().map(|(&s, v)| v.end - s as u64).sum()
    }

    /// Return the VMA holding `addr` and its start.
    pub fn find(&self, addr: u32) -> Option<(u32, &Vma)> {
        let (&s, v) = self.map.range(..=addr).next_back()?;
        ((addr as u64) < v.end).then_some((s, v))
    }

    /// Return the first VMA starting above `addr`.
    pub fn next_above(&self, addr: u32) -> Option<(u32, &Vma)> {
        self.map.range(addr.saturating_add(1)..).next().map(|(&s, v)| (s, v))
    }

    /// Tell whether `[start, end)` overlaps no VMA.
    pub fn is_free(&self, start: u32, end: u64) -> bool {
        if let Some((_, v)) = self.map.range(..start).next_back() {
            if v.end > start as u64 {
                return false;
            }
        }
        self.map.range(start..).next().is_none_or(|(&s, _)| s as u64 >= end)
    }

    /// Add a VMA over a free range.
    pub fn insert(&mut self, start: u32, v: Vma) {
        debug_assert!(self.is_free(start, v.end));
        self.map.insert(start, v);
    }

    /// Cut VMAs at `addr` so that no VMA spans it.
    fn split_at(&mut self, addr: u32) {
        let Some((&s, v)) = self.map.range(..addr).next_back() else { return };
        if v.end <= addr as u64 {
            return;
        }
        let right = v.slice(s, addr, v.end);
        self.map.get_mut(&s).unwrap().end = addr as u64;
        self.map.insert(addr, right);
    }

    /// Remove `[start, end)` from the map; return the removed pieces.
    pub fn remove(&mut self, start: u32, end: u64) -> Vec<(u32, Vma)> {
        self.split_at(start);
        if end < 1 << 32 {
            self.split_at(end as u32);
        }
        let keys: Vec<u32> = self.map.range(start..).take_while(|(&s, _)| (s as u64) < end).map(|(&s, _)| s).collect();
        keys.into_iter().map(|k| (k, self.map.remove(&k).unwrap())).collect()
    }

    /// Set the protection of `[start, end)`; false if part of it is not mapped.
    pub fn protect(&mut self, start: u32, end: u64, prot: u8) -> bool {
        if !self.covered(start, end) {
            return false;
        }
        self.split_at(start);
        if end < 1 << 32 {
            self.split_at(end as u32);
        }
        for (_, v) in self.map.range_mut(start..).take_while(|(&s, _)| (s as u64) < end) {
            v.prot = prot;
        }
        true
    }

    /// Tell whether every byte of `[start, end)` is in some VMA.
    pub fn covered(&self, start: u32, end: u64) -> bool {
        let mut at = start as u64;
        while at < end {
            match self.find(at as u32) {
                Some((_, v)) => at = v.end,
                None => return false,
            }
        }
        true
    }

    /// Grow the VMA starting at `start` down to `new_start`.
    pub fn extend_down(&mut self, start: u32, new_start: u32) {
        if let Some(v) = self.map.remove(&start) {
            self.map.insert(new_start, v);
        }
    }

    /// Iterate over all VMAs.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Vma)> {
        self.map.iter().map(|(&s, v)| (s, v))
    }

    /// Find a free range of `len` bytes below `top` and above `bottom`, as
    /// high as possible (Linux's top-down placement).
    pub fn find_free(&self, len: u64, bottom: u32, top: u32) -> Option<u32> {
        let mut hi = top as u64;
        for (&s, v) in self.map.range(..top).rev() {
            let gap_lo = v.end.max(bottom as u64);
            if hi >= gap_lo + len {
                return Some((hi - len) as u32);
            }
            hi = hi.min(s as u64);
            if hi < bottom as u64 + len {
                return None;
            }
        }
        (hi >= bottom as u64 + len).then(|| (hi - len) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(end: u64, prot: u8) -> Vma {
        Vma { end, prot, backing: Backing::Anon, grows_down: false }
    }

    #[test]
    fn find_insert_remove_split() {
        let mut m = Vmas::default();
        m.insert(0x1000, anon(0x5000, 3));
        assert!(m.find(0x0fff).is_none());
        assert_eq!(m.find(0x4fff).unwrap().0, 0x1000);
        assert!(m.find(0x5000).is_none());
        let gone = m.remove(0x2000, 0x3000);
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].0, gone[0].1.end), (0x2000, 0x3000));
        assert_eq!(m.find(0x1000).unwrap().1.end, 0x2000);
        assert_eq!(m.find(0x3000).unwrap().0, 0x3000);
        assert!(m.is_free(0x2000, 0x3000));
        assert!(!m.is_free(0x1800, 0x2800));
    }

    #[test]
    fn protect_splits_and_refuses_holes() {
        let mut m = Vmas::default();
        m.insert(0x1000, anon(0x4000, 3));
        assert!(m.protect(0x2000, 0x3000, 1));
        let prots: Vec<(u32, u8)> = m.iter().map(|(s, v)| (s, v.prot)).collect();
        assert_eq!(prots, vec![(0x1000, 3), (0x2000, 1), (0x3000, 3)]);
        assert!(!m.protect(0x3000, 0x5000, 1), "0x4000.. is not mapped");
    }

    #[test]
    fn file_offsets_follow_splits() {
        let f = Arc::new(std::fs::File::open("/dev/null").unwrap());
        let mut m = Vmas::default();
        m.insert(
            0x10000,
            Vma {
                end: 0x14000,
                prot: 1,
                backing: Backing::File { file: f, offset: 0x3000, file_end: 0 },
                grows_down: false,
            },
        );
        m.remove(0x10000, 0x12000);
        match &m.find(0x12000).unwrap().1.backing {
            Backing::File { offset, .. } => assert_eq!(*offset, 0x5000),
            _ => panic!(),
        }
    }

    #[test]
    fn top_down_placement() {
        let mut m = Vmas::default();
        m.insert(0xf000, anon(0x10000, 3));
        assert_eq!(m.find_free(0x1000, 0x1000, 0x10000), Some(0xe000));
        assert_eq!(m.find_free(0x1000, 0x1000, 0x20000), Some(0x1f000));
        m.insert(0x11000, anon(0x20000, 3));
        assert_eq!(m.find_free(0x2000, 0x1000, 0x20000), Some(0xd000));
        assert_eq!(m.find_free(0x100000, 0x1000, 0x20000), None);
    }
}
