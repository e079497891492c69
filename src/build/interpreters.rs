//! Handing the host platform's Python over to the other platforms of a build.
//!
//! Byte code is the same on every architecture, and only the host can run an interpreter, so a
//! foreign platform (arm64 on an amd64 host) compiles with the host platform's tree of the same
//! image. Platforms are assembled in parallel threads: the host thread publishes each image's
//! tree as soon as its packages are unpacked, and a foreign thread waits for it only when it
//! reaches its own compile step.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};

use anyhow::{Result, bail};

use crate::rootfs::Tree;

#[derive(Default)]
pub struct Interpreters {
    state: Mutex<State>,
    ready: Condvar,
    /// How many foreign platforms borrow each tree: once they all have it, it is let go (a tree
    /// holds every file of an image; keeping all of them is most of a big build's memory).
    borrowers: usize,
}

#[derive(Default)]
struct State {
    trees: BTreeMap<String, Arc<Tree>>,
    /// How many borrowers took each tree so far.
    taken: BTreeMap<String, usize>,
    /// The host thread has finished (or failed): nothing more will be published.
    closed: bool,
}

/// Closes the hand-over when dropped, so waiting threads never hang on a failed host build.
pub struct CloseOnDrop<'a>(&'a Interpreters);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        self.0.ready.notify_all();
    }
}

impl Interpreters {
    /// A hand-over to `borrowers` foreign platforms.
    pub fn new(borrowers: usize) -> Interpreters {
        Interpreters { borrowers, ..Interpreters::default() }
    }

    /// For the host thread: a guard that closes the hand-over when the thread ends.
    pub fn closer(&self) -> CloseOnDrop<'_> {
        CloseOnDrop(self)
    }

    pub fn publish(&self, image: &str, tree: Tree) {
        // Nobody borrows on a build of the host's platform alone.
        if self.borrowers == 0 {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.trees.insert(image.to_string(), Arc::new(tree));
        self.ready.notify_all();
    }

    /// The host's tree of `image`, waiting until the host thread has unpacked it.
    pub fn wait(&self, image: &str) -> Result<Arc<Tree>> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(t) = s.trees.get(image).cloned() {
                let taken = s.taken.entry(image.to_string()).or_default();
                *taken += 1;
                if *taken >= self.borrowers {
                    s.trees.remove(image);
                }
                return Ok(t);
            }
            if s.closed {
                bail!(
                    "the host platform's {image} did not build, and its Python compiles the byte code of every platform"
                );
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Where an image's byte-code compiler comes from.
#[derive(Clone, Copy)]
pub enum Interpreter<'a> {
    /// The host's platform: compile with the image's own tree, and publish it for the others.
    Own(&'a Interpreters),
    /// A foreign platform: borrow the host's tree of the same image.
    Borrow(&'a Interpreters),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_publish_and_fails_when_closed() {
        let i = Interpreters::new(1);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| i.wait("a").map(|t| t.len()));
            let _closer = i.closer();
            let mut t = Tree::new();
            t.insert("usr/bin/python3.11", crate::rootfs::Entry::file("x", 0o755)).unwrap();
            i.publish("a", t);
            assert_eq!(waiter.join().unwrap().unwrap(), 3, "usr, usr/bin and the interpreter");
        });
        assert!(i.wait("b").is_err(), "closed without b: must not hang");
        assert!(i.state.lock().unwrap().trees.is_empty(), "its one borrower took a: let go");
    }
}
