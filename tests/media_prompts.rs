//! The shipped prompts: right format, and no in-band DTMF false positives
//! on speech or hold music (a caller must not "press a key" by listening).

use hotline::media::g711::CodecKind;
use hotline::media::inband::InbandDetector;
use hotline::media::prompts::{PromptCache, check_wav, load_wav};
use std::path::{Path, PathBuf};

fn prompts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")
}

fn all_wavs() -> Vec<PathBuf> {
    let root = prompts_dir();
    let mut out = vec![root.join("moh.wav")];
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "wav") {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn shipped_prompts_have_the_right_format() {
    for wav in all_wavs() {
        assert_eq!(check_wav(&wav), Ok(()));
    }
    let cache = PromptCache::new(prompts_dir());
    let moh = cache.moh().unwrap();
    let secs = moh.duration().as_secs();
    assert!((20..=30).contains(&secs), "hold music loop is {secs} s");
    assert!(cache.preload().unwrap() >= 1);
}

#[test]
fn no_dtmf_detected_in_prompts() {
    for wav in all_wavs() {
        let pcm = load_wav(&wav).unwrap();
        // As the caller's phone would send it back: through G.711.
        for kind in [CodecKind::Pcmu, CodecKind::Pcma] {
            let coded: Vec<i16> = pcm.iter().map(|&s| kind.decode(kind.encode(s))).collect();
            let mut det = InbandDetector::new();
            let mut keys = String::new();
            det.push(&coded, |k| keys.push(k));
            assert!(
                keys.is_empty(),
                "{}: false keys {keys:?} ({kind:?})",
                wav.display()
            );
        }
    }
}
