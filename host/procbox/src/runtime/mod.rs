//! Loading and running plugins: the engine, the store, and the cleanup
//! that guarantees no child outlives its plugin.
//!
//! The top layer but one (the grants use it): it owns the engine, the
//! compile cache ([`cache`]), the plugin's identity ([`plugin_file`]) and
//! budgets ([`budget`]); it links the WIT-facing layer into a store and
//! starts the spawn path for a run. It may use the WIT-facing layer
//! (`plugin_api`), the spawn path, the gate and the policy.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::plugin_api::bindings;
use crate::plugin_api::ctx::{self, ProcessCtx, ProcessCtxView, ProcessView};
use crate::policy::Policy;
use crate::runtime::budget::{EpochTicker, MemoryCap};
use crate::runtime::cache::{Cache, CacheWarning, Origin};
use crate::runtime::plugin_file::PluginFile;
use crate::spawn::pauses::budget_spent;
use crate::spawn::spawner::Spawner;

pub(crate) mod budget;
pub(crate) mod cache;
mod errors;
pub(crate) mod known;
mod options;
pub(crate) mod plugin_file;
pub(crate) mod private;

use crate::plugin_api::Aborted;
pub use errors::{LoadError, Misfit, RunError};
pub use options::{Outcome, RunOptions, WasiSetup};

use errors::trap_reason;

/// How long the end of a run waits for killed children to be reaped.
const FINAL_REAP_BOUND: Duration = Duration::from_secs(5);

/// The first bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// The version field of a core module (a component has a different one).
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// A wasmtime engine and linker set up for procbox plugins. Create one and
/// reuse it: it is cheap to share and expensive to make.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    cache: Option<Cache>,
    compile_hook: Option<CompileHook>,
    _ticker: EpochTicker,
}

/// Told that a plugin is about to be compiled (it was not in the cache, or
/// there is none), with its name and size in bytes. The value it returns is
/// dropped when compiling ends, successfully or not. The `procbox` command
/// line uses it to show progress when a compile takes a while.
pub type CompileHook = Box<dyn Fn(&str, usize) -> Box<dyn std::any::Any> + Send + Sync>;

/// A compiled plugin, checked against the `procbox:host/plugin` world and
/// ready to instantiate.
pub struct Plugin {
    name: String,
    pre: bindings::PluginPre<PluginState>,
}

/// What `procbox inspect` shows about a component.
#[derive(Debug)]
pub struct Description {
    /// Size of the file in bytes.
    pub size: usize,
    /// Names of the component's imports.
    pub imports: Vec<String>,
    /// Names of its exports.
    pub exports: Vec<String>,
    /// `Ok` if it is a procbox plugin, else why not.
    pub fits: Result<(), Misfit>,
}

impl Runtime {
    /// A runtime with procbox's engine settings.
    ///
    /// # Errors
    /// If wasmtime cannot create an engine for this machine.
    pub fn new() -> anyhow::Result<Runtime> {
        let mut config = wasmtime::Config::new();
        // Busy WebAssembly yields at every epoch tick, so budgets, signals
        // and other tasks are never starved.
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        ctx::add_to_linker_with_wasi(&mut linker)?;
        let ticker = EpochTicker::start(&engine)?;
        Ok(Runtime {
            engine,
            linker,
            cache: None,
            compile_hook: None,
            _ticker: ticker,
        })
    }

    /// Keeps compiled plugins in `dir` (see [`Cache`](crate::Cache)); trouble with
    /// the cache is logged.
    pub fn with_cache(mut self, dir: impl Into<std::path::PathBuf>) -> Runtime {
        self.cache = Some(Cache::new(dir, &self.engine));
        self
    }

    /// Keeps compiled plugins in `dir`, as [`Runtime::with_cache`] does, and
    /// hands each [`CacheWarning`] (an unsafe cache directory, say) to
    /// `report` instead of logging it.
    pub fn with_cache_reporting(
        mut self,
        dir: impl Into<std::path::PathBuf>,
        report: impl Fn(&CacheWarning) + Send + Sync + 'static,
    ) -> Runtime {
        self.cache = Some(Cache::new(dir, &self.engine).with_warnings(report));
        self
    }

    /// Calls `hook` whenever a plugin has to be compiled (see [`CompileHook`]);
    /// loads from the cache do not call it.
    pub fn with_compile_hook(
        mut self,
        hook: impl Fn(&str, usize) -> Box<dyn std::any::Any> + Send + Sync + 'static,
    ) -> Runtime {
        self.compile_hook = Some(Box::new(hook));
        self
    }

    /// The compilation cache, if any.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// Reads, compiles and checks the plugin at `path`.
    ///
    /// # Errors
    /// [`LoadError`], naming the file and the problem.
    pub fn load_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let mut plugin = self.open_plugin(path)?;
        Ok(self.load_plugin(&mut plugin)?.0)
    }

    /// Opens the plugin at `path` and finds the digest of its bytes, from
    /// the cache's record when the file is unchanged since (without reading
    /// it), else by reading it (see [`PluginFile`]).
    ///
    /// # Errors
    /// [`LoadError::Read`] when it cannot be opened or read.
    pub fn open_plugin(&self, path: &Path) -> Result<PluginFile, LoadError> {
        PluginFile::open(path, self.cache.as_ref().map(Cache::dir)).map_err(|source| LoadError::Read {
            name: path.display().to_string(),
            source,
        })
    }

    /// Compiles and checks `plugin`, or loads it from the cache entry of its
    /// digest; says which. Its bytes are read only to compile it.
    ///
    /// # Errors
    /// [`LoadError`], naming the plugin and the problem; `Read` also when it
    /// changed while it was being loaded.
    pub fn load_plugin(&self, plugin: &mut PluginFile) -> Result<(Plugin, Origin), LoadError> {
        let name = plugin.name().to_string();
        let read_error = |source| LoadError::Read {
            name: name.clone(),
            source,
        };
        let digest = *plugin.digest();
        let mut compile = || self.compile(&name, plugin.bytes().map_err(read_error)?);
        let (component, origin) = match &self.cache {
            Some(cache) => cache.load_or_compile_digest(&self.engine, &digest, compile)?,
            None => (compile()?, Origin::Compiled),
        };
        plugin.check_unchanged().map_err(read_error)?;
        let pre = self.prepare(&name, &component)?;
        Ok((Plugin { name, pre }, origin))
    }

    /// Compiles and checks a plugin from its bytes; `name` is used in messages.
    ///
    /// # Errors
    /// [`LoadError`], naming the plugin and the problem.
    pub fn load_bytes(&self, name: &str, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let component = self.compile_cached(name, bytes)?.0;
        let pre = self.prepare(name, &component)?;
        Ok(Plugin {
            name: name.to_string(),
            pre,
        })
    }

    /// What the component at `path` imports and exports, and whether it is
    /// a procbox plugin.
    ///
    /// # Errors
    /// [`LoadError`] when the file is not a valid component at all.
    pub fn describe_file(&self, path: &Path) -> Result<Description, LoadError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            name: name.clone(),
            source,
        })?;
        let component = self.compile(&name, &bytes)?;
        let ty = component.component_type();
        Ok(Description {
            size: bytes.len(),
            imports: ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect(),
            exports: ty.exports(&self.engine).map(|(name, _)| name.to_string()).collect(),
            fits: self
                .prepare(&name, &component)
                .map(|_| ())
                .map_err(|error| Misfit { error }),
        })
    }

    /// Compiles a plugin, or loads it from the cache; says which.
    ///
    /// # Errors
    /// [`LoadError`] when the bytes are not a valid component.
    pub fn compile_cached(&self, name: &str, bytes: &[u8]) -> Result<(Component, Origin), LoadError> {
        match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, bytes, || self.compile(name, bytes)),
            None => Ok((self.compile(name, bytes)?, Origin::Compiled)),
        }
    }

    fn compile(&self, name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        let name = name.to_string();
        if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
            return Err(LoadError::NotWasm { name });
        }
        if bytes[4..8] == CORE_MODULE_VERSION {
            return Err(LoadError::CoreModule { name });
        }
        let _compiling = self.compile_hook.as_ref().map(|hook| hook(&name, bytes.len()));
        Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid {
            name,
            reason: format!("{e:#}"),
        })
    }

    /// Links `component` against WASI and procbox, and checks its exports.
    fn prepare(&self, name: &str, component: &Component) -> Result<bindings::PluginPre<PluginState>, LoadError> {
        let wrong_world = |reason: String| LoadError::WrongWorld {
            name: name.to_string(),
            reason,
        };
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| wrong_world(format!("{e:#}")))?;
        bindings::PluginPre::new(instance_pre).map_err(|e| {
            wrong_world(format!(
                "{e:#}; a plugin must export wasi:cli/run (build it as a binary with a `main`)"
            ))
        })
    }

    /// Runs `plugin` to completion. Every child it started is killed and
    /// reaped before this returns.
    ///
    /// # Errors
    /// [`RunError`] when the plugin cannot be instantiated or traps.
    pub async fn run(&self, plugin: &Plugin, options: RunOptions) -> Result<Outcome, RunError> {
        self.run_until(plugin, options, std::future::pending()).await
    }

    /// Like [`run`](Self::run), but stops the plugin when `stop` completes
    /// with an exit code (e.g. on SIGINT). Its children are killed and
    /// reaped all the same.
    ///
    /// # Errors
    /// [`RunError`] when the plugin cannot be instantiated or traps.
    pub async fn run_until(
        &self,
        plugin: &Plugin,
        options: RunOptions,
        stop: impl Future<Output = i32>,
    ) -> Result<Outcome, RunError> {
        let refusal = match (options.policy.enforcement(), options.policy.containment()) {
            (Err(e), _) => Some(e.to_string()),
            (_, Err(e)) => Some(e.to_string()),
            _ => None,
        };
        if let Some(reason) = refusal {
            return Err(RunError::Unconfinable {
                name: plugin.name.clone(),
                reason,
            });
        }
        let mut args = vec![plugin.name.clone()];
        args.extend(options.args);
        let wasi = plugin_wasi(&options.policy, &args, options.wasi.as_deref())?;
        let caps = options.policy.plugin().clone();
        let spawner = Spawner::new(options.policy, options.hooks);
        let pauses = spawner.pauses();
        let process = ProcessCtx::new(spawner);
        let exits = process.exits();
        let mut table = ResourceTable::new();
        table.set_max_capacity(caps.max_handles);
        let state = PluginState {
            wasi,
            table,
            process,
            memory: MemoryCap::new(caps.max_memory_bytes),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_async_yield_and_update(1);
        let name = &plugin.name;
        let budgeted = async {
            match caps.max_time {
                None => run_instance(&plugin.pre, &mut store, name).await,
                Some(budget) => {
                    let started = tokio::time::Instant::now();
                    tokio::select! {
                        result = run_instance(&plugin.pre, &mut store, name) => result,
                        () = budget_spent(budget, started, &pauses) => Err(RunError::OutOfTime {
                            name: name.clone(),
                            budget,
                        }),
                    }
                }
            }
        };
        let outcome = tokio::select! {
            result = budgeted => result,
            code = stop => Ok(Outcome::Stopped(code)),
        };
        // wasmtime's words when an instance, memory or table count is over
        // the limiter's cap. A plain bool, not a closure over the store: a
        // borrow of the store alive across the `await` below would make
        // the run's future not `Send` (the store is not `Sync`), and an
        // application (the worker) must be able to spawn runs on tokio.
        let memory_exceeded = store.data().memory.exceeded();
        let over_budget = |reason: &str| memory_exceeded || reason.contains("resource limit exceeded");
        let outcome = match outcome {
            Err(RunError::Trap { reason, .. } | RunError::Instantiate { reason, .. }) if over_budget(&reason) => {
                Err(RunError::OutOfMemory {
                    name: name.clone(),
                    cap: caps.max_memory_bytes,
                })
            }
            other => other,
        };
        // Dropping the store drops every child handle, which kills each
        // child's process group; then wait for the watchers to reap them.
        drop(store);
        exits.settle(FINAL_REAP_BOUND).await;
        outcome
    }
}

/// The plugin's own WASI context: its arguments, stdout and stderr, and
/// only the files, network and environment the policy grants it.
fn plugin_wasi(policy: &Policy, args: &[String], setup: Option<&WasiSetup>) -> Result<WasiCtx, RunError> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdout()
        .inherit_stderr()
        .args(args)
        .envs(policy.passed_env());
    let caps = policy.plugin();
    // The write grants as children get them: a grant that holds protected
    // paths is read-only itself and writable below, directory by directory
    // (a file directly in it stays read-only to the plugin, which WASI can
    // only grant by directory).
    let write_set = policy.write_set();
    let preopens = caps
        .read_dirs
        .iter()
        .chain(&write_set.read_only)
        .map(|dir| (dir, FsPerms::ReadOnly))
        .chain(write_set.dirs.iter().map(|dir| (dir, FsPerms::ReadWrite)));
    // The plugin sees each directory at its real path; wasi-libc opens a
    // path through the preopen with the longest prefix, so a writable
    // directory inside a read-only one is written through its own.
    for (dir, perms) in preopens {
        let guest_path = dir.to_string_lossy();
        builder
            .preopened_dir(dir, guest_path.as_ref(), perms)
            .map_err(|e| RunError::Instantiate {
                name: args[0].clone(),
                reason: format!("cannot open {} for the plugin: {e:#}", dir.display()),
            })?;
    }
    builder
        .allow_tcp(caps.network)
        .allow_udp(caps.network)
        .allow_ip_name_lookup(caps.network);
    if caps.network {
        builder.socket_addr_check(|_, _| Box::pin(async { true }));
    }
    if let Some(setup) = setup {
        setup(&mut builder);
    }
    Ok(builder.build())
}

async fn run_instance(
    pre: &bindings::PluginPre<PluginState>,
    store: &mut Store<PluginState>,
    name: &str,
) -> Result<Outcome, RunError> {
    let instance = pre
        .instantiate_async(&mut *store)
        .await
        .map_err(|e| RunError::Instantiate {
            name: name.to_string(),
            reason: format!("{e:#}"),
        })?;
    match instance.wasi_cli_run().call_run(&mut *store).await {
        Ok(Ok(())) => Ok(Outcome::Exited(0)),
        Ok(Err(())) => Ok(Outcome::Exited(1)),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(Outcome::Exited(exit.0)),
            None if e.downcast_ref::<Aborted>().is_some() => Err(RunError::Aborted {
                name: name.to_string(),
                reason: e.downcast_ref::<Aborted>().map(|a| a.0.clone()).unwrap_or_default(),
            }),
            None => {
                // The whole report (WebAssembly backtrace, causes) is for
                // whoever debugs the plugin: `procbox -v` shows it.
                tracing::info!(target: "procbox::verbose", "plugin {name} trapped: {e:?}");
                Err(RunError::Trap {
                    name: name.to_string(),
                    reason: trap_reason(&e),
                })
            }
        },
    }
}

/// The store data of a running plugin.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    process: ProcessCtx,
    memory: MemoryCap,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ProcessView for PluginState {
    fn process(&mut self) -> ProcessCtxView<'_> {
        ProcessCtxView {
            ctx: &mut self.process,
            table: &mut self.table,
        }
    }
}

/// Type-checked in test builds, never called: a run's future is `Send`, so
/// an application (the worker) can run many plugins at once with
/// `tokio::spawn`.
#[cfg(test)]
#[allow(dead_code)]
fn a_run_can_be_spawned(runtime: &'static Runtime, plugin: &'static Plugin, options: RunOptions) {
    fn send<T: Send>(_: &T) {}
    send(&runtime.run(plugin, options));
}
