//! Memory for the key directory's hot slots, on 2 MiB pages where the kernel gives them.
//!
//! A random get reads one slot in tables of about 11 MB per million keys: on 4 KiB pages
//! nearly every such read also misses the TLB and walks the page tables. The 64 shards'
//! tables are each far smaller than a 2 MiB page, so they cannot each have pages of their
//! own without wasting most of every page. Instead tables are made of fixed-size segments,
//! carved out of 2 MiB-aligned chunks that are advised `MADV_HUGEPAGE` (which is all a
//! program gets under the common `madvise` setting of transparent huge pages). A segment a
//! shard frees when it grows goes to the next shard that grows: all segments are the same
//! size, so the arena never fragments. Free segments stay mapped (and resident) for the next
//! table that grows: after most keys are removed, the memory stays at its peak until the
//! handle closes, when the chunks go back to the kernel with the last key directory sharing
//! them.
//!
//! Small tables (below one segment) stay on the heap: an empty store must not cost 2 MiB.

#![allow(unsafe_code)]

use crate::util::sync::lock;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Words (8-byte slots) per segment: 32 KiB, 64 segments per chunk.
pub const SEGMENT_WORDS: usize = 4096;
const SEGMENT_BYTES: usize = SEGMENT_WORDS * 8;
const CHUNK_BYTES: usize = 2 << 20;

/// A source of zeroed segments, shared by clones.
#[derive(Clone, Default)]
pub struct Arena {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Every chunk mapped, to be unmapped when the state is dropped.
    chunks: Vec<NonNull<u8>>,
    /// Segments not in use.
    free: Vec<NonNull<u64>>,
}

// SAFETY: the pointers are to memory the state owns (its chunks), handed out to at most one
// `Words` at a time; nothing about them is tied to a thread.
unsafe impl Send for State {}

impl Drop for State {
    fn drop(&mut self) {
        for chunk in &self.chunks {
            // SAFETY: each chunk was mapped by `map_chunk` with this length, and every
            // segment carved from it holds an `Arc` to this state, so none is in use now.
            unsafe {
                libc::munmap(chunk.as_ptr().cast(), CHUNK_BYTES);
            }
        }
    }
}

impl Arena {
    /// `n` zeroed words: a heap allocation below one segment, else one arena segment
    /// (`n` at most `SEGMENT_WORDS`).
    pub fn words(&self, n: usize) -> Words {
        assert!(n <= SEGMENT_WORDS, "a segment holds {SEGMENT_WORDS} words");
        if n < SEGMENT_WORDS {
            return Words::heap(n);
        }
        match self.segment() {
            Some(ptr) => Words {
                ptr,
                len: SEGMENT_WORDS,
                owner: Owner::Arena(self.state.clone()),
            },
            None => Words::heap(n),
        }
    }

    /// A zeroed segment, or `None` when no chunk can be mapped (the heap serves instead).
    fn segment(&self) -> Option<NonNull<u64>> {
        let mut st = lock(&self.state);
        if let Some(seg) = st.free.pop() {
            // SAFETY: a free segment is SEGMENT_BYTES of mapped memory nobody references.
            unsafe { std::ptr::write_bytes(seg.as_ptr().cast::<u8>(), 0, SEGMENT_BYTES) };
            return Some(seg);
        }
        let chunk = map_chunk()?;
        st.chunks.push(chunk);
        let segments = (0..CHUNK_BYTES / SEGMENT_BYTES).rev().map(|i| {
            // SAFETY: `i * SEGMENT_BYTES` stays inside the chunk; fresh mappings are zeroed.
            unsafe { NonNull::new_unchecked(chunk.as_ptr().add(i * SEGMENT_BYTES).cast()) }
        });
        st.free.extend(segments);
        st.free.pop()
    }

    /// Bytes mapped, in use or free.
    #[cfg(test)]
    pub fn mapped_bytes(&self) -> usize {
        self.state.lock().unwrap().chunks.len() * CHUNK_BYTES
    }
}

/// Maps one 2 MiB-aligned chunk and advises huge pages for it.
fn map_chunk() -> Option<NonNull<u8>> {
    let len = 2 * CHUNK_BYTES;
    // SAFETY: a fresh private anonymous mapping; it aliases nothing.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return None;
    }
    let start = raw as usize;
    let aligned = start.next_multiple_of(CHUNK_BYTES);
    let (head, tail) = (aligned - start, start + len - (aligned + CHUNK_BYTES));
    // SAFETY: the head and tail lie inside the mapping just made and outside the aligned
    // chunk kept; the advice cannot change the chunk's contents.
    unsafe {
        if head > 0 {
            libc::munmap(raw, head);
        }
        if tail > 0 {
            libc::munmap((aligned + CHUNK_BYTES) as *mut libc::c_void, tail);
        }
        libc::madvise(
            aligned as *mut libc::c_void,
            CHUNK_BYTES,
            libc::MADV_HUGEPAGE,
        );
    }
    NonNull::new(aligned as *mut u8)
}

/// Zero-initialized 64-bit words owned by one table: an arena segment or a heap block.
pub struct Words {
    ptr: NonNull<u64>,
    len: usize,
    owner: Owner,
}

enum Owner {
    Heap,
    Arena(Arc<Mutex<State>>),
}

// SAFETY: `Words` owns its memory exclusively (like a `Box<[u64]>`); the arena state it may
// hold is behind a mutex.
unsafe impl Send for Words {}
// SAFETY: shared references only read the words.
unsafe impl Sync for Words {}

impl Words {
    fn heap(n: usize) -> Words {
        let block: Box<[u64]> = vec![0; n].into_boxed_slice();
        let len = block.len();
        let ptr = NonNull::new(Box::into_raw(block).cast::<u64>()).expect("Box is not null");
        Words {
            ptr,
            len,
            owner: Owner::Heap,
        }
    }

    /// True when the words come from an arena chunk (advised huge pages).
    #[cfg(test)]
    pub fn in_arena(&self) -> bool {
        matches!(self.owner, Owner::Arena(_))
    }
}

impl std::ops::Deref for Words {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        // SAFETY: `ptr..ptr+len` is initialized memory this `Words` owns until dropped.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for Words {
    fn deref_mut(&mut self) -> &mut [u64] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Words {
    fn drop(&mut self) {
        match &self.owner {
            Owner::Heap => {
                let slice = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
                // SAFETY: made by `Box::into_raw` of a boxed slice of exactly this length.
                drop(unsafe { Box::from_raw(slice) });
            }
            Owner::Arena(state) => {
                let mut st = lock(state);
                st.free.push(self.ptr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_zeroed_reused_and_in_huge_page_chunks() {
        let arena = Arena::default();
        let small = arena.words(10);
        assert!(!small.in_arena() && small.len() == 10);
        let mut segs: Vec<Words> = (0..65).map(|_| arena.words(SEGMENT_WORDS)).collect();
        assert!(segs
            .iter()
            .all(|s| s.in_arena() && s.len() == SEGMENT_WORDS));
        assert_eq!(
            arena.mapped_bytes(),
            2 * CHUNK_BYTES,
            "64 segments per chunk"
        );
        assert_eq!(
            segs[0].as_ptr() as usize % CHUNK_BYTES,
            0,
            "chunks are aligned"
        );
        for s in &mut segs {
            s.fill(u64::MAX);
        }
        segs.truncate(1);
        let again: Vec<Words> = (0..64).map(|_| arena.words(SEGMENT_WORDS)).collect();
        assert!(
            again.iter().all(|s| s.iter().all(|&w| w == 0)),
            "reused zeroed"
        );
        assert_eq!(
            arena.mapped_bytes(),
            2 * CHUNK_BYTES,
            "freed segments reused"
        );
        let flags = crate::util::sys::vm_flags(segs[0].as_ptr() as usize);
        assert!(flags.split_whitespace().any(|f| f == "hg"), "{flags}");
    }
}
