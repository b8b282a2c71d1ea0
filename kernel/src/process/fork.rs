//! fork and vfork of a process: the child's address space, window,
//! descriptors and signal actions.

use super::*;

impl Process {
    /// Make a child for fork: a copy-on-write copy of the address space,
    /// the same open files, namespace, signal dispositions and mask, and a
    /// copy of the working directory and umask; its fork returns 0.
    pub fn fork(&mut self, pid: u32) -> std::io::Result<Process> {
        let (mut guest, reused) = crate::mm::fork::child_guest(&self.mm)?;
        guest.copy_cpu_from(&self.guest);
        guest.cpu_mut().regs[EAX] = 0;
        let mm = self.mm.clone_cow(&mut self.guest, &mut guest, reused);
        if let Some(e) = devproc::entry(self.pid) {
            devproc::register(pid, e);
        }
        let mut child = self.sibling(Shared::new(guest), Rc::new(Cpus::new(pid)), pid);
        child.mm = Shared::new(mm);
        child.files = Shared::new(self.files.fork_copy());
        child.fs = Shared::new(self.fs.copy());
        devproc::set_fds(pid, child.files.view());
        child.sigactions = Shared::new(*self.sigactions);
        child.altstack = self.altstack;
        Ok(child)
    }

    /// Make a vfork child with id `pid`: a new process that borrows this
    /// one's address space (and CPU state, as this thread's: its vfork
    /// returns 0) until it execs or exits, with copies of the descriptor
    /// table and signal actions.
    pub fn vfork_child(&mut self, pid: u32) -> Process {
        let mut t = self.thread(pid);
        t.pid = pid;
        t.files = Shared::new(self.files.fork_copy());
        t.fs = Shared::new(self.fs.copy());
        t.sigactions = Shared::new(*self.sigactions);
        t.altstack = self.altstack;
        if let Some(e) = devproc::entry(self.pid) {
            devproc::register(pid, e);
        }
        devproc::set_fds(t.pid, t.files.view());
        t
    }
}
