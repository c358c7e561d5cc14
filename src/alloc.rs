//! Giving memory back to the system once a burst of work is over. mimalloc (the binary's
//! global allocator) returns freed pages lazily, as part of later allocations; a `listen` that
//! goes idle after SIPp's load stopped would keep resident whatever the last expiring
//! transactions freed, megabytes that vary from run to run. One explicit collection when the
//! tables have emptied makes the memory after a million transactions what it was after ten
//! thousand (bench/listen.sh).
#![allow(unsafe_code)]

/// Return mimalloc's free pages to the system. Costs a walk of the allocator's own tables
/// (milliseconds at most): for the end of a burst, not for a hot path. When another global
/// allocator is in use (the test binaries), mimalloc's heaps are empty and this does nothing.
pub(crate) fn release_free_memory() {
    // SAFETY: `mi_collect` has no preconditions: mimalloc documents it as callable at any
    // time from any thread; it only visits mimalloc's own heap and segment structures.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
