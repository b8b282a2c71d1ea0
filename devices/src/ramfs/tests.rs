//! Tests of ramfs: the Linux rules for names, links, rename and remove,
//! permissions, timestamps and sparse files.

use super::*;

const ALICE: Cred = Cred { uid: 1000, gid: 100 };
const BOB: Cred = Cred { uid: 1001, gid: 200 };

fn file(fs: &Ramfs, dir: Qid, name: &str) -> Qid {
    fs.create(dir, name, FileType::File, 0o644, Cred::ROOT).unwrap()
}

fn mkdir(fs: &Ramfs, dir: Qid, name: &str) -> Qid {
    fs.create(dir, name, FileType::Dir, 0o755, Cred::ROOT).unwrap()
}

fn names(fs: &Ramfs, dir: Qid) -> Vec<String> {
    fs.readdir(dir, 0).unwrap().into_iter().map(|e| e.name).collect()
}

fn read_all(fs: &Ramfs, q: Qid) -> Vec<u8> {
    let mut b = vec![0xaa; fs.stat(q).unwrap().size as usize];
    assert_eq!(fs.read(q, &mut b, 0).unwrap(), b.len());
    b
}

/// Wait until the clock has passed `t`, so a change made next is later.
fn after(t: Time) {
    while Time::now() <= t {}
}

#[test]
fn write_read_stat_and_vers() {
    let fs = Ramfs::with_root(0, 0, 0o1777);
    let root = fs.attach("").unwrap();
    let st = fs.stat(root).unwrap();
    assert_eq!((st.mode(), st.uid, st.gid, st.nlink), (0o041777, 0, 0, 2));
    let f = fs.create(root, "f", FileType::File, 0o640, ALICE).unwrap();
    assert_eq!(fs.walk(root, "f").unwrap(), f);
    assert_eq!(fs.write(f, b"hello, world", 0).unwrap(), 12);
    assert_eq!(fs.write(f, b"W", 7).unwrap(), 1);
    assert_eq!(read_all(&fs, f), b"hello, World");
    let st = fs.stat(f).unwrap();
    assert_eq!((st.mode(), st.uid, st.gid, st.nlink, st.size, st.blocks), (0o100640, 1000, 100, 1, 12, 8));
    assert_eq!(st.qid.vers, 2);
    let mut b = [0u8; 8];
    assert_eq!(fs.read(f, &mut b, 10).unwrap(), 2);
    assert_eq!(fs.read(f, &mut b, 12).unwrap(), 0);
    assert_eq!(fs.read(f, &mut b, 1 << 40).unwrap(), 0);
    assert_eq!(fs.write(f, b"", 100).unwrap(), 0);
    assert_eq!(fs.stat(f).unwrap().qid.vers, 2, "reads and empty writes change nothing");
    fs.wstat(f, &Wstat { size: Some(3), ..Default::default() }).unwrap();
    assert_eq!(fs.stat(f).unwrap().qid.vers, 3);
    // A directory's vers moves with its names.
    let v = fs.stat(root).unwrap().qid.vers;
    fs.remove(root, "f", false).unwrap();
    assert!(fs.stat(root).unwrap().qid.vers > v);
    assert_eq!(fs.stat(f).unwrap_err(), Errno::ENOENT);
    assert_eq!(fs.read(root, &mut b, 0).unwrap_err(), Errno::EISDIR);
    assert_eq!(fs.write(root, b"x", 0).unwrap_err(), Errno::EISDIR);
}

#[test]
fn sparse_files_allocate_only_written_pages() {
    let fs = Ramfs::new();
    let f = file(&fs, fs.attach("").unwrap(), "sparse");
    fs.write(f, b"end", 1 << 20).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!((st.size, st.blocks), ((1 << 20) + 3, 8));
    assert_eq!(fs.used(), 4096);
    assert_eq!(read_all(&fs, f)[..1 << 20], [0; 1 << 20], "a hole reads as zeros");
    // A write across a page boundary takes both pages.
    fs.write(f, &[1; 10], 4090).unwrap();
    assert_eq!(fs.stat(f).unwrap().blocks, 24);
    // Extending leaves a hole; shrinking frees pages and zeros the cut.
    fs.wstat(f, &Wstat { size: Some(1 << 30), ..Default::default() }).unwrap();
    assert_eq!(fs.stat(f).unwrap().blocks, 24);
    fs.wstat(f, &Wstat { size: Some(4093), ..Default::default() }).unwrap();
    assert_eq!(fs.stat(f).unwrap().blocks, 8);
    assert_eq!(fs.used(), 4096);
    let big = Wstat { size: Some(crate::sparse::MAX_SIZE + 1), ..Default::default() };
    assert_eq!(fs.wstat(f, &big).unwrap_err(), Errno::EFBIG);
    fs.remove(fs.attach("").unwrap(), "sparse", false).unwrap();
    assert_eq!(fs.used(), 0);
}

#[test]
fn size_limit_gives_enospc() {
    let fs = Ramfs::new().with_size_limit(2 * 4096);
    let f = file(&fs, fs.attach("").unwrap(), "f");
    assert_eq!(fs.write(f, &[1; 3 * 4096], 0).unwrap(), 2 * 4096, "a short write up to the limit");
    assert_eq!(fs.write(f, b"x", 3 * 4096).unwrap_err(), Errno::ENOSPC);
    assert_eq!(fs.write(f, b"rewrite", 0).unwrap(), 7, "written pages need no more room");
    fs.wstat(f, &Wstat { size: Some(0), ..Default::default() }).unwrap();
    assert_eq!(fs.write(f, b"x", 1 << 20).unwrap(), 1);
}

#[test]
fn directories_dotdot_readdir_paging() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let a = mkdir(&fs, root, "a");
    let b = mkdir(&fs, a, "b");
    assert_eq!(fs.walk(b, "..").unwrap(), fs.walk(root, "a").unwrap());
    assert_eq!(fs.walk(a, "..").unwrap(), fs.attach("").unwrap());
    assert_eq!(fs.walk(root, "..").unwrap(), fs.attach("").unwrap());
    assert_eq!(fs.walk(b, ".").unwrap().path, b.path);
    assert_eq!((fs.stat(root).unwrap().nlink, fs.stat(a).unwrap().nlink), (3, 3));
    for n in ["c", "e", "d"] {
        file(&fs, b, n);
    }
    let all = fs.readdir(b, 0).unwrap();
    assert_eq!(names(&fs, b), ["c", "d", "e"]);
    assert_eq!(fs.readdir(b, 1).unwrap(), all[1..]);
    assert!(fs.readdir(b, 3).unwrap().is_empty());
    assert!(fs.readdir(b, 99).unwrap().is_empty());
    assert_eq!(fs.stat(b).unwrap().size, 5 * DIRENT_SIZE);
    let c = fs.walk(b, "c").unwrap();
    assert_eq!(fs.readdir(c, 0).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(fs.walk(c, "x").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(fs.walk(b, "x").unwrap_err(), Errno::ENOENT);
    assert_eq!(fs.open(a, OpenMode::WRITE, Cred::ROOT).unwrap_err(), Errno::EISDIR);
    assert_eq!(fs.open(a, OpenMode::READ, Cred::ROOT).unwrap().path, a.path);
}

#[test]
fn names_are_checked() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let long = "x".repeat(256);
    let create = |n: &str| fs.create(root, n, FileType::File, 0o644, Cred::ROOT).map(|_| ());
    assert_eq!(create(&long), Err(Errno::ENAMETOOLONG));
    assert_eq!(fs.walk(root, &long).unwrap_err(), Errno::ENAMETOOLONG);
    assert_eq!(create(""), Err(Errno::EINVAL));
    assert_eq!(create("a/b"), Err(Errno::EINVAL));
    assert_eq!(create(".."), Err(Errno::EINVAL));
    create(&long[1..]).unwrap();
    assert_eq!(create(&long[1..]), Err(Errno::EEXIST));
    assert_eq!(fs.create(root, &long[1..], FileType::Dir, 0o755, Cred::ROOT).unwrap_err(), Errno::EEXIST);
    assert_eq!(fs.symlink(root, &long[1..], "t", Cred::ROOT).unwrap_err(), Errno::EEXIST);
    assert_eq!(fs.create(root, "s", FileType::Symlink, 0o777, Cred::ROOT).unwrap_err(), Errno::EINVAL);
    let f = fs.walk(root, &long[1..]).unwrap();
    assert_eq!(fs.create(f, "x", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::ENOTDIR);
}

#[test]
fn hard_links_keep_a_file_alive() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let d = mkdir(&fs, root, "d");
    let f = file(&fs, root, "f");
    fs.write(f, b"data", 0).unwrap();
    fs.link(d, "g", f).unwrap();
    assert_eq!(fs.stat(f).unwrap().nlink, 2);
    assert_eq!(fs.walk(d, "g").unwrap().path, f.path);
    assert_eq!(fs.link(d, "g", f).unwrap_err(), Errno::EEXIST);
    assert_eq!(fs.link(root, "dd", d).unwrap_err(), Errno::EPERM);
    fs.remove(root, "f", false).unwrap();
    let g = fs.walk(d, "g").unwrap();
    assert_eq!(read_all(&fs, g), b"data");
    assert_eq!(fs.stat(g).unwrap().nlink, 1);
    fs.remove(d, "g", false).unwrap();
    assert_eq!(fs.stat(g).unwrap_err(), Errno::ENOENT);
    assert_eq!(fs.link(root, "again", g).unwrap_err(), Errno::ENOENT);
    assert_eq!(fs.used(), 0);
}

#[test]
fn an_open_file_outlives_its_last_name_until_clunk() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let f = fs.open(file(&fs, root, "tmp"), OpenMode::RDWR, Cred::ROOT).unwrap();
    fs.remove(root, "tmp", false).unwrap();
    fs.write(f, b"still here", 0).unwrap();
    assert_eq!(read_all(&fs, f), b"still here");
    assert_eq!(fs.stat(f).unwrap().nlink, 0);
    assert_eq!(fs.link(root, "back", f).unwrap_err(), Errno::ENOENT);
    fs.clunk(f);
    assert_eq!(fs.stat(f).unwrap_err(), Errno::ENOENT);
    assert_eq!(fs.used(), 0);
    // A removed directory that is still open takes no new names.
    let d = fs.open(mkdir(&fs, root, "d"), OpenMode::READ, Cred::ROOT).unwrap();
    fs.remove(root, "d", true).unwrap();
    assert!(fs.readdir(d, 0).unwrap().is_empty());
    assert_eq!(fs.create(d, "x", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::ENOENT);
    fs.clunk(d);
    assert_eq!(fs.stat(d).unwrap_err(), Errno::ENOENT);
}

#[test]
fn remove_checks_kind_and_emptiness() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let d = mkdir(&fs, root, "d");
    file(&fs, d, "f");
    file(&fs, root, "g");
    assert_eq!(fs.remove(root, "d", true).unwrap_err(), Errno::ENOTEMPTY);
    assert_eq!(fs.remove(root, "d", false).unwrap_err(), Errno::EISDIR);
    assert_eq!(fs.remove(root, "g", true).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(fs.remove(root, "nope", false).unwrap_err(), Errno::ENOENT);
    assert_eq!(fs.remove(fs.walk(root, "g").unwrap(), "x", false).unwrap_err(), Errno::ENOTDIR);
    fs.remove(d, "f", false).unwrap();
    assert_eq!(fs.stat(root).unwrap().nlink, 3);
    fs.remove(root, "d", true).unwrap();
    assert_eq!(fs.stat(root).unwrap().nlink, 2);
    assert_eq!(names(&fs, root), ["g"]);
}

#[test]
fn rename_follows_linux() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let a = mkdir(&fs, root, "a");
    let b = mkdir(&fs, a, "b");
    let f = file(&fs, root, "f");
    let g = file(&fs, root, "g");
    mkdir(&fs, root, "empty");
    mkdir(&fs, mkdir(&fs, root, "full"), "x");
    let err = |od: Qid, o: &str, nd: Qid, n: &str| fs.rename(od, o, nd, n).unwrap_err();
    assert_eq!(err(root, "a", b, "a2"), Errno::EINVAL, "into its own subtree");
    assert_eq!(err(root, "a", a, "a2"), Errno::EINVAL, "into itself");
    assert_eq!(err(root, "f", root, "a"), Errno::EISDIR);
    assert_eq!(err(root, "a", root, "f"), Errno::ENOTDIR);
    assert_eq!(err(root, "a", root, "full"), Errno::ENOTEMPTY);
    assert_eq!(err(root, "nope", root, "x"), Errno::ENOENT);
    assert_eq!(err(root, "f", f, "x"), Errno::ENOTDIR);
    // A file replaces a file, which goes if that was its last name.
    fs.rename(root, "f", root, "g").unwrap();
    assert_eq!(fs.walk(root, "g").unwrap().path, f.path);
    assert_eq!(fs.stat(g).unwrap_err(), Errno::ENOENT);
    // Two names of one file: nothing happens.
    fs.link(root, "h", f).unwrap();
    fs.rename(root, "g", root, "h").unwrap();
    assert_eq!(names(&fs, root), ["a", "empty", "full", "g", "h"]);
    // A directory replaces an empty one and takes its new parent as "..".
    fs.rename(a, "b", root, "empty").unwrap();
    assert_eq!(fs.walk(root, "empty").unwrap().path, b.path);
    assert_eq!(fs.walk(b, "..").unwrap().path, root.path);
    assert_eq!((fs.stat(root).unwrap().nlink, fs.stat(a).unwrap().nlink), (5, 2));
    // Across directories, and onto a name the file already has elsewhere.
    fs.rename(root, "h", a, "moved").unwrap();
    assert_eq!(names(&fs, a), ["moved"]);
    assert_eq!(fs.stat(f).unwrap().nlink, 2);
    assert_eq!(fs.walk(root, "h").unwrap_err(), Errno::ENOENT);
}

#[test]
fn permissions_follow_owner_group_other() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let err = fs.create(root, "x", FileType::File, 0o644, ALICE).unwrap_err();
    assert_eq!(err, Errno::EACCES, "root's 0755 directory is closed to others");
    assert_eq!(fs.symlink(root, "l", "t", ALICE).unwrap_err(), Errno::EACCES);
    let home = fs.create(root, "home", FileType::Dir, 0o750, Cred::ROOT).unwrap();
    fs.wstat(home, &Wstat { uid: Some(1000), gid: Some(100), ..Default::default() }).unwrap();
    let f = fs.create(home, "f", FileType::File, 0o640, ALICE).unwrap();
    fs.open(f, OpenMode::RDWR, ALICE).unwrap();
    fs.open(f, OpenMode::RDWR, Cred::ROOT).unwrap();
    let carol = Cred { uid: 1002, gid: 100 };
    fs.open(f, OpenMode::READ, carol).unwrap();
    assert_eq!(fs.open(f, OpenMode::WRITE, carol).unwrap_err(), Errno::EACCES);
    let trunc = OpenMode { truncate: true, ..OpenMode::READ };
    assert_eq!(fs.open(f, trunc, carol).unwrap_err(), Errno::EACCES, "truncating needs write");
    assert_eq!(fs.open(f, OpenMode::READ, BOB).unwrap_err(), Errno::EACCES);
    assert_eq!(fs.create(home, "g", FileType::File, 0o644, BOB).unwrap_err(), Errno::EACCES);
    assert_eq!(fs.create(home, "g", FileType::File, 0o644, carol).unwrap_err(), Errno::EACCES);
    fs.write(f, b"abc", 0).unwrap();
    fs.open(f, trunc, ALICE).unwrap();
    assert_eq!(fs.stat(f).unwrap().size, 0);
    // Set-group-id directories hand down their group.
    let shared = fs.create(root, "shared", FileType::Dir, 0o2777, Cred { uid: 0, gid: 50 }).unwrap();
    let s = fs.create(shared, "s", FileType::Dir, 0o755, BOB).unwrap();
    let st = fs.stat(s).unwrap();
    assert_eq!((st.uid, st.gid, st.perm), (1001, 50, 0o2755));
    let l = fs.symlink(home, "l", "f", ALICE).unwrap();
    assert_eq!(fs.open(l, OpenMode::READ, ALICE).unwrap_err(), Errno::ELOOP);
    let other = Ramfs::with_root(1000, 100, 0o700);
    let st = other.stat(other.attach("").unwrap()).unwrap();
    assert_eq!((st.uid, st.gid, st.mode()), (1000, 100, 0o040700));
    other.create(other.attach("").unwrap(), "mine", FileType::File, 0o600, ALICE).unwrap();
}

#[test]
fn timestamps_move() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let t0 = fs.stat(root).unwrap();
    after(t0.mtime);
    let f = file(&fs, root, "f");
    let (r, s) = (fs.stat(root).unwrap(), fs.stat(f).unwrap());
    assert!(r.mtime > t0.mtime && r.ctime > t0.ctime, "create touches the directory");
    assert_eq!((s.atime, s.mtime), (s.ctime, s.ctime));
    after(s.ctime);
    fs.write(f, b"x", 0).unwrap();
    let w = fs.stat(f).unwrap();
    assert!(w.mtime > s.mtime && w.ctime > s.ctime && w.atime == s.atime);
    after(w.mtime);
    fs.read(f, &mut [0; 1], 0).unwrap();
    let rd = fs.stat(f).unwrap();
    assert!(rd.atime > w.atime && rd.mtime == w.mtime && rd.ctime == w.ctime);
    after(rd.atime);
    fs.wstat(f, &Wstat { perm: Some(0o600), ..Default::default() }).unwrap();
    let ws = fs.stat(f).unwrap();
    assert!(ws.ctime > rd.ctime && ws.mtime == rd.mtime);
    after(ws.ctime);
    fs.link(root, "g", f).unwrap();
    let ln = fs.stat(f).unwrap();
    assert!(ln.ctime > ws.ctime && ln.mtime == ws.mtime);
    after(ln.ctime);
    fs.wstat(f, &Wstat { size: Some(100), ..Default::default() }).unwrap();
    let tr = fs.stat(f).unwrap();
    assert!(tr.mtime > ln.mtime && tr.ctime > ln.ctime);
    let before = fs.stat(root).unwrap();
    after(before.mtime);
    fs.remove(root, "g", false).unwrap();
    assert!(fs.stat(root).unwrap().mtime > before.mtime);
    assert!(fs.stat(f).unwrap().ctime > tr.ctime, "losing a name changes the file too");
    let set =
        Wstat { atime: Some(Time { sec: 1, nsec: 2 }), mtime: Some(Time { sec: 3, nsec: 4 }), ..Default::default() };
    fs.wstat(f, &set).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!((st.atime, st.mtime), (Time { sec: 1, nsec: 2 }, Time { sec: 3, nsec: 4 }));
}

#[test]
fn wstat_owner_mode_and_kinds() {
    let fs = Ramfs::new();
    let root = fs.attach("").unwrap();
    let f = fs.create(root, "f", FileType::File, 0o6755, Cred::ROOT).unwrap();
    fs.wstat(f, &Wstat { uid: Some(1000), ..Default::default() }).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!((st.uid, st.gid, st.perm), (1000, 0, 0o755), "chown drops set-id bits");
    fs.wstat(f, &Wstat { perm: Some(0o104644), ..Default::default() }).unwrap();
    assert_eq!(fs.stat(f).unwrap().perm, 0o4644);
    assert_eq!(fs.wstat(root, &Wstat { size: Some(0), ..Default::default() }).unwrap_err(), Errno::EISDIR);
    let l = fs.symlink(root, "l", "/some/where", Cred::ROOT).unwrap();
    assert_eq!(fs.wstat(l, &Wstat { size: Some(0), ..Default::default() }).unwrap_err(), Errno::EINVAL);
    assert_eq!(fs.readlink(l).unwrap(), "/some/where");
    let st = fs.stat(l).unwrap();
    assert_eq!((st.mode(), st.size), (0o120777, 11));
    assert_eq!(fs.readlink(f).unwrap_err(), Errno::EINVAL);
    assert_eq!(fs.symlink(root, "e", "", Cred::ROOT).unwrap_err(), Errno::ENOENT);
    assert_eq!(fs.symlink(root, "e", &"x".repeat(4096), Cred::ROOT).unwrap_err(), Errno::ENAMETOOLONG);
    let p = fs.create(root, "p", FileType::Fifo, 0o600, Cred::ROOT).unwrap();
    assert_eq!((p.kind, fs.stat(p).unwrap().mode()), (FileType::Fifo, 0o010600));
    assert_eq!(fs.read(p, &mut [0; 1], 0).unwrap_err(), Errno::EINVAL);
    assert_eq!(
        fs.readdir(root, 0).unwrap().iter().map(|e| e.qid.kind).collect::<Vec<_>>(),
        [FileType::File, FileType::Symlink, FileType::Fifo]
    );
}

#[test]
fn shared_between_threads() {
    let fs = std::sync::Arc::new(Ramfs::new());
    let root = fs.attach("").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let fs = fs.clone();
            std::thread::spawn(move || {
                for j in 0..50 {
                    let f = fs.create(root, &format!("{i}-{j}"), FileType::File, 0o644, Cred::ROOT).unwrap();
                    fs.write(f, &[i as u8; 100], 0).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(fs.readdir(root, 0).unwrap().len(), 200);
    assert_eq!(fs.used(), 200 * 4096);
}
