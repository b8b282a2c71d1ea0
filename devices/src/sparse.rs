//! A file's contents kept as 4 KiB pages in a map, so that a hole (never
//! written, or cut by a truncate and extended again) costs nothing and
//! reads as zeros. Sizes stop at i386 Linux's largest file.
//!
//! It knows nothing of names, owners or times; ramfs keeps those, and
//! decides how many pages a write may add.

use crate::dev::{Errno, Result};
use std::collections::btree_map::{BTreeMap, Entry};

pub const PAGE: u64 = 4096;
/// The largest file i386 Linux allows (MAX_LFS_FILESIZE for 4 KiB pages).
pub const MAX_SIZE: u64 = (PAGE << 31) - 1;

/// The contents of one file.
#[derive(Default)]
pub struct Sparse {
    size: u64,
    pages: BTreeMap<u64, Box<[u8; PAGE as usize]>>,
}

impl Sparse {
    /// Return the size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Return the number of pages holding data.
    pub fn pages(&self) -> u64 {
        self.pages.len() as u64
    }

    /// Return the space held in 512-byte blocks, as st_blocks counts it.
    pub fn blocks(&self) -> u64 {
        self.pages() * (PAGE / 512)
    }

    /// Copy bytes from `off` into `buf`; return how many (0 at the end).
    pub fn read(&self, buf: &mut [u8], off: u64) -> usize {
        let len = self.size.saturating_sub(off).min(buf.len() as u64) as usize;
        let mut done = 0;
        while done < len {
            let pos = off + done as u64;
            let at = (pos % PAGE) as usize;
            let k = (PAGE as usize - at).min(len - done);
            match self.pages.get(&(pos / PAGE)) {
                Some(p) => buf[done..done + k].copy_from_slice(&p[at..at + k]),
                None => buf[done..done + k].fill(0),
            }
            done += k;
        }
        len
    }

    /// Copy `buf` in at `off`, adding at most `room` pages; return how many
    /// bytes went in (fewer when the room or the largest size runs out).
    pub fn write(&mut self, buf: &[u8], off: u64, mut room: u64) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if off >= MAX_SIZE {
            return Err(Errno::EFBIG);
        }
        let len = buf.len().min((MAX_SIZE - off) as usize);
        let mut done = 0;
        while done < len {
            let pos = off + done as u64;
            let at = (pos % PAGE) as usize;
            let k = (PAGE as usize - at).min(len - done);
            let page = match self.pages.entry(pos / PAGE) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(_) if room == 0 => break,
                Entry::Vacant(e) => {
                    room -= 1;
                    e.insert(Box::new([0; PAGE as usize]))
                }
            };
            page[at..at + k].copy_from_slice(&buf[done..done + k]);
            done += k;
        }
        if done == 0 {
            return Err(Errno::ENOSPC);
        }
        self.size = self.size.max(off + done as u64);
        Ok(done)
    }

    /// Set the size, freeing pages past it and zeroing the tail of the last
    /// so that a later extension reads zeros.
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        if len > MAX_SIZE {
            return Err(Errno::EFBIG);
        }
        self.pages.split_off(&len.div_ceil(PAGE));
        if let Some(p) = self.pages.get_mut(&(len / PAGE)) {
            p[(len % PAGE) as usize..].fill(0);
        }
        self.size = len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(s: &Sparse) -> Vec<u8> {
        let mut b = vec![0xaa; s.size() as usize];
        assert_eq!(s.read(&mut b, 0), b.len());
        b
    }

    #[test]
    fn holes_cost_nothing_and_read_as_zeros() {
        let mut s = Sparse::default();
        assert_eq!(s.write(b"end", 1 << 20, u64::MAX).unwrap(), 3);
        assert_eq!((s.size(), s.blocks()), ((1 << 20) + 3, 8));
        let mut b = [0xffu8; 5000];
        assert_eq!(s.read(&mut b, 4000), 5000);
        assert!(b.iter().all(|&x| x == 0));
        assert_eq!(s.read(&mut b, (1 << 20) + 1), 2);
        assert_eq!(&b[..2], b"nd");
        assert_eq!(s.read(&mut b, 1 << 40), 0);
        // A write across a page boundary takes both pages.
        s.write(&[1; 10], 4090, u64::MAX).unwrap();
        assert_eq!(s.blocks(), 24);
    }

    #[test]
    fn truncate_frees_pages_and_zeros_the_cut() {
        let mut s = Sparse::default();
        s.write(&[1; 10], 4090, u64::MAX).unwrap();
        s.truncate(1 << 30).unwrap();
        assert_eq!((s.size(), s.pages()), (1 << 30, 2));
        s.truncate(4093).unwrap();
        assert_eq!(s.pages(), 1);
        s.truncate(4100).unwrap();
        assert_eq!(&contents(&s)[4088..], &[0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
        s.truncate(0).unwrap();
        assert_eq!((s.size(), s.pages()), (0, 0));
        assert_eq!(s.truncate(MAX_SIZE + 1).unwrap_err(), Errno::EFBIG);
    }

    #[test]
    fn writes_stop_at_the_room_and_the_largest_size() {
        let mut s = Sparse::default();
        assert_eq!(s.write(&[1; 3 * 4096], 0, 2).unwrap(), 2 * 4096);
        assert_eq!(s.write(b"x", 3 * 4096, 0).unwrap_err(), Errno::ENOSPC);
        assert_eq!(s.write(b"rewrite", 0, 0).unwrap(), 7, "written pages need no room");
        assert_eq!(s.write(b"", 1 << 50, 0).unwrap(), 0);
        assert_eq!(s.write(b"x", MAX_SIZE, 1).unwrap_err(), Errno::EFBIG);
        assert_eq!(s.write(b"xy", MAX_SIZE - 1, 1).unwrap(), 1);
        assert_eq!(s.size(), MAX_SIZE);
    }
}
