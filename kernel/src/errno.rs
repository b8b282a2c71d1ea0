//! Linux errno values as the i386 ABI numbers them, and `SysResult`.

/// An error a system call returns to the guest (as `-errno` in eax).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EMLINK = 31,
    EPIPE = 32,
    ERANGE = 34,
    EDEADLK = 35,
    ENAMETOOLONG = 36,
    ENOLCK = 37,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    ENODATA = 61,
    EOVERFLOW = 75,
    ELIBBAD = 80,
    ENOTSOCK = 88,
    EILSEQ = 84,
    EDESTADDRREQ = 89,
    EMSGSIZE = 90,
    EPROTOTYPE = 91,
    ENOPROTOOPT = 92,
    EPROTONOSUPPORT = 93,
    ESOCKTNOSUPPORT = 94,
    EOPNOTSUPP = 95,
    EAFNOSUPPORT = 97,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENETUNREACH = 101,
    ECONNRESET = 104,
    ENOBUFS = 105,
    EISCONN = 106,
    ENOTCONN = 107,
    ETIMEDOUT = 110,
    ECONNREFUSED = 111,
    EALREADY = 114,
    EINPROGRESS = 115,
}

/// The result of a system call handler.
pub type SysResult<T = u32> = Result<T, Errno>;

impl Errno {
    /// Map a host errno (same numbering on x86-64 Linux) to ours.
    pub fn from_host(e: i32) -> Errno {
        use Errno::*;
        const ALL: &[Errno] = &[
            EPERM,
            ENOENT,
            ESRCH,
            EINTR,
            EIO,
            ENXIO,
            E2BIG,
            ENOEXEC,
            EBADF,
            ECHILD,
            EAGAIN,
            ENOMEM,
            EACCES,
            EFAULT,
            EBUSY,
            EEXIST,
            EXDEV,
            ENODEV,
            ENOTDIR,
            EISDIR,
            EINVAL,
            ENFILE,
            EMFILE,
            ENOTTY,
            EFBIG,
            ENOSPC,
            ESPIPE,
            EROFS,
            EMLINK,
            EPIPE,
            ERANGE,
            EDEADLK,
            ENAMETOOLONG,
            ENOLCK,
            ENOSYS,
            ENOTEMPTY,
            ELOOP,
            ENODATA,
            EOVERFLOW,
            ELIBBAD,
            ENOTSOCK,
            EILSEQ,
            EDESTADDRREQ,
            EMSGSIZE,
            EPROTOTYPE,
            ENOPROTOOPT,
            EPROTONOSUPPORT,
            ESOCKTNOSUPPORT,
            EOPNOTSUPP,
            EAFNOSUPPORT,
            EADDRINUSE,
            EADDRNOTAVAIL,
            ENETUNREACH,
            ECONNRESET,
            ENOBUFS,
            EISCONN,
            ENOTCONN,
            ETIMEDOUT,
            ECONNREFUSED,
            EALREADY,
            EINPROGRESS,
        ];
        ALL.iter().copied().find(|x| *x as i32 == e).unwrap_or(EIO)
    }

    /// Return the name, as strace prints it.
    pub fn name(self) -> String {
        format!("{self:?}")
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        e.raw_os_error().map(Errno::from_host).unwrap_or(Errno::EIO)
    }
}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> std::io::Error {
        std::io::Error::from_raw_os_error(e as i32)
    }
}

impl From<devices::Errno> for Errno {
    fn from(e: devices::Errno) -> Errno {
        Errno::from_host(e.0)
    }
}

impl From<vx_core::MemFault> for Errno {
    fn from(_: vx_core::MemFault) -> Errno {
        Errno::EFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_host_errnos() {
        assert_eq!(Errno::from_host(2), Errno::ENOENT);
        assert_eq!(Errno::from_host(38), Errno::ENOSYS);
        assert_eq!(Errno::from_host(9999), Errno::EIO);
        assert_eq!(Errno::from(std::io::Error::from_raw_os_error(13)), Errno::EACCES);
    }
}
