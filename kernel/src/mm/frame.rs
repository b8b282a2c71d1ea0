#![allow(unsafe_code)] // the kernel's view of physical memory: raw copies in and out of frames
//! Physical memory: one memfd (the memory file) cut into 4 KiB page
//! frames, with a reference count per frame and a free list.
//!
//! Every guest page that exists is a frame of this file; address spaces map
//! frames into their windows (see `tlb.rs`) and the kernel reads and writes
//! them through its own view of the whole file. A freed frame has its
//! storage punched out of the file, so the host gets the memory back and
//! the frame reads as zeros when it is used again.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub const FRAME_SIZE: usize = 4096;

/// A frame number: the frame's offset in the memory file / FRAME_SIZE.
pub type Frame = u32;

/// Why a frame could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// Most freed frames kept with their storage for copies (1 MiB).
const DIRTY_MAX: usize = 256;

/// The memory file and its frames.
pub struct Frames {
    fd: OwnedFd,
    /// The kernel's view of the whole file.
    view: memmap2::MmapRaw,
    nframes: u32,
    refs: Vec<u32>,
    /// Freed frames, zero (their storage was punched out).
    free: Vec<Frame>,
    /// Freed frames whose storage was kept (not zero), at most
    /// `DIRTY_MAX`: handed out only for copies, which overwrite them
    /// whole, so a fork's copies and copy-on-write faults neither punch
    /// nor allocate host storage. Popped from the end, lowest first.
    dirty: Vec<Frame>,
    /// Frames at or above this were never used: zero and free.
    fresh: Frame,
    used: u32,
    /// Gives never-used frames host storage ahead of their use.
    stocker: std::sync::Arc<Stocker>,
}

/// A host thread that allocates storage for the frames about to be handed
/// out, on the other core, so a first touch finds its page in the memory
/// file already and only has to map it (allocating shared-memory pages is
/// the dearest part of a first touch).
pub struct Stocker {
    fd: OwnedFd,
    nframes: Frame,
    /// The allocator's next never-used frame.
    fresh: std::sync::atomic::AtomicU32,
    /// The thread is started (on the first step of allocation: a small
    /// program never needs it, and starting a thread that at once fills
    /// 2 MiB would take the core from vxos's own start-up).
    started: std::sync::Once,
    wake: parking_lot::Condvar,
    lock: parking_lot::Mutex<()>,
}

impl Stocker {
    /// How far ahead of the allocator storage is made, at most: 64 MiB.
    const AHEAD: Frame = 16384;
    /// What one host call allocates: 2 MiB.
    const STEP: Frame = 512;

    fn start(fd: OwnedFd, nframes: Frame) -> std::sync::Arc<Stocker> {
        std::sync::Arc::new(Stocker {
            fd,
            nframes,
            fresh: Default::default(),
            started: std::sync::Once::new(),
            wake: parking_lot::Condvar::new(),
            lock: parking_lot::Mutex::new(()),
        })
    }

    fn run(&self) {
        use std::sync::atomic::Ordering;
        let mut backed: Frame = 0;
        loop {
            let fresh = self.fresh.load(Ordering::Acquire);
            backed = backed.max(fresh);
            // As far ahead as the guest has come so far (at least one step,
            // at most AHEAD): a small program costs the host no storage it
            // will not use, a big one soon gets the whole lead.
            let ahead = fresh.clamp(Self::STEP, Self::AHEAD);
            let target = fresh.saturating_add(ahead).min(self.nframes);
            if backed < target {
                let to = (backed + Self::STEP).min(self.nframes);
                let _ = rustix::fs::fallocate(
                    &self.fd,
                    rustix::fs::FallocateFlags::KEEP_SIZE,
                    backed as u64 * FRAME_SIZE as u64,
                    (to - backed) as u64 * FRAME_SIZE as u64,
                );
                backed = to;
                continue;
            }
            let mut g = self.lock.lock();
            if self.fresh.load(Ordering::Acquire) == fresh {
                self.wake.wait(&mut g);
            }
        }
    }

    /// The allocator moved on to `fresh`.
    fn moved(self: &std::sync::Arc<Self>, fresh: Frame) {
        use std::sync::atomic::Ordering;
        let old = self.fresh.swap(fresh, Ordering::AcqRel);
        if fresh / Self::STEP != old / Self::STEP {
            self.started.call_once(|| {
                let me = self.clone();
                let _ = std::thread::Builder::new().name("vxos-stocker".into()).spawn(move || me.run());
            });
            let _g = self.lock.lock();
            self.wake.notify_one();
        }
    }
}

impl Frames {
    /// Create a memory file of `bytes` (rounded down to whole frames).
    pub fn new(bytes: u64) -> io::Result<Frames> {
        let nframes = u32::try_from(bytes / FRAME_SIZE as u64).unwrap_or(u32::MAX);
        let fd = rustix::fs::memfd_create("vxos-memory", rustix::fs::MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&fd, nframes as u64 * FRAME_SIZE as u64)?;
        let file = std::fs::File::from(fd.try_clone()?);
        let view = memmap2::MmapOptions::new().len(nframes as usize * FRAME_SIZE).map_raw(&file)?;
        let stocker = Stocker::start(fd.try_clone()?, nframes);
        Ok(Frames {
            fd,
            view,
            nframes,
            refs: vec![0; nframes as usize],
            free: Vec::new(),
            dirty: Vec::new(),
            fresh: 0,
            used: 0,
            stocker,
        })
    }

    /// The memory file, for mapping frames into guest windows.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Return the number of frames in use and in all.
    pub fn usage(&self) -> (u32, u32) {
        (self.used, self.nframes)
    }

    /// Allocate one zeroed frame with a reference count of 1.
    pub fn alloc(&mut self) -> Result<Frame, OutOfMemory> {
        if self.free.is_empty() && self.fresh >= self.nframes {
            self.punch_dirty();
        }
        let f = match self.free.pop() {
            Some(f) => f,
            None if self.fresh < self.nframes => {
                self.fresh += 1;
                self.stocker.moved(self.fresh);
                self.fresh - 1
            }
            None => return Err(OutOfMemory),
        };
        self.refs[f as usize] = 1;
        self.used += 1;
        Ok(f)
    }

    /// Allocate up to `n` zeroed frames that follow each other in the file
    /// (so one host mapping covers them), at least one.
    pub fn alloc_run(&mut self, n: u32) -> Result<(Frame, u32), OutOfMemory> {
        if n > 1 && self.fresh < self.nframes {
            let k = n.min(self.nframes - self.fresh);
            let f = self.fresh;
            self.fresh += k;
            self.stocker.moved(self.fresh);
            for r in &mut self.refs[f as usize..(f + k) as usize] {
                *r = 1;
            }
            self.used += k;
            return Ok((f, k));
        }
        self.alloc().map(|f| (f, 1))
    }

    /// Allocate up to `n` frames in a run, at least one, for copies: their
    /// contents are garbage (the caller overwrites each whole).
    pub fn alloc_for_copy(&mut self, n: u32) -> Result<(Frame, u32), OutOfMemory> {
        let Some(f) = self.dirty.pop() else { return self.alloc_run(n) };
        let mut got = 1;
        while got < n && self.dirty.last() == Some(&(f + got)) {
            self.dirty.pop();
            got += 1;
        }
        for r in &mut self.refs[f as usize..(f + got) as usize] {
            *r = 1;
        }
        self.used += got;
        Ok((f, got))
    }

    /// Give the storage of the kept dirty frames back to the host and make
    /// them free (zero) frames.
    fn punch_dirty(&mut self) {
        let mut d = std::mem::take(&mut self.dirty);
        d.sort_unstable();
        self.punch(&d);
        self.free.extend(d.iter().rev());
    }

    /// Punch the storage of sorted frames out of the file, a run per call.
    fn punch(&self, freed: &[Frame]) {
        let mut i = 0;
        while i < freed.len() {
            let mut j = i + 1;
            while j < freed.len() && freed[j] == freed[j - 1] + 1 {
                j += 1;
            }
            let _ = rustix::fs::fallocate(
                &self.fd,
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
                freed[i] as u64 * FRAME_SIZE as u64,
                (j - i) as u64 * FRAME_SIZE as u64,
            );
            i = j;
        }
    }

    /// Take another reference to a frame.
    pub fn get(&mut self, f: Frame) {
        self.refs[f as usize] += 1;
    }

    /// Return a frame's reference count.
    pub fn refs(&self, f: Frame) -> u32 {
        self.refs[f as usize]
    }

    /// Drop a reference; the frame is freed (and zeroed) at zero.
    pub fn put(&mut self, f: Frame) {
        self.put_many(std::iter::once(f));
    }

    /// Drop a reference to each frame; those that reach zero are freed,
    /// their storage punched out in runs (one host call per run).
    pub fn put_many(&mut self, frames: impl Iterator<Item = Frame>) {
        let mut freed = Vec::new();
        for f in frames {
            let r = &mut self.refs[f as usize];
            debug_assert!(*r > 0, "frame {f} freed twice");
            *r -= 1;
            if *r == 0 {
                self.used -= 1;
                freed.push(f);
            }
        }
        freed.sort_unstable();
        // Keep the first ones for copies (highest first on the list, so
        // that runs come off it in order), punch the rest.
        let keep = freed.len().min(DIRTY_MAX - self.dirty.len());
        self.dirty.extend(freed[..keep].iter().rev());
        let freed = &freed[keep..];
        self.punch(freed);
        // Reuse low frames last: they come off the end of the list.
        self.free.extend(freed.iter().rev());
    }

    fn ptr(&self, f: Frame) -> *mut u8 {
        assert!(f < self.nframes);
        // The view covers every frame; the offset is in bounds.
        self.view.as_mut_ptr().wrapping_add(f as usize * FRAME_SIZE)
    }

    /// The bytes of frames `f..f + n`, a run `alloc_run` has just given
    /// the caller and no page table shows yet, to fill (from a file) after
    /// the memory lock is dropped.
    pub fn fresh_run(&self, f: Frame, n: u32) -> FreshRun {
        assert!(n > 0 && f.checked_add(n).is_some_and(|end| end <= self.nframes));
        FreshRun { ptr: self.ptr(f), len: n as usize * FRAME_SIZE }
    }

    /// Copy bytes out of a frame.
    pub fn read(&self, f: Frame, off: usize, buf: &mut [u8]) {
        assert!(off + buf.len() <= FRAME_SIZE);
        let src = self.ptr(f).wrapping_add(off);
        // SAFETY: `src..src+len` lies inside our mapping of the memory
        // file. Guest threads may write the frame concurrently; the copy
        // then sees some mix of old and new bytes, as a racing read would.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) }
    }

    /// Copy bytes into a frame.
    pub fn write(&self, f: Frame, off: usize, data: &[u8]) {
        assert!(off + data.len() <= FRAME_SIZE);
        let dst = self.ptr(f).wrapping_add(off);
        // SAFETY: as in `read`; the destination lies inside our mapping.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) }
    }

    /// Copy a whole frame into another (copy-on-write).
    pub fn copy(&self, from: Frame, to: Frame) {
        // SAFETY: two distinct frames inside our mapping.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr(from), self.ptr(to), FRAME_SIZE) }
    }
}

/// Frames just allocated to one owner (see `Frames::fresh_run`).
pub struct FreshRun {
    ptr: *mut u8,
    len: usize,
}

impl FreshRun {
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the run lies inside the memory file's view, which stays
        // mapped for the life of vxos; its frames were just allocated to
        // the holder of this value and are not yet in any page table or
        // on any list, so nothing else reads or writes them meanwhile.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_free_and_zero() {
        let mut m = Frames::new(16 * FRAME_SIZE as u64).unwrap();
        let a = m.alloc().unwrap();
        m.write(a, 100, b"hello");
        let mut b = [0u8; 5];
        m.read(a, 100, &mut b);
        assert_eq!(&b, b"hello");
        m.get(a);
        m.put(a);
        assert_eq!(m.refs(a), 1);
        m.put(a);
        assert_eq!(m.usage().0, 0);
        assert_eq!(m.alloc_for_copy(1), Ok((a, 1)), "freed frames are kept for copies");
        m.put(a);
        assert_ne!(m.alloc().unwrap(), a, "zero frames come from elsewhere");
        for _ in 0..14 {
            m.alloc().unwrap();
        }
        let again = m.alloc().unwrap();
        assert_eq!(again, a, "freed frames are reused when memory runs out");
        m.read(again, 100, &mut b);
        assert_eq!(b, [0; 5], "a reused frame reads as zeros");
        assert_eq!(m.alloc(), Err(OutOfMemory));
    }

    #[test]
    fn runs_and_exhaustion() {
        let mut m = Frames::new(8 * FRAME_SIZE as u64).unwrap();
        let (f, n) = m.alloc_run(5).unwrap();
        assert_eq!((f, n), (0, 5));
        let (g, k) = m.alloc_run(5).unwrap();
        assert_eq!((g, k), (5, 3), "a run is cut at the end of memory");
        assert_eq!(m.alloc(), Err(OutOfMemory));
        m.put(2);
        assert_eq!(m.alloc(), Ok(2));
    }

    #[test]
    fn copy_frame() {
        let mut m = Frames::new(4 * FRAME_SIZE as u64).unwrap();
        let (a, b) = (m.alloc().unwrap(), m.alloc().unwrap());
        m.write(a, 0, &[7; FRAME_SIZE]);
        m.copy(a, b);
        let mut buf = [0u8; FRAME_SIZE];
        m.read(b, 0, &mut buf);
        assert!(buf.iter().all(|&x| x == 7));
    }
}
