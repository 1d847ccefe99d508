//! A counting global allocator shared by the benches that report heap
//! bytes (`#[path = "../common/alloc.rs"] mod alloc;` and
//! `#[global_allocator] static GLOBAL: alloc::Counting = alloc::Counting;`).
//!
//! It forwards to the system allocator and, while [`COUNTING`] is set,
//! keeps the live heap bytes in [`LIVE`] and the number of allocations in
//! [`ALLOCATIONS`]; while it is clear each call costs one relaxed load, so
//! timed loops pay almost nothing for it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

/// The allocator.
pub struct Counting;

/// Whether allocations are being counted.
pub static COUNTING: AtomicBool = AtomicBool::new(false);
/// Live heap bytes counted since [`COUNTING`] was set (or [`LIVE`] reset).
pub static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocations counted (reallocations are not new allocations).
pub static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// Starts counting from now on.
pub fn start() {
    COUNTING.store(true, Ordering::SeqCst);
}

/// Live heap bytes counted so far.
pub fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

fn counted(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
        if delta > 0 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            counted(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        counted(-(layout.size() as isize));
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            counted(layout.size() as isize);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}
