//! In-band DTMF detection (Goertzel) on 8 kHz linear PCM, for callers whose
//! offer has no telephone-event.
//!
//! Each 20 ms frame (160 samples) is tested at the eight DTMF frequencies.
//! A frame "shows" a key when
//! - the signal is loud enough (about -35 dBm0 or more),
//! - the strongest row and column tones carry most of the frame's energy
//!   (speech and music spread their energy over many frequencies),
//! - each of them stands well above the other tones of its group,
//! - the twist (row vs column level) is within 8 dB normal / 4 dB reverse
//!   (ITU-T Q.24).
//!
//! A key is reported once when two consecutive frames show it (≥ 40 ms
//! present) and not again until a frame without it (released), so a long
//! press is one key and a repeated key needs a pause in between.
//!
//! Frequencies are not on the 50 Hz bins of a 160-sample DFT, so the
//! Goertzel coefficient is computed for the exact frequency (a non-integer
//! bin); the frame is short enough that ±1.5 % tolerance still passes.

const FRAME: usize = 160;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Minimum frame energy (sum of squares): a tone pair at about -35 dBm0
/// (each tone ≈ 450 peak out of 32767) over 160 samples.
const MIN_ENERGY: f32 = 2.0 * 0.5 * 450.0 * 450.0 * FRAME as f32;
/// Share of the frame energy the row + column tones must carry.
const MIN_TONE_SHARE: f32 = 0.55;
/// The best tone of a group must exceed the second best by this ratio (≈ 8 dB).
const MIN_PEAK_RATIO: f32 = 6.3;
/// Row louder than column by at most 8 dB (normal twist).
const MAX_NORMAL_TWIST: f32 = 6.3;
/// Column louder than row by at most 4 dB (reverse twist).
const MAX_REVERSE_TWIST: f32 = 2.5;

fn coefficient(freq: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * freq / 8000.0).cos()
}

/// Goertzel at the eight DTMF frequencies in one pass over the frame: the
/// eight recurrences are independent, so the CPU runs them in parallel
/// instead of waiting on one long dependency chain (≈ 5× faster than eight
/// passes). Each result is scaled so a pure tone returns about its own
/// energy (sum of squares) over the frame.
fn tone_energies(frame: &[f32; FRAME]) -> ([f32; 4], [f32; 4]) {
    let mut coeff = [0f32; 8];
    for (c, f) in coeff.iter_mut().zip(ROWS.iter().chain(COLS.iter())) {
        *c = coefficient(*f);
    }
    let mut s1 = [0f32; 8];
    let mut s2 = [0f32; 8];
    for &x in frame {
        for k in 0..8 {
            let s0 = x + coeff[k] * s1[k] - s2[k];
            s2[k] = s1[k];
            s1[k] = s0;
        }
    }
    let mut e = [0f32; 8];
    for k in 0..8 {
        let power = s1[k] * s1[k] + s2[k] * s2[k] - coeff[k] * s1[k] * s2[k];
        e[k] = 2.0 * power / FRAME as f32;
    }
    ([e[0], e[1], e[2], e[3]], [e[4], e[5], e[6], e[7]])
}

/// Index of the largest value and whether it beats every other by `ratio`.
fn dominant(energies: &[f32; 4], ratio: f32) -> Option<usize> {
    let mut best = 0;
    for i in 1..4 {
        if energies[i] > energies[best] {
            best = i;
        }
    }
    let clear = energies
        .iter()
        .enumerate()
        .all(|(i, &e)| i == best || e * ratio <= energies[best]);
    clear.then_some(best)
}

/// Classifies one 160-sample frame; `None` when no key is clearly present.
pub fn detect_frame(frame: &[i16]) -> Option<char> {
    if frame.len() != FRAME {
        return None;
    }
    let mut x = [0f32; FRAME];
    let mut energy = 0f32;
    for (o, &s) in x.iter_mut().zip(frame) {
        *o = f32::from(s);
        energy += *o * *o;
    }
    if energy < MIN_ENERGY {
        return None;
    }
    let (rows, cols) = tone_energies(&x);
    let r = dominant(&rows, MIN_PEAK_RATIO)?;
    let c = dominant(&cols, MIN_PEAK_RATIO)?;
    let (re, ce) = (rows[r], cols[c]);
    if re > ce * MAX_NORMAL_TWIST || ce > re * MAX_REVERSE_TWIST {
        return None;
    }
    if re + ce < MIN_TONE_SHARE * energy {
        return None;
    }
    KEYS.get(r).and_then(|row| row.get(c)).copied()
}

/// Stateful detector: buffers arbitrary packet sizes into 20 ms frames and
/// applies the duration / release rules.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    buf: [i16; FRAME],
    fill: usize,
    /// Key seen in the previous frame.
    candidate: Option<char>,
    /// Key already reported and not yet released.
    reported: Option<char>,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    pub fn new() -> Self {
        InbandDetector {
            buf: [0; FRAME],
            fill: 0,
            candidate: None,
            reported: None,
        }
    }

    /// Feeds decoded samples (any length); calls `on_digit` for each new key.
    pub fn push(&mut self, mut pcm: &[i16], mut on_digit: impl FnMut(char)) {
        while !pcm.is_empty() {
            let take = (FRAME - self.fill).min(pcm.len());
            let (head, tail) = pcm.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.fill..self.fill + take) {
                dst.copy_from_slice(head);
            }
            self.fill += take;
            pcm = tail;
            if self.fill == FRAME {
                self.fill = 0;
                let frame = self.buf;
                if let Some(d) = self.on_frame(&frame) {
                    on_digit(d);
                }
            }
        }
    }

    /// Feeds exactly one 20 ms frame.
    pub fn on_frame(&mut self, frame: &[i16]) -> Option<char> {
        let key = detect_frame(frame);
        let mut out = None;
        match key {
            Some(k) if self.candidate == Some(k) && self.reported != Some(k) => {
                self.reported = Some(k);
                out = Some(k);
            }
            Some(k) if self.reported.is_some_and(|r| r != k) => {
                // A different key without a gap: treat as release + new press.
                self.reported = None;
            }
            Some(_) => {}
            None => self.reported = None,
        }
        self.candidate = key;
        out
    }

    /// Forgets any partial frame and key state (e.g. after a codec change).
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test signal generator: sum of sines, deterministic noise.
    fn tone(freqs: &[(f32, f32)], ms: usize, phase: f32) -> Vec<i16> {
        (0..ms * 8)
            .map(|n| {
                let t = n as f32 / 8000.0;
                let v: f32 = freqs
                    .iter()
                    .map(|&(f, a)| a * (2.0 * std::f32::consts::PI * f * t + phase).sin())
                    .sum();
                v.clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    fn key_tone(key: char, ms: usize, amp: f32) -> Vec<i16> {
        let (r, c) = (0..4)
            .flat_map(|r| (0..4).map(move |c| (r, c)))
            .find(|&(r, c)| KEYS[r][c] == key)
            .unwrap();
        tone(&[(ROWS[r], amp), (COLS[c], amp)], ms, 0.3)
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        }
    }

    fn detect_all(pcm: &[i16], chunk: usize) -> String {
        let mut d = InbandDetector::new();
        let mut out = String::new();
        for c in pcm.chunks(chunk) {
            d.push(c, |k| out.push(k));
        }
        out
    }

    #[test]
    fn all_sixteen_keys_unaligned() {
        let keys = "123A456B789C*0#D";
        let mut pcm = vec![0i16; 37]; // not frame-aligned
        for k in keys.chars() {
            pcm.extend(key_tone(k, 70, 6000.0));
            pcm.extend(vec![0i16; 8 * 60]);
        }
        assert_eq!(detect_all(&pcm, 160), keys);
        // Packet size other than 20 ms.
        assert_eq!(detect_all(&pcm, 240), keys);
    }

    #[test]
    fn repeated_key_and_long_press() {
        let mut pcm = key_tone('5', 500, 5000.0);
        pcm.extend(vec![0i16; 8 * 50]);
        pcm.extend(key_tone('5', 80, 5000.0));
        assert_eq!(detect_all(&pcm, 160), "55");
    }

    #[test]
    fn too_short_tone_is_ignored() {
        // 20 ms cannot cover two consecutive frames.
        let mut pcm = vec![0i16; 80];
        pcm.extend(key_tone('1', 20, 6000.0));
        pcm.extend(vec![0i16; 800]);
        assert_eq!(detect_all(&pcm, 160), "");
    }

    #[test]
    fn tones_in_noise_and_with_twist() {
        let mut rng = Lcg(7);
        let mut pcm = Vec::new();
        for k in "0123456789*#".chars() {
            pcm.extend(key_tone(k, 80, 4000.0));
            pcm.extend(vec![0i16; 8 * 60]);
        }
        // 20 dB SNR white noise.
        let noisy: Vec<i16> = pcm
            .iter()
            .map(|&s| (s as f32 + 400.0 * rng.next()) as i16)
            .collect();
        assert_eq!(detect_all(&noisy, 160), "0123456789*#");
        // Row 6 dB louder than column: accepted.
        let pcm = tone(&[(852.0, 8000.0), (1336.0, 4000.0)], 100, 0.0);
        assert_eq!(detect_all(&pcm, 160), "8");
        // Column 8 dB louder than row: reverse twist, rejected.
        let pcm = tone(&[(852.0, 2000.0), (1336.0, 5000.0)], 100, 0.0);
        assert_eq!(detect_all(&pcm, 160), "");
    }

    #[test]
    fn frequency_tolerance() {
        // +1.5 %: must detect.
        let pcm = tone(
            &[(697.0 * 1.015, 6000.0), (1209.0 * 1.015, 6000.0)],
            100,
            0.0,
        );
        assert_eq!(detect_all(&pcm, 160), "1");
    }

    #[test]
    fn no_false_positives_on_noise_single_tones_and_speechlike() {
        let mut rng = Lcg(42);
        let noise: Vec<i16> = (0..8000 * 5)
            .map(|_| (8000.0 * rng.next()) as i16)
            .collect();
        assert_eq!(detect_all(&noise, 160), "");
        // A single DTMF frequency (dial tone-ish) is not a key.
        assert_eq!(detect_all(&tone(&[(941.0, 8000.0)], 1000, 0.0), 160), "");
        // Vowel-like: 120-220 Hz gliding fundamental with many harmonics.
        let mut pcm = Vec::new();
        let mut phase = 0f32;
        for n in 0..8000 * 10 {
            let t = n as f32 / 8000.0;
            let f0 = 170.0 + 50.0 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
            phase += 2.0 * std::f32::consts::PI * f0 / 8000.0;
            let v: f32 = (1..=20)
                .map(|h| {
                    let hf = f0 * h as f32;
                    // Formant-ish envelope around 700 and 1200 Hz.
                    let g = (-((hf - 700.0) / 300.0).powi(2)).exp()
                        + 0.7 * (-((hf - 1250.0) / 250.0).powi(2)).exp();
                    g * (phase * h as f32).sin()
                })
                .sum();
            pcm.push((v * 6000.0) as i16);
        }
        assert_eq!(detect_all(&pcm, 160), "");
    }

    #[test]
    fn wrong_frame_length_is_ignored() {
        assert_eq!(detect_frame(&[0; 10]), None);
    }
}
