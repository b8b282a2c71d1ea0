//! System information calls: uname, getrandom.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;

/// uname(2): the host's names, with machine "i686".
pub fn uname(p: &mut Process, a: Args) -> SysResult {
    let u = rustix::system::uname();
    let node = NODENAME.lock().clone();
    let fields: [&[u8]; 6] = [
        b"Linux",
        node.as_deref().unwrap_or(u.nodename().to_bytes()),
        u.release().to_bytes(),
        u.version().to_bytes(),
        b"i686",
        u.domainname().to_bytes(),
    ];
    let mut b = vec![0u8; 6 * 65];
    for (k, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        b[k * 65..k * 65 + n].copy_from_slice(&f[..n]);
    }
    p.uwrite(a[0], &b)?;
    Ok(0)
}

/// The guest's host name, once set (`vxos boot` takes /etc/hostname);
/// until then the host's.
static NODENAME: parking_lot::Mutex<Option<Vec<u8>>> = parking_lot::Mutex::new(None);

/// Set the name uname(2) reports.
pub fn set_nodename(name: &[u8]) {
    *NODENAME.lock() = Some(name.iter().copied().take(64).collect());
}

/// getrandom(2).
pub fn getrandom(p: &mut Process, a: Args) -> SysResult {
    let len = (a[1] as usize).min(1 << 20);
    if a[2] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len];
    crate::exec::getrandom(&mut b)?;
    p.uwrite(a[0], &b)?;
    Ok(len as u32)
}
