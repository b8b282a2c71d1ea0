//! env (`#e`): environment variables as files, as in Plan 9. A flat
//! directory: each file is a variable, its contents the value. Processes
//! that share an `Env` see each other's changes; the kernel gives a new
//! one (a copy) where a process asks for its own.

use crate::dev::*;
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// One set of variables.
pub struct Env {
    vars: Mutex<Vars>,
}

#[derive(Clone)]
struct Var {
    path: u64,
    value: Vec<u8>,
    vers: u32,
    mtime: Time,
}

#[derive(Clone)]
struct Vars {
    by_name: BTreeMap<String, Var>,
    next: u64,
    born: Time,
}

const ROOT: u64 = 0;

fn root_qid() -> Qid {
    Qid { path: ROOT, vers: 0, kind: FileType::Dir }
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env { vars: Mutex::new(Vars { by_name: BTreeMap::new(), next: 1, born: Time::now() }) }
    }

    /// A copy of this environment, from then on independent of it.
    pub fn fork(&self) -> Env {
        Env { vars: Mutex::new(self.vars.lock().clone()) }
    }

    /// Set a variable (for the kernel building a process's environment).
    pub fn set(&self, name: &str, value: &[u8]) {
        let mut v = self.vars.lock();
        let now = Time::now();
        if let Some(var) = v.by_name.get_mut(name) {
            var.value = value.to_vec();
            var.vers += 1;
            var.mtime = now;
            return;
        }
        let path = v.next;
        v.next += 1;
        v.by_name.insert(name.to_string(), Var { path, value: value.to_vec(), vers: 0, mtime: now });
    }

    /// Return a variable's value.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.vars.lock().by_name.get(name).map(|v| v.value.clone())
    }

    fn find<T>(&self, q: Qid, f: impl FnOnce(&mut Var) -> T) -> Result<T> {
        let mut v = self.vars.lock();
        let var = v.by_name.values_mut().find(|x| x.path == q.path).ok_or(Errno::ENOENT)?;
        Ok(f(var))
    }
}

impl Default for Env {
    fn default() -> Env {
        Env::new()
    }
}

impl Dev for Env {
    fn dc(&self) -> char {
        'e'
    }

    fn name(&self) -> &'static str {
        "env"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(root_qid())
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        if from.path != ROOT {
            return Err(Errno::ENOTDIR);
        }
        if name == "." || name == ".." || name.is_empty() {
            return Ok(root_qid());
        }
        let v = self.vars.lock();
        let var = v.by_name.get(name).ok_or(Errno::ENOENT)?;
        Ok(Qid { path: var.path, vers: var.vers, kind: FileType::File })
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        let base = |qid, size: u64, t: Time| Stat {
            qid,
            perm: if q.path == ROOT { 0o755 } else { 0o644 },
            nlink: if q.path == ROOT { 2 } else { 1 },
            uid: 0,
            gid: 0,
            size,
            blocks: size.div_ceil(512),
            atime: t,
            mtime: t,
            ctime: t,
            rdev: 0,
        };
        if q.path == ROOT {
            return Ok(base(root_qid(), 0, self.vars.lock().born));
        }
        self.find(q, |v| base(Qid { path: v.path, vers: v.vers, kind: FileType::File }, v.value.len() as u64, v.mtime))
    }

    fn open(&self, q: Qid, mode: OpenMode, _cred: Cred) -> Result<Qid> {
        if q.path == ROOT {
            return if mode.write || mode.truncate { Err(Errno::EISDIR) } else { Ok(q) };
        }
        if mode.truncate {
            self.find(q, |v| {
                v.value.clear();
                v.vers += 1;
            })?;
        }
        Ok(q)
    }

    fn read(&self, q: Qid, buf: &mut [u8], off: u64) -> Result<usize> {
        if q.path == ROOT {
            return Err(Errno::EISDIR);
        }
        self.find(q, |v| {
            let start = (off as usize).min(v.value.len());
            let n = buf.len().min(v.value.len() - start);
            buf[..n].copy_from_slice(&v.value[start..start + n]);
            n
        })
    }

    fn write(&self, q: Qid, buf: &[u8], off: u64) -> Result<usize> {
        if q.path == ROOT {
            return Err(Errno::EISDIR);
        }
        if off > 1 << 20 {
            return Err(Errno::EFBIG);
        }
        self.find(q, |v| {
            let end = off as usize + buf.len();
            if v.value.len() < end {
                v.value.resize(end, 0);
            }
            v.value[off as usize..end].copy_from_slice(buf);
            v.vers += 1;
            v.mtime = Time::now();
            buf.len()
        })
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        if q.path != ROOT {
            return Err(Errno::ENOTDIR);
        }
        let v = self.vars.lock();
        Ok(v.by_name
            .iter()
            .skip(start)
            .map(|(n, var)| DirEntry {
                name: n.clone(),
                qid: Qid { path: var.path, vers: var.vers, kind: FileType::File },
            })
            .collect())
    }

    fn create(&self, dir: Qid, name: &str, kind: FileType, _perm: u32, _cred: Cred) -> Result<Qid> {
        if dir.path != ROOT {
            return Err(Errno::ENOTDIR);
        }
        if kind != FileType::File {
            return Err(Errno::EPERM);
        }
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Errno::EINVAL);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.vars.lock().by_name.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        self.set(name, b"");
        self.walk(root_qid(), name)
    }

    fn remove(&self, dir: Qid, name: &str, dir_only: bool) -> Result<()> {
        if dir.path != ROOT {
            return Err(Errno::ENOTDIR);
        }
        if dir_only {
            return Err(Errno::ENOTDIR);
        }
        self.vars.lock().by_name.remove(name).map(|_| ()).ok_or(Errno::ENOENT)
    }

    fn wstat(&self, q: Qid, w: &Wstat) -> Result<()> {
        if let Some(size) = w.size {
            if size > 1 << 20 {
                return Err(Errno::EFBIG);
            }
            self.find(q, |v| {
                v.value.resize(size as usize, 0);
                v.vers += 1;
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_files() {
        let e = Env::new();
        e.set("HOME", b"/root");
        let root = e.attach("").unwrap();
        let home = e.walk(root, "HOME").unwrap();
        let mut b = [0u8; 16];
        let n = e.read(home, &mut b, 0).unwrap();
        assert_eq!(&b[..n], b"/root");
        let q = e.create(root, "PATH", FileType::File, 0o644, Cred::ROOT).unwrap();
        e.write(q, b"/bin", 0).unwrap();
        assert_eq!(e.get("PATH").unwrap(), b"/bin");
        assert_eq!(e.create(root, "PATH", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::EEXIST);
        let names: Vec<String> = e.readdir(root, 0).unwrap().into_iter().map(|d| d.name).collect();
        assert_eq!(names, vec!["HOME", "PATH"]);
        assert_eq!(e.stat(q).unwrap().size, 4);
        e.open(q, OpenMode { read: false, write: true, truncate: true, append: false }, Cred::ROOT).unwrap();
        assert_eq!(e.get("PATH").unwrap(), b"");
        e.remove(root, "HOME", false).unwrap();
        assert_eq!(e.walk(root, "HOME").unwrap_err(), Errno::ENOENT);
    }

    #[test]
    fn fork_copies() {
        let a = Env::new();
        a.set("X", b"1");
        let b = a.fork();
        b.set("X", b"2");
        assert_eq!(a.get("X").unwrap(), b"1");
        assert_eq!(b.get("X").unwrap(), b"2");
    }
}
