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

/// Caps each linear memory of a plugin. A refused `memory.grow` returns -1
/// to the plugin (which usually aborts); `exceeded` tells the runtime that
/// this, not a bug, is why it trapped.
#[derive(Debug)]
pub struct MemoryCap {
    max_bytes: usize,
    exceeded: bool,
}

impl MemoryCap {
    /// A cap of `max_bytes` per linear memory.
    pub fn new(max_bytes: u64) -> MemoryCap {
        MemoryCap {
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            exceeded: false,
        }
    }

    /// Whether a growth was refused.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}
