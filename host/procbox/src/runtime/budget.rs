//! Keeping a plugin within its budget: a ticking epoch so that busy
//! WebAssembly yields to the async runtime, and a memory cap that
//! remembers when it refused to grow.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::Engine;

/// How often the epoch advances, and so how often a busy plugin yields to
/// the runtime (letting timers, signals and other tasks run).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until
/// dropped. Dropping it wakes the thread at once: a sleeping ticker used to
/// hold every `procbox run` up to one tick (5 ms on average) at exit.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    ///
    /// # Errors
    /// If no thread can be started.
    pub fn start(engine: &Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("procbox-epoch".into())
            .spawn(move || {
                let mut next = Instant::now() + EPOCH_TICK;
                while !flag.load(Ordering::Acquire) {
                    // Parks may end early (an unpark from `drop`, or
                    // spuriously): tick only when the deadline has passed.
                    std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
                    if Instant::now() >= next {
                        engine.increment_epoch();
                        next = Instant::now() + EPOCH_TICK;
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Bytes charged to the budget per table element: a table of funcrefs or
/// externrefs holds one pointer-sized slot per element.
pub const TABLE_ELEMENT_BYTES: usize = 8;
/// The most elements one table may have.
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;
/// The most core instances, memories and tables a plugin may create. A
/// componentize-py plugin has a few dozen instances, two or three memories.
pub const MAX_INSTANCES: usize = 1000;
/// See [`MAX_INSTANCES`].
pub const MAX_MEMORIES: usize = 32;
/// See [`MAX_INSTANCES`].
pub const MAX_TABLES: usize = 1000;

/// One budget over **all** of a plugin's linear memories and tables: every
/// memory's bytes and every table's elements ([`TABLE_ELEMENT_BYTES`] each)
/// count against the same cap, one table has at most
/// [`MAX_TABLE_ELEMENTS`], and the numbers of instances, memories and
/// tables are capped too. Growing past the budget **traps** the plugin,
/// whether or not it would have handled a failed `memory.grow` or
/// `table.grow`: the cap is the user's, not the plugin's to work around.
/// `exceeded` tells the runtime that this, not a bug, is why it trapped.
#[derive(Debug)]
pub struct MemoryCap {
    max_bytes: usize,
    used_bytes: usize,
    exceeded: bool,
}

impl MemoryCap {
    /// A budget of `max_bytes` for all memories and tables together.
    pub fn new(max_bytes: u64) -> MemoryCap {
        MemoryCap {
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            used_bytes: 0,
            exceeded: false,
        }
    }

    /// Whether a growth was refused.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// Charges growing one memory or table from `current` to `desired`
    /// bytes, or refuses it with the error that traps the plugin.
    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let total = (self.used_bytes - current.min(self.used_bytes)).saturating_add(desired);
        if total > self.max_bytes {
            return Err(self.refuse());
        }
        self.used_bytes = total;
        Ok(true)
    }

    fn refuse(&mut self) -> wasmtime::Error {
        self.exceeded = true;
        wasmtime::Error::msg("the plugin's memories and tables would exceed its cap (`max-plugin-memory`)")
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(self.refuse());
        }
        let bytes = |elements: usize| elements.saturating_mul(TABLE_ELEMENT_BYTES);
        self.grow(bytes(current), bytes(desired))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}
