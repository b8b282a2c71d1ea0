//! Pages shared between mappings: anonymous MAP_SHARED memory, System V
//! shared memory segments, and the page cache of a host file mapped
//! MAP_SHARED (whose dirty pages are written back to the file).

use super::frame::{Frame, FRAME_SIZE};
use super::memory;
use super::vma::Pager;
use parking_lot::Mutex;
use std::sync::Arc;

/// A set of pages several address spaces can map.
pub struct SharedPages {
    pages: Mutex<Vec<Option<Frame>>>,
    dirty: Mutex<Vec<bool>>,
    /// The host file behind the pages, if any.
    pub file: Option<Arc<dyn Pager>>,
}

impl SharedPages {
    /// An object of `npages` zero pages, or the pages of `file`.
    pub fn new(npages: u32, file: Option<Arc<dyn Pager>>) -> Arc<SharedPages> {
        Arc::new(SharedPages {
            pages: Mutex::new(vec![None; npages as usize]),
            dirty: Mutex::new(vec![false; npages as usize]),
            file,
        })
    }

    /// Return the page cache of a host file: one object per file, shared by
    /// every MAP_SHARED mapping of it, so they all see the same frames.
    pub fn for_file(file: Arc<dyn Pager>) -> std::io::Result<Arc<SharedPages>> {
        use std::collections::HashMap;
        use std::sync::Weak;
        type Cache = HashMap<(u64, u64), Weak<SharedPages>>;
        static CACHE: Mutex<Option<Cache>> = Mutex::new(None);
        let key = file.key();
        let mut cache = CACHE.lock();
        let cache = cache.get_or_insert_with(HashMap::new);
        cache.retain(|_, w| w.strong_count() > 0);
        if let Some(obj) = cache.get(&key).and_then(Weak::upgrade) {
            return Ok(obj);
        }
        let obj = SharedPages::new(0, Some(file));
        cache.insert(key, Arc::downgrade(&obj));
        Ok(obj)
    }

    /// Return the frame of page `n` with a new reference for the caller's
    /// page table entry, reading it from the file or zero-filling it first.
    pub fn frame(&self, n: u32) -> Option<Frame> {
        let mut pages = self.pages.lock();
        if n as usize >= pages.len() {
            // Only a file's page cache grows; other objects have a size.
            self.file.as_ref()?;
            pages.resize(n as usize + 1, None);
            self.dirty.lock().resize(n as usize + 1, false);
        }
        let mut mem = memory();
        let f = match pages[n as usize] {
            Some(f) => f,
            None => {
                let f = match mem.alloc() {
                    Ok(f) => f,
                    Err(_) => {
                        // Guest memory is full: the page cache gives its frames back.
                        drop(mem);
                        super::pagecache::shrink();
                        mem = memory();
                        mem.alloc().ok()?
                    }
                };
                if let Some(file) = &self.file {
                    let mut buf = vec![0u8; FRAME_SIZE];
                    let mut got = 0;
                    while got < FRAME_SIZE {
                        match file.read_at(&mut buf[got..], n as u64 * FRAME_SIZE as u64 + got as u64) {
                            Ok(0) | Err(_) => break,
                            Ok(k) => got += k,
                        }
                    }
                    mem.write(f, 0, &buf[..got]);
                }
                pages[n as usize] = Some(f);
                f
            }
        };
        mem.get(f);
        Some(f)
    }

    /// Note that page `n` was written (for write-back).
    pub fn mark_dirty(&self, n: u32) {
        if let Some(d) = self.dirty.lock().get_mut(n as usize) {
            *d = true;
        }
    }

    /// Write dirty pages in `[first, end)` back to the file.
    pub fn write_back(&self, first: u32, end: u32) -> std::io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let size = file.size()?;
        let pages = self.pages.lock();
        let dirty = self.dirty.lock();
        let mem = memory();
        for n in first..end.min(pages.len() as u32) {
            if !dirty[n as usize] {
                continue;
            }
            if let Some(f) = pages[n as usize] {
                let off = n as u64 * FRAME_SIZE as u64;
                if off >= size {
                    continue; // past the end of the file: nothing to write
                }
                let len = (size - off).min(FRAME_SIZE as u64) as usize;
                let mut buf = vec![0u8; len];
                mem.read(f, 0, &mut buf);
                file.write_all_at(&buf, off)?;
            }
            // The page stays dirty: mappings keep it writable without a
            // new fault, so later writes must be written back too.
        }
        Ok(())
    }
}

impl Drop for SharedPages {
    fn drop(&mut self) {
        let _ = self.write_back(0, u32::MAX);
        let mut mem = memory();
        for f in self.pages.get_mut().iter().flatten() {
            mem.put(*f);
        }
    }
}
