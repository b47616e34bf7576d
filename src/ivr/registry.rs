//! The live set of IVR flows: which flow a dialled number enters, and hot
//! reload of `ivr-scripts/*.toml` and the prompt WAVs while calls run.
//!
//! [`ScriptRegistry`] is the IO shell around the sans-IO script core
//! ([`parse`], [`validate`]): it reads the directory, keeps the valid flows
//! as `Arc<Script>`s indexed by number, and swaps in a new index when files
//! change. A call looks its flow up once, when it arrives, and keeps that
//! `Arc` until it ends, so a reload never changes a call in progress — the
//! same contract as a versioned script edited through the API.
//!
//! Reload rules, per file (what an admin editing a live system expects):
//! - a new or changed script that validates takes effect for new calls;
//! - a script that does not validate is refused with a `warn!` log line per
//!   `file:line:col: message`, and its previous version (if any) stays live;
//! - a deleted file removes its flow;
//! - a changed script that would take a number or flow name from another
//!   live flow is refused the same way (a call can never enter two flows).
//!
//! Change detection polls (see [`spawn_watcher`]): portable to every
//! filesystem, and a poll of a few dozen files costs microseconds.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::diagnostic::{Diagnostic, Reporter, Span};
use super::model::Script;
use super::parse::parse;
use super::validate::{DirCatalog, validate};
use crate::media::prompts::{PromptCache, check_wav};

/// A file modified less than this long ago is re-read even when its size
/// and mtime look unchanged: filesystems with coarse timestamps can record
/// two quick edits with the same mtime (git's "racy clean" problem).
const SETTLE: Duration = Duration::from_secs(3);

/// Why the registry could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "{what} directory {path} not found (working directory {cwd}); set {setting}, or run from \
         the hotline repository, which ships {default}"
    )]
    MissingDir {
        what: &'static str,
        path: PathBuf,
        cwd: String,
        setting: &'static str,
        default: &'static str,
    },
}

/// What a reload changed, by script file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// New files whose flow is now live.
    pub added: Vec<PathBuf>,
    /// Changed files whose new version replaced the old one for new calls.
    pub replaced: Vec<PathBuf>,
    /// Deleted files whose flow is gone.
    pub removed: Vec<PathBuf>,
    /// Files that did not change.
    pub unchanged: usize,
}

impl ReloadReport {
    /// True when no flow changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty()
    }
}

/// The flows live at one moment; replaced as a whole on reload.
#[derive(Debug, Default)]
struct Flows {
    by_number: HashMap<String, Arc<Script>>,
    by_file: BTreeMap<PathBuf, Arc<Script>>,
}

impl Flows {
    /// Why `script` (from `path`) cannot join these flows: a number or flow
    /// name that another file already has.
    fn conflict(&self, path: &Path, script: &Script) -> Option<Diagnostic> {
        let file = path.display().to_string();
        let r = Reporter {
            file: &file,
            text: &script.source.text,
        };
        let at = |span: &Span, message: String| r.at(span, message);
        for number in &script.flow.numbers {
            if let Some(other) = self.by_number.get(&number.value)
                && other.source.path != path
            {
                return Some(at(
                    &number.span,
                    format!(
                        "number `{}` is already used by {}",
                        number.value,
                        other.source.path.display()
                    ),
                ));
            }
        }
        let same_name = self
            .by_file
            .iter()
            .find(|(file, s)| *file != path && s.flow.name == script.flow.name);
        same_name.map(|(file, _)| {
            at(
                &script.flow.span,
                format!(
                    "flow name `{}` is already used by {}",
                    script.flow.name,
                    file.display()
                ),
            )
        })
    }

    fn insert(&mut self, path: PathBuf, script: Arc<Script>) {
        for number in &script.flow.numbers {
            self.by_number
                .insert(number.value.clone(), Arc::clone(&script));
        }
        self.by_file.insert(path, script);
    }
}

/// Size, mtime and content hash of one watched file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    hash: u64,
}

/// Every watched file, by path: the scripts and the prompt WAVs.
type Fingerprint = BTreeMap<PathBuf, Stamp>;

/// The IVR flows by number, with hot reload, and the prompts they play.
///
/// Shared as `Arc<ScriptRegistry>` by the call layer (for [`lookup`]), the
/// watcher task and, later, the API.
///
/// [`lookup`]: ScriptRegistry::lookup
#[derive(Debug)]
pub struct ScriptRegistry {
    ivr_dir: PathBuf,
    catalog: DirCatalog,
    prompts: Arc<PromptCache>,
    live: RwLock<Arc<Flows>>,
    /// Problems found by the last reload (empty when every file is valid).
    problems: Mutex<Vec<Diagnostic>>,
    /// Serialises reloads, so two never interleave their swaps.
    reloading: Mutex<()>,
    /// Held by an edit through the API from reading the current version to
    /// the reload after writing the file, so two saves never interleave.
    editing: tokio::sync::Mutex<()>,
    /// What the last [`ScriptRegistry::check_now`] saw.
    watched: Mutex<Fingerprint>,
    /// Bumped after every reload that changed a flow or the prompts.
    generation: tokio::sync::watch::Sender<u64>,
}

impl ScriptRegistry {
    /// Loads every script in `ivr_dir`, validated against the prompts in
    /// `prompts_dir` (which must be 8 kHz mono 16-bit WAV), and preloads the
    /// prompts. Invalid scripts are logged and left out, as on reload; a
    /// missing directory is an error, so a wrong path fails at start
    /// instead of leaving a hotline that answers no number.
    ///
    /// Does blocking file IO: call it before serving, or in `spawn_blocking`.
    pub fn open(
        ivr_dir: impl Into<PathBuf>,
        prompts_dir: impl Into<PathBuf>,
    ) -> Result<ScriptRegistry, RegistryError> {
        let ivr_dir = ivr_dir.into();
        let prompts_dir = prompts_dir.into();
        let missing = |what, path: &Path, setting, default| RegistryError::MissingDir {
            what,
            path: path.to_path_buf(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "unknown".to_owned()),
            setting,
            default,
        };
        if !ivr_dir.is_dir() {
            return Err(missing(
                "IVR script",
                &ivr_dir,
                "--ivr-dir or paths.ivr_dir",
                "ivr-scripts/hotline.toml",
            ));
        }
        if !prompts_dir.is_dir() {
            return Err(missing(
                "prompts",
                &prompts_dir,
                "--prompts-dir or paths.prompts_dir",
                "prompts/ru and prompts/en",
            ));
        }
        let registry = ScriptRegistry {
            catalog: DirCatalog::new(&prompts_dir).with_format_check(check_wav),
            prompts: Arc::new(PromptCache::new(prompts_dir)),
            ivr_dir,
            live: RwLock::new(Arc::default()),
            problems: Mutex::new(Vec::new()),
            reloading: Mutex::new(()),
            editing: tokio::sync::Mutex::new(()),
            watched: Mutex::new(Fingerprint::new()),
            generation: tokio::sync::watch::Sender::new(0),
        };
        // Fingerprint first: an edit made while loading is seen by the next poll.
        {
            let mut watched = lock(&registry.watched);
            *watched = registry.fingerprint(&watched);
        }
        // Problems are logged and kept in `problems()`; the valid flows serve.
        let _ = registry.reload();
        registry.preload_prompts();
        if registry.flows().is_empty() {
            tracing::warn!(
                dir = %registry.ivr_dir.display(),
                "no valid IVR flow: calls to hotline numbers will be refused until one is fixed"
            );
        }
        Ok(registry)
    }

    /// The flow a call to `number` (the Request-URI user) enters, as it is
    /// now. Keep the returned `Arc` for the whole call.
    pub fn lookup(&self, number: &str) -> Option<Arc<Script>> {
        read(&self.live).by_number.get(number).cloned()
    }

    /// Every live flow, by file name.
    pub fn flows(&self) -> Vec<Arc<Script>> {
        read(&self.live).by_file.values().cloned().collect()
    }

    /// The prompt cache shared by every call: each WAV loaded and encoded
    /// once; cleared and reloaded when a WAV changes on disk.
    pub fn prompts(&self) -> &Arc<PromptCache> {
        &self.prompts
    }

    pub fn ivr_dir(&self) -> &Path {
        &self.ivr_dir
    }

    /// What the last reload refused (`file:line:col: message` each).
    pub fn problems(&self) -> Vec<Diagnostic> {
        lock(&self.problems).clone()
    }

    /// The script files of the directory (`ivr_dir/*.toml`), valid or not,
    /// sorted. Blocking IO.
    pub fn script_paths(&self) -> std::io::Result<Vec<PathBuf>> {
        script_files(&self.ivr_dir)
    }

    /// The live flow loaded from `path`, if that file has one.
    pub fn live_at(&self, path: &Path) -> Option<Arc<Script>> {
        read(&self.live).by_file.get(path).cloned()
    }

    /// Checks `text` as the new content of `path` exactly as a reload
    /// would: parse, validate against the prompts, and no number or flow
    /// name that another live flow has. The editor's save and simulator
    /// refuse what a reload would refuse, with the same diagnostics.
    /// Blocking IO (the prompt files are looked at).
    pub fn check_text(&self, path: &Path, text: &str) -> Result<Script, Vec<Diagnostic>> {
        let script = self.parse_and_validate(path, text)?;
        match read(&self.live).conflict(path, &script) {
            None => Ok(script),
            Some(conflict) => Err(vec![conflict]),
        }
    }

    /// Held by the API while it saves a script: from reading the current
    /// version to the reload after the write, so saves do not interleave.
    pub fn edit_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.editing
    }

    /// Replaces `path` with `text` atomically (a temporary file beside it,
    /// then a rename), so a reload, the watcher or a crash never sees half
    /// a script; then reloads at once, so new calls get the new flow
    /// without waiting for the watcher. Calls in progress keep theirs.
    /// The temporary name does not end in `.toml`, so no reload takes it
    /// for a script. Blocking IO.
    pub fn write_script(
        &self,
        path: &Path,
        text: &str,
    ) -> std::io::Result<Result<ReloadReport, Vec<Diagnostic>>> {
        use std::io::Write;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = path.with_file_name(format!(".{file_name}.saving"));
        let written = (|| {
            let mut file = fs::File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            if let Ok(meta) = fs::metadata(path) {
                fs::set_permissions(&temp, meta.permissions())?;
            }
            fs::rename(&temp, path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        Ok(self.reload())
    }

    /// A receiver that changes after every reload that changed something;
    /// for tests and anything that caches derived data.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Re-reads every script and applies the rules of the module docs.
    ///
    /// `Ok` when every file is valid. `Err` lists the refused files'
    /// problems (also logged); the valid changes of the same pass are
    /// applied all the same, each file standing on its own. Blocking IO.
    pub fn reload(&self) -> Result<ReloadReport, Vec<Diagnostic>> {
        let _one_at_a_time = lock(&self.reloading);
        let old = Arc::clone(&read(&self.live));
        let paths = match script_files(&self.ivr_dir) {
            Ok(paths) => paths,
            Err(e) => {
                let problem = whole_file(
                    &self.ivr_dir,
                    format!("cannot read IVR directory (keeping the live flows): {e}"),
                );
                tracing::warn!("{problem}");
                *lock(&self.problems) = vec![problem.clone()];
                return Err(vec![problem]);
            }
        };

        // Validate everything before touching the live set.
        let mut unchanged = Vec::new();
        let mut changed = Vec::new();
        let mut problems = Vec::new();
        let mut refused = Vec::new();
        let listed: std::collections::BTreeSet<PathBuf> = paths.iter().cloned().collect();
        for path in paths {
            let checked = fs::read_to_string(&path)
                .map_err(|e| vec![whole_file(&path, format!("cannot read: {e}"))])
                .and_then(|text| self.parse_and_validate(&path, &text));
            match checked {
                Ok(script) => match old.by_file.get(&path) {
                    Some(live) if live.source.text == script.source.text => {
                        unchanged.push((path, Arc::clone(live)));
                    }
                    _ => changed.push((path, script)),
                },
                Err(mut found) => {
                    problems.append(&mut found);
                    refused.push(path);
                }
            }
        }

        // Live versions first, so an edit can never push out a flow that
        // is serving calls: unchanged files, then the old versions of the
        // refused ones, then the new versions in file-name order.
        let mut next = Flows::default();
        let mut report = ReloadReport {
            unchanged: unchanged.len(),
            ..ReloadReport::default()
        };
        for (path, script) in unchanged {
            next.insert(path, script);
        }
        let keep_old = |next: &mut Flows, path: &Path, problems: &mut Vec<Diagnostic>| {
            let Some(live) = old.by_file.get(path) else {
                return;
            };
            match next.conflict(path, live) {
                None => next.insert(path.to_path_buf(), Arc::clone(live)),
                Some(conflict) => problems.push(conflict),
            }
        };
        for path in &refused {
            keep_old(&mut next, path, &mut problems);
        }
        for (path, script) in changed {
            if let Some(conflict) = next.conflict(&path, &script) {
                problems.push(conflict);
                keep_old(&mut next, &path, &mut problems);
                continue;
            }
            if old.by_file.contains_key(&path) {
                report.replaced.push(path.clone());
            } else {
                report.added.push(path.clone());
            }
            next.insert(path, Arc::new(script));
        }
        report.removed = old
            .by_file
            .keys()
            .filter(|path| !listed.contains(*path))
            .cloned()
            .collect();

        for problem in &problems {
            tracing::warn!("IVR script refused, previous version (if any) stays live: {problem}");
        }
        for (paths, what) in [
            (&report.added, "IVR flow loaded"),
            (&report.replaced, "IVR flow replaced for new calls"),
        ] {
            for script in paths.iter().filter_map(|p| next.by_file.get(p)) {
                tracing::info!(
                    flow = %script.flow.name,
                    file = %script.source.path.display(),
                    numbers = %numbers(script),
                    "{what}"
                );
            }
        }
        for path in &report.removed {
            tracing::info!(file = %path.display(), "IVR flow removed");
        }
        let same_flows = next.by_file.len() == old.by_file.len()
            && next
                .by_file
                .iter()
                .zip(&old.by_file)
                .all(|((p1, s1), (p2, s2))| p1 == p2 && Arc::ptr_eq(s1, s2));
        if !same_flows {
            *write(&self.live) = Arc::new(next);
            self.generation.send_modify(|g| *g = g.wrapping_add(1));
        }
        problems.sort();
        problems.dedup();
        *lock(&self.problems) = problems.clone();
        if problems.is_empty() {
            Ok(report)
        } else {
            Err(problems)
        }
    }

    /// Looks for edits once: when a script or a prompt WAV changed since
    /// the last look, clears the prompt cache (if a WAV changed) and
    /// reloads. `None` when nothing changed. This is what the watcher runs
    /// on every tick; tests call it directly instead of waiting for one.
    /// Blocking IO.
    pub fn check_now(&self) -> Option<Result<ReloadReport, Vec<Diagnostic>>> {
        let mut watched = lock(&self.watched);
        let now = self.fingerprint(&watched);
        let differs =
            |path: &PathBuf| now.get(path).map(|s| s.hash) != watched.get(path).map(|s| s.hash);
        let changed: Vec<&PathBuf> = now
            .keys()
            .chain(watched.keys())
            .filter(|p| differs(p))
            .collect();
        if changed.is_empty() {
            *watched = now;
            return None;
        }
        let prompts_changed = changed
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "wav"));
        *watched = now;
        drop(watched);
        if prompts_changed {
            tracing::info!("prompt files changed: reloading prompts");
            self.prompts.clear();
            self.preload_prompts();
        }
        let result = self.reload();
        if prompts_changed && matches!(&result, Ok(report) if report.is_empty()) {
            // Flows unchanged but the audio is new: still a change.
            self.generation.send_modify(|g| *g = g.wrapping_add(1));
        }
        Some(result)
    }

    /// Parse and validate one file's text: everything but the conflicts
    /// with other flows, which depend on the set it joins.
    fn parse_and_validate(&self, path: &Path, text: &str) -> Result<Script, Vec<Diagnostic>> {
        let script = parse(path, text)?;
        let found = validate(&script, &self.catalog);
        if found.is_empty() {
            Ok(script)
        } else {
            Err(found)
        }
    }

    fn preload_prompts(&self) {
        match self.prompts.preload() {
            Ok(count) => {
                tracing::info!(count, dir = %self.prompts.root().display(), "prompts loaded")
            }
            // The validator names the files scripts use; the others are
            // loaded on first use.
            Err(e) => tracing::warn!("prompts not all preloaded: {e}"),
        }
    }

    /// Stamps of `ivr_dir/*.toml`, `prompts_dir/*/*.wav` and
    /// `prompts_dir/moh.wav`. A file whose size and mtime match `previous`
    /// and that has settled keeps its hash; others are read and hashed.
    fn fingerprint(&self, previous: &Fingerprint) -> Fingerprint {
        let mut files = script_files(&self.ivr_dir).unwrap_or_default();
        let root = self.prompts.root();
        if let Ok(entries) = fs::read_dir(root) {
            for dir in entries.filter_map(Result::ok).map(|e| e.path()) {
                if dir.is_dir() {
                    files.extend(files_with_extension(&dir, "wav").unwrap_or_default());
                }
            }
        }
        files.push(self.prompts.moh_path());
        let settled_before = SystemTime::now().checked_sub(SETTLE);
        let mut out = Fingerprint::new();
        for path in files {
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            let modified = meta.modified().ok();
            let settled = matches!((modified, settled_before), (Some(m), Some(s)) if m < s);
            let hash = match previous.get(&path) {
                Some(old) if settled && old.modified == modified && old.len == meta.len() => {
                    old.hash
                }
                _ => match fs::read(&path) {
                    Ok(bytes) => {
                        let mut hasher = DefaultHasher::new();
                        hasher.write(&bytes);
                        hasher.finish()
                    }
                    Err(_) => continue,
                },
            };
            out.insert(
                path,
                Stamp {
                    modified,
                    len: meta.len(),
                    hash,
                },
            );
        }
        out
    }
}

/// Polls the registry's directories every `interval` and reloads on change
/// (see [`ScriptRegistry::check_now`]), until `stop` turns true or its
/// sender is dropped. A zero interval means hot reload is off: the task
/// just waits for `stop`.
pub fn spawn_watcher(
    registry: Arc<ScriptRegistry>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if interval.is_zero() {
            while !*stop.borrow_and_update() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
            return;
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; `open` has just looked.
        ticker.tick().await;
        loop {
            if *stop.borrow_and_update() {
                break;
            }
            tokio::select! {
                _ = ticker.tick() => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
            }
            let registry = Arc::clone(&registry);
            // File IO off the runtime's worker threads.
            if let Err(e) = tokio::task::spawn_blocking(move || registry.check_now()).await {
                tracing::warn!("IVR reload check failed: {e}");
            }
        }
    })
}

fn numbers(script: &Script) -> String {
    script
        .flow
        .numbers
        .iter()
        .map(|n| n.value.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn whole_file(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: path.display().to_string(),
        line: 1,
        col: 1,
        message,
    }
}

fn script_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    files_with_extension(dir, "toml")
}

/// Regular files `dir/*.<extension>`, sorted.
fn files_with_extension(dir: &Path, extension: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension) && p.is_file())
        .collect();
    paths.sort();
    Ok(paths)
}

// A panic while holding a lock leaves plain data behind, still consistent
// (every write is a single assignment), so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
