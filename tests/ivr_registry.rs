//! Hot reload as an admin meets it: edit, break, delete a script (or
//! re-record a prompt) on a running system, and see which version new calls
//! and calls in progress get. Each test works on its own copy of the shipped
//! `ivr-scripts/` and `prompts/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hotline::ivr::registry::RegistryError;
use hotline::ivr::{ScriptRegistry, spawn_watcher};
use hotline::media::g711::CodecKind;

struct Site {
    _dir: tempfile::TempDir,
    ivr: PathBuf,
    prompts: PathBuf,
}

impl Site {
    fn script(&self) -> PathBuf {
        self.ivr.join("hotline.toml")
    }

    fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.script()).unwrap();
        assert!(text.contains(from), "{from:?} not in the script");
        std::fs::write(self.script(), text.replacen(from, to, 1)).unwrap();
    }

    fn open(&self) -> ScriptRegistry {
        ScriptRegistry::open(&self.ivr, &self.prompts).unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn site() -> Site {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let ivr = dir.path().join("ivr-scripts");
    let prompts = dir.path().join("prompts");
    copy_dir(&repo.join("ivr-scripts"), &ivr);
    copy_dir(&repo.join("prompts"), &prompts);
    Site {
        _dir: dir,
        ivr,
        prompts,
    }
}

fn write_wav(path: &Path, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn the_shipped_flow_answers_its_numbers() {
    let site = site();
    let registry = site.open();
    assert!(registry.problems().is_empty(), "{:?}", registry.problems());
    let by_name = registry.lookup("hotline").expect("flow for `hotline`");
    let by_number = registry.lookup("100").expect("flow for `100`");
    assert!(Arc::ptr_eq(&by_name, &by_number));
    assert_eq!(by_name.flow.name, "hotline");
    assert!(registry.lookup("101").is_none());
    assert!(registry.lookup("").is_none());
    assert_eq!(registry.flows().len(), 1);
    // prompts were loaded once at start and are shared
    assert!(
        registry.prompts().len() >= 28,
        "{}",
        registry.prompts().len()
    );
    let a = registry.prompts().get("ru", "main_menu").unwrap();
    let b = registry.prompts().get("ru", "main_menu").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    // nothing changed on disk: nothing to do
    assert!(registry.check_now().is_none());
}

#[test]
fn an_edit_reaches_new_calls_and_calls_in_progress_keep_their_version() {
    let site = site();
    let registry = site.open();
    let mut changes = registry.subscribe();
    let in_progress = registry.lookup("100").unwrap();

    site.edit(
        "numbers = [\"hotline\", \"100\"]",
        "numbers = [\"hotline\", \"100\", \"200\"]",
    );
    let report = registry.check_now().expect("a change").unwrap();
    assert_eq!(report.replaced, vec![site.script()]);
    assert!(report.added.is_empty() && report.removed.is_empty());
    assert!(changes.has_changed().unwrap());
    changes.mark_unchanged();

    let new_call = registry.lookup("200").expect("the new number works");
    assert!(Arc::ptr_eq(&new_call, &registry.lookup("100").unwrap()));
    assert_eq!(new_call.flow.numbers.len(), 3);
    // the call that started before the edit still walks the old script
    assert_eq!(in_progress.flow.numbers.len(), 2);
    assert!(!in_progress.source.text.contains("\"200\""));
    // seen once, not again
    assert!(registry.check_now().is_none());
    assert!(!changes.has_changed().unwrap());
}

#[test]
fn a_broken_edit_is_refused_with_positions_and_the_old_version_stays() {
    let site = site();
    let registry = site.open();
    let before = registry.lookup("hotline").unwrap();
    let changes = registry.subscribe();

    // a menu key that leads to a node that does not exist
    site.edit("\"0\" = \"operator\"", "\"0\" = \"operatr\"");
    let problems = registry.check_now().expect("a change").unwrap_err();
    let file = site.script().display().to_string();
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let text = std::fs::read_to_string(site.script()).unwrap();
    let line = text.lines().position(|l| l.contains("operatr")).unwrap() + 1;
    let col = text
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("\"operatr\"")
        .unwrap()
        + 1;
    assert_eq!(
        lines[0],
        format!("{file}:{line}:{col}: unknown node `operatr`")
    );
    assert_eq!(registry.problems(), problems);

    // new calls still get the last good version
    assert!(Arc::ptr_eq(&registry.lookup("hotline").unwrap(), &before));
    assert!(!changes.has_changed().unwrap());

    // fixing it brings the edit live and clears the problems
    site.edit("\"0\" = \"operatr\"", "\"0\" = \"graduates\"");
    let report = registry.check_now().expect("a change").unwrap();
    assert_eq!(report.replaced, vec![site.script()]);
    assert!(registry.problems().is_empty());
    let after = registry.lookup("hotline").unwrap();
    assert!(!Arc::ptr_eq(&after, &before));
    assert!(after.source.text.contains("\"0\" = \"graduates\""));
}

#[test]
fn a_syntax_error_is_refused_too() {
    let site = site();
    let registry = site.open();
    let before = registry.lookup("100").unwrap();
    site.edit("[nodes.operator]", "[nodes.operator");
    let problems = registry.reload().unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].file.ends_with("hotline.toml"),
        "{}",
        problems[0]
    );
    assert!(Arc::ptr_eq(&registry.lookup("100").unwrap(), &before));
}

#[test]
fn deleting_a_script_removes_its_flow_and_a_new_file_adds_one() {
    let site = site();
    let registry = site.open();
    let text = std::fs::read_to_string(site.script()).unwrap();
    let other = site.ivr.join("night.toml");
    std::fs::write(
        &other,
        text.replace("name = \"hotline\"", "name = \"night\"")
            .replace("numbers = [\"hotline\", \"100\"]", "numbers = [\"300\"]"),
    )
    .unwrap();
    let report = registry.check_now().unwrap().unwrap();
    assert_eq!(report.added, vec![other.clone()]);
    assert_eq!(report.unchanged, 1);
    assert_eq!(registry.lookup("300").unwrap().flow.name, "night");

    let in_progress = registry.lookup("300").unwrap();
    std::fs::remove_file(&other).unwrap();
    let report = registry.check_now().unwrap().unwrap();
    assert_eq!(report.removed, vec![other]);
    assert!(registry.lookup("300").is_none());
    assert!(registry.lookup("100").is_some());
    assert_eq!(
        in_progress.flow.name, "night",
        "a call in progress is unaffected"
    );
}

#[test]
fn a_new_script_cannot_take_a_number_from_a_live_flow() {
    let site = site();
    let registry = site.open();
    let before = registry.lookup("100").unwrap();
    let text = std::fs::read_to_string(site.script()).unwrap();
    // sorts before hotline.toml, so file order alone would let it win
    let thief = site.ivr.join("aaa.toml");
    std::fs::write(
        &thief,
        text.replace("name = \"hotline\"", "name = \"thief\"")
            .replace("numbers = [\"hotline\", \"100\"]", "numbers = [\"100\"]"),
    )
    .unwrap();
    let problems = registry.check_now().unwrap().unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .message
            .starts_with("number `100` is already used by "),
        "{}",
        problems[0]
    );
    assert_eq!(problems[0].file, thief.display().to_string());
    assert!(Arc::ptr_eq(&registry.lookup("100").unwrap(), &before));
}

#[test]
fn a_changed_wav_is_re_encoded_and_a_broken_one_refuses_the_script() {
    let site = site();
    let registry = site.open();
    let old = registry.prompts().get("ru", "greeting").unwrap();
    let wav = site.prompts.join("ru/greeting.wav");
    let pcm: Vec<i16> = (0..1600).map(|i| ((i * 97) % 4000 - 2000) as i16).collect();
    write_wav(&wav, &pcm);
    let report = registry.check_now().expect("the WAV changed").unwrap();
    assert!(report.is_empty(), "no flow changed: {report:?}");
    let new = registry.prompts().get("ru", "greeting").unwrap();
    assert!(!Arc::ptr_eq(&old, &new));
    assert_eq!(new.samples(), 1600);
    let expected: Vec<u8> = pcm.iter().map(|&s| CodecKind::Pcmu.encode(s)).collect();
    assert_eq!(&*new.encoded(CodecKind::Pcmu), &expected[..]);
    // a call already playing the old prompt keeps its audio
    assert_ne!(old.samples(), new.samples());

    // a prompt replaced by a wrong format: the script no longer validates,
    // so the reload refuses it (with the file named) and the flow stays
    let before = registry.lookup("100").unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for _ in 0..200 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let problems = registry.check_now().unwrap().unwrap_err();
    assert!(
        problems
            .iter()
            .all(|p| p.message.contains("44100 Hz") && p.message.contains("greeting.wav")),
        "{problems:#?}"
    );
    assert!(Arc::ptr_eq(&registry.lookup("100").unwrap(), &before));
}

#[test]
fn a_missing_directory_is_a_clear_error_at_start() {
    let site = site();
    let missing = site.ivr.join("nope");
    let err = ScriptRegistry::open(&missing, &site.prompts).unwrap_err();
    let RegistryError::MissingDir { path, .. } = &err;
    assert_eq!(path, &missing);
    let message = err.to_string();
    assert!(message.starts_with("IVR script directory "), "{message}");
    assert!(message.contains("--ivr-dir or paths.ivr_dir"), "{message}");

    let err = ScriptRegistry::open(&site.ivr, site.prompts.join("nope")).unwrap_err();
    assert!(err.to_string().contains("--prompts-dir"), "{err}");
}

#[test]
fn invalid_scripts_at_start_are_left_out_and_reported() {
    let site = site();
    std::fs::write(site.ivr.join("broken.toml"), "[flow]\nname = 1\n").unwrap();
    let registry = site.open();
    assert!(registry.lookup("100").is_some(), "the valid flow serves");
    let problems = registry.problems();
    assert!(!problems.is_empty());
    assert!(problems.iter().all(|p| p.file.ends_with("broken.toml")));
}

#[tokio::test]
async fn the_watcher_reloads_on_its_own_and_stops_when_told() {
    let site = site();
    let registry = Arc::new(site.open());
    let mut changes = registry.subscribe();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = spawn_watcher(Arc::clone(&registry), Duration::from_millis(20), stop_rx);
    site.edit(
        "numbers = [\"hotline\", \"100\"]",
        "numbers = [\"hotline\", \"100\", \"555\"]",
    );
    tokio::time::timeout(Duration::from_secs(10), changes.changed())
        .await
        .expect("the watcher saw the edit")
        .unwrap();
    assert!(registry.lookup("555").is_some());
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .expect("the watcher stopped")
        .unwrap();
}

#[tokio::test]
async fn a_zero_interval_watcher_only_waits_for_stop() {
    let site = site();
    let registry = Arc::new(site.open());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = spawn_watcher(registry, Duration::ZERO, stop_rx);
    drop(stop_tx);
    tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .expect("the watcher stopped")
        .unwrap();
}
