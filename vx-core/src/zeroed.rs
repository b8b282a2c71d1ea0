//! Large zero-filled arrays straight from the host: fresh anonymous
//! mappings, whose pages stay untouched (and cost nothing) until used.
//! A new guest needs several megabytes of such tables; taking them from
//! the allocator would clear them byte by byte on every fork.

use std::ops::{Deref, DerefMut};

/// `n` values of `T`, all bits zero.
pub(crate) struct Zeroed<T> {
    ptr: *mut T,
    n: usize,
}

// SAFETY: the mapping is owned like a Box<[T]>.
unsafe impl<T: Send> Send for Zeroed<T> {}
// SAFETY: shared access is to `[T]`, as for a Box<[T]>.
unsafe impl<T: Sync> Sync for Zeroed<T> {}

impl<T> Zeroed<T> {
    /// Map `n` zero values.
    ///
    /// # Safety
    /// All-zero bits must be a valid `T` (integers, atomics).
    pub(crate) unsafe fn new(n: usize) -> Zeroed<T> {
        let len = (n * std::mem::size_of::<T>()).max(1);
        // SAFETY: a fresh private anonymous mapping, zero-filled by the host.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert!(p != libc::MAP_FAILED, "vx-core: cannot map {len} bytes of tables");
        Zeroed { ptr: p as *mut T, n }
    }

    /// No values, no mapping.
    pub(crate) fn empty() -> Zeroed<T> {
        Zeroed { ptr: std::ptr::NonNull::dangling().as_ptr(), n: 0 }
    }
}

impl<T> Deref for Zeroed<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `n` valid values (zero bits, valid per `new`'s contract).
        unsafe { std::slice::from_raw_parts(self.ptr, self.n) }
    }
}

impl<T> DerefMut for Zeroed<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.n) }
    }
}

impl<T> Drop for Zeroed<T> {
    fn drop(&mut self) {
        if self.n == 0 {
            return;
        }
        let len = (self.n * std::mem::size_of::<T>()).max(1);
        // SAFETY: our own mapping; `T` needs no drop (integers, atomics).
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, len) };
    }
}
