//! The page table of an address space: guest page → frame and what the
//! guest may do with it, in two levels like the i386 MMU (1024 directory
//! entries of 1024 entries).
//!
//! The page table is the truth about guest memory. Host mappings of the
//! guest window are only a cache of it (see `tlb.rs`).

use super::frame::Frame;

/// One page table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pte {
    pub frame: Frame,
    pub flags: u8,
}

pub mod pte {
    /// The guest may write the page now (clear on copy-on-write pages and
    /// on clean pages of shared file mappings).
    pub const WRITABLE: u8 = 1;
    /// Shared with another address space until a write copies it.
    pub const COW: u8 = 2;
    /// Written since it was read from its file (shared file mappings).
    pub const DIRTY: u8 = 4;
}

/// The two-level table.
#[derive(Default, Clone)]
pub struct PageTable {
    dir: Vec<Option<Box<[Option<Pte>; 1024]>>>,
    /// Present entries per directory slot, so walks skip empty tables.
    counts: Vec<u16>,
    present: u32,
}

impl PageTable {
    pub fn new() -> PageTable {
        PageTable { dir: (0..1024).map(|_| None).collect(), counts: vec![0; 1024], present: 0 }
    }

    fn split(page: u32) -> (usize, usize) {
        ((page >> 10) as usize, (page & 1023) as usize)
    }

    /// Return the entry of guest page number `page`.
    pub fn get(&self, page: u32) -> Option<Pte> {
        let (d, t) = Self::split(page);
        self.dir[d].as_ref().and_then(|tab| tab[t])
    }

    /// Set the entry of `page`; return the old one.
    pub fn set(&mut self, page: u32, pte: Option<Pte>) -> Option<Pte> {
        let (d, t) = Self::split(page);
        let tab = self.dir[d].get_or_insert_with(|| Box::new([None; 1024]));
        let old = std::mem::replace(&mut tab[t], pte);
        let (new_n, old_n) = (pte.is_some() as u32, old.is_some() as u32);
        self.present = self.present + new_n - old_n;
        self.counts[d] = (self.counts[d] as u32 + new_n - old_n) as u16;
        old
    }

    /// Change an existing entry's flags.
    pub fn set_flags(&mut self, page: u32, flags: u8) {
        let (d, t) = Self::split(page);
        if let Some(Some(p)) = self.dir[d].as_mut().map(|tab| &mut tab[t]) {
            p.flags = flags;
        }
    }

    /// Return how many pages are present (resident).
    pub fn present(&self) -> u32 {
        self.present
    }

    /// Visit the present entries of pages `[first, end)` to change them
    /// (in place: they stay present).
    pub fn visit_mut(&mut self, first: u32, end: u32, mut f: impl FnMut(u32, &mut Pte)) {
        let mut p = first;
        while p < end {
            let (d, t) = Self::split(p);
            let stop = end.min(((d as u32) + 1) << 10);
            if self.counts[d] != 0 {
                if let Some(tab) = &mut self.dir[d] {
                    for (i, e) in tab[t..t + (stop - p) as usize].iter_mut().enumerate() {
                        if let Some(e) = e {
                            f(p + i as u32, e);
                        }
                    }
                }
            }
            p = stop;
        }
    }

    /// Remove the entries of pages `[first, end)` and return them.
    pub fn drain(&mut self, first: u32, end: u32) -> Vec<(u32, Pte)> {
        let mut out = Vec::new();
        let mut p = first;
        while p < end {
            let (d, t) = Self::split(p);
            let stop = end.min(((d as u32) + 1) << 10);
            if self.counts[d] != 0 {
                if let Some(tab) = &mut self.dir[d] {
                    let mut n = 0;
                    for (i, e) in tab[t..t + (stop - p) as usize].iter_mut().enumerate() {
                        if e.is_some() {
                            out.push((p + i as u32, e.take().unwrap()));
                            n += 1;
                        }
                    }
                    self.counts[d] -= n as u16;
                    self.present -= n;
                }
            }
            p = stop;
        }
        out
    }

    /// Visit the present entries of pages `[first, end)`.
    pub fn range(&self, first: u32, end: u32) -> impl Iterator<Item = (u32, Pte)> + '_ {
        let mut out = Vec::new();
        let mut p = first;
        while p < end {
            let (d, t) = Self::split(p);
            match &self.dir[d] {
                _ if self.counts[d] == 0 => p = ((d as u32) + 1) << 10,
                None => p = ((d as u32) + 1) << 10,
                Some(tab) => {
                    if let Some(e) = tab[t] {
                        out.push((p, e));
                    }
                    p += 1;
                }
            }
        }
        out.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_count() {
        let mut pt = PageTable::new();
        assert_eq!(pt.get(5), None);
        let e = Pte { frame: 42, flags: pte::WRITABLE };
        assert_eq!(pt.set(5, Some(e)), None);
        assert_eq!(pt.set(0xfffff, Some(e)), None);
        assert_eq!(pt.get(5), Some(e));
        assert_eq!(pt.present(), 2);
        pt.set_flags(5, pte::COW);
        assert_eq!(pt.get(5).unwrap().flags, pte::COW);
        assert_eq!(pt.set(5, None), Some(Pte { frame: 42, flags: pte::COW }));
        assert_eq!(pt.present(), 1);
    }

    #[test]
    fn visit_and_drain() {
        let mut pt = PageTable::new();
        for p in [3u32, 1023, 1024, 5000] {
            pt.set(p, Some(Pte { frame: p, flags: 0 }));
        }
        let mut seen = Vec::new();
        pt.visit_mut(4, 5000, |p, e| {
            seen.push(p);
            e.flags = pte::COW;
        });
        assert_eq!(seen, vec![1023, 1024]);
        assert_eq!(pt.get(1024).unwrap().flags, pte::COW);
        assert_eq!(pt.get(5000).unwrap().flags, 0);
        let got: Vec<u32> = pt.drain(1000, 1 << 20).iter().map(|x| x.0).collect();
        assert_eq!(got, vec![1023, 1024, 5000]);
        assert_eq!(pt.present(), 1);
        assert_eq!(pt.range(0, 1 << 20).map(|x| x.0).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn range_skips_empty_directories() {
        let mut pt = PageTable::new();
        for p in [3u32, 1500, 2047, 900_000] {
            pt.set(p, Some(Pte { frame: p, flags: 0 }));
        }
        let got: Vec<u32> = pt.range(0, 1 << 20).map(|(p, _)| p).collect();
        assert_eq!(got, vec![3, 1500, 2047, 900_000]);
        let got: Vec<u32> = pt.range(1501, 900_000).map(|(p, _)| p).collect();
        assert_eq!(got, vec![2047]);
    }
}
