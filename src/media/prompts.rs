//! Voice prompts: `prompts/<lang>/<id>.wav` and `prompts/moh.wav`.
//!
//! Each file is parsed once with `hound`, checked (8 kHz, mono, 16-bit PCM),
//! encoded once to PCMU and to PCMA, and the encodings are kept as
//! `Arc<[u8]>`: every call that plays the prompt shares the same bytes, so a
//! thousand callers hearing the main menu cost one copy of it. The linear
//! samples are not kept (the sessions only need the encoded form).
//!
//! Loading does blocking file IO: call [`PromptCache::preload`] at start-up
//! (or `get` from `spawn_blocking`); later `get`s of a cached prompt only take
//! a short lock.

use super::g711::CodecKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub const SAMPLE_RATE: u32 = 8000;

/// Longest prompt we accept (30 minutes): bounds memory per file.
pub const MAX_SAMPLES: usize = 30 * 60 * SAMPLE_RATE as usize;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid prompt name {0:?} (letters, digits, '_' and '-' only)")]
    BadName(String),
}

/// One prompt, encoded for both G.711 laws.
#[derive(Debug, Clone)]
pub struct Prompt {
    name: String,
    pcmu: Arc<[u8]>,
    pcma: Arc<[u8]>,
}

impl Prompt {
    /// Encodes linear 8 kHz samples (also how tests make prompts).
    pub fn from_pcm(name: impl Into<String>, pcm: &[i16]) -> Prompt {
        let pcmu: Arc<[u8]> = pcm.iter().map(|&s| CodecKind::Pcmu.encode(s)).collect();
        let pcma: Arc<[u8]> = pcm.iter().map(|&s| CodecKind::Pcma.encode(s)).collect();
        Prompt {
            name: name.into(),
            pcmu,
            pcma,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shared encoding for `kind` (a reference-count increment, no copy).
    pub fn encoded(&self, kind: CodecKind) -> Arc<[u8]> {
        match kind {
            CodecKind::Pcmu => Arc::clone(&self.pcmu),
            CodecKind::Pcma => Arc::clone(&self.pcma),
        }
    }

    pub fn samples(&self) -> usize {
        self.pcmu.len()
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples() as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
    }
}

fn format_error(path: &Path, message: impl Into<String>) -> PromptError {
    PromptError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn open(path: &Path) -> Result<hound::WavReader<std::io::BufReader<std::fs::File>>, PromptError> {
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(source) => PromptError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => format_error(path, format!("not a readable WAV file: {other}")),
    })?;
    let spec = reader.spec();
    let mut problems = Vec::new();
    if spec.sample_rate != SAMPLE_RATE {
        problems.push(format!("{} Hz", spec.sample_rate));
    }
    if spec.channels != 1 {
        problems.push(format!("{} channels", spec.channels));
    }
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        problems.push(format!(
            "{}-bit {}",
            spec.bits_per_sample,
            match spec.sample_format {
                hound::SampleFormat::Int => "integer",
                hound::SampleFormat::Float => "float",
            }
        ));
    }
    if !problems.is_empty() {
        return Err(format_error(
            path,
            format!(
                "WAV is {}; prompts must be 8000 Hz mono 16-bit PCM (see scripts/make-prompts.sh)",
                problems.join(", ")
            ),
        ));
    }
    if reader.duration() as usize > MAX_SAMPLES {
        return Err(format_error(path, "prompt longer than 30 minutes"));
    }
    Ok(reader)
}

/// Reads a prompt file's samples after checking its format.
pub fn load_wav(path: &Path) -> Result<Vec<i16>, PromptError> {
    let mut reader = open(path)?;
    reader
        .samples::<i16>()
        .collect::<Result<Vec<i16>, _>>()
        .map_err(|e| format_error(path, format!("truncated or corrupt WAV data: {e}")))
}

/// For `hotline check`: `Err` names the file and what is wrong with it.
pub fn check_wav(path: &Path) -> Result<(), String> {
    open(path).map(|_| ()).map_err(|e| e.to_string())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Prompts loaded from one directory, shared by every call.
#[derive(Debug)]
pub struct PromptCache {
    root: PathBuf,
    loaded: Mutex<HashMap<PathBuf, Arc<Prompt>>>,
}

impl PromptCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        PromptCache {
            root: root.into(),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where prompt `id` of language `lang` lives (for the script validator).
    /// Names are restricted so a script cannot point outside the directory.
    pub fn path_of(&self, lang: &str, id: &str) -> Result<PathBuf, PromptError> {
        for n in [lang, id] {
            if !valid_name(n) {
                return Err(PromptError::BadName(n.to_string()));
            }
        }
        Ok(self.root.join(lang).join(format!("{id}.wav")))
    }

    pub fn moh_path(&self) -> PathBuf {
        self.root.join("moh.wav")
    }

    fn load(&self, path: PathBuf) -> Result<Arc<Prompt>, PromptError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = loaded.get(&path) {
            return Ok(Arc::clone(p));
        }
        // Loaded under the lock so two first callers never parse twice.
        let pcm = load_wav(&path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prompt = Arc::new(Prompt::from_pcm(name, &pcm));
        loaded.insert(path, Arc::clone(&prompt));
        Ok(prompt)
    }

    /// `prompts/<lang>/<id>.wav`, loaded and encoded on first use.
    pub fn get(&self, lang: &str, id: &str) -> Result<Arc<Prompt>, PromptError> {
        let path = self.path_of(lang, id)?;
        self.load(path)
    }

    /// Music on hold: `prompts/moh.wav`, meant to be played in a loop.
    pub fn moh(&self) -> Result<Arc<Prompt>, PromptError> {
        self.load(self.moh_path())
    }

    /// Loads every `<lang>/*.wav` and `moh.wav` under the root; returns how
    /// many prompts are cached. The first bad file stops it with its error.
    pub fn preload(&self) -> Result<usize, PromptError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PromptError::Io { path, source }
        };
        let mut paths = Vec::new();
        for lang in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let lang = lang.map_err(io(&self.root))?.path();
            if !lang.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&lang).map_err(io(&lang))? {
                let f = f.map_err(io(&lang))?.path();
                if f.extension().is_some_and(|e| e == "wav") {
                    paths.push(f);
                }
            }
        }
        let moh = self.moh_path();
        if moh.exists() {
            paths.push(moh);
        }
        paths.sort();
        for p in paths {
            self.load(p)?;
        }
        Ok(self.len())
    }

    pub fn len(&self) -> usize {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the cache (after prompts changed on disk); calls already
    /// playing keep their `Arc`s.
    pub fn clear(&self) {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, bits: u16, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            if bits == 8 {
                w.write_sample((s >> 8) as i8).unwrap();
            } else {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn loads_once_and_shares_encodings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("en")).unwrap();
        let pcm: Vec<i16> = (0..800).map(|i| ((i * 37) % 2000 - 1000) as i16).collect();
        write_wav(&dir.path().join("en/hello.wav"), 8000, 1, 16, &pcm);
        write_wav(&dir.path().join("moh.wav"), 8000, 1, 16, &pcm);
        let cache = PromptCache::new(dir.path());
        let a = cache.get("en", "hello").unwrap();
        let b = cache.get("en", "hello").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(
            &a.encoded(CodecKind::Pcmu),
            &b.encoded(CodecKind::Pcmu)
        ));
        assert_eq!(a.samples(), 800);
        assert_eq!(a.duration(), Duration::from_millis(100));
        let expect: Vec<u8> = pcm.iter().map(|&s| CodecKind::Pcma.encode(s)).collect();
        assert_eq!(&*a.encoded(CodecKind::Pcma), &expect[..]);
        assert_eq!(cache.preload().unwrap(), 2);
        assert_eq!(cache.moh().unwrap().samples(), 800);
    }

    #[test]
    fn wrong_format_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stereo44k.wav");
        write_wav(&p, 44100, 2, 16, &[0; 100]);
        let e = check_wav(&p).unwrap_err();
        assert!(e.contains("stereo44k.wav"), "{e}");
        assert!(e.contains("44100 Hz") && e.contains("2 channels"), "{e}");
        let p8 = dir.path().join("eight.wav");
        write_wav(&p8, 8000, 1, 8, &[0; 100]);
        assert!(check_wav(&p8).unwrap_err().contains("8-bit"));
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF nonsense").unwrap();
        assert!(check_wav(&junk).unwrap_err().contains("junk.wav"));
        let missing = dir.path().join("missing.wav");
        assert!(check_wav(&missing).unwrap_err().contains("missing.wav"));
        let ok = dir.path().join("ok.wav");
        write_wav(&ok, 8000, 1, 16, &[0; 100]);
        assert_eq!(check_wav(&ok), Ok(()));
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let cache = PromptCache::new("/nonexistent");
        assert!(matches!(
            cache.get("en", "../etc/passwd"),
            Err(PromptError::BadName(_))
        ));
        assert!(matches!(cache.get("..", "x"), Err(PromptError::BadName(_))));
        assert!(matches!(cache.get("en", ""), Err(PromptError::BadName(_))));
    }
}
