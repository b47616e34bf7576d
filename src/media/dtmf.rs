//! DTMF as RFC 4733 telephone-events and as SIP INFO bodies.
//!
//! A key press arrives as a train of event packets that all carry the
//! timestamp of the event start: a start packet (often with the marker),
//! updates with growing duration, and usually three copies of the end packet.
//! Any of them may be lost, duplicated or reordered. The receiver therefore
//! keys an event by (SSRC, timestamp) and reports a key the first time any
//! packet of a new event arrives — so a lost start packet only delays it to
//! the next update, and repeated end packets or late retransmissions of an
//! already-reported event are ignored.

use super::rtp::RtpView;

/// Events 0..=15 of RFC 4733 §3.2 (DTMF).
const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(event as usize).copied()
}

pub fn digit_to_event(digit: char) -> Option<u8> {
    let d = digit.to_ascii_uppercase();
    DIGITS.iter().position(|&c| c == d).map(|i| i as u8)
}

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    /// Power level in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far, in timestamp units (8 kHz samples).
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        match payload {
            [event, flags, d0, d1, ..] => Some(TelephoneEvent {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3F,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => None,
        }
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        let flags = (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3F);
        [self.event, flags, d[0], d[1]]
    }
}

/// How many recent events are remembered to suppress retransmissions; a
/// retransmission older than this many key presses is not plausible.
const HISTORY: usize = 8;

/// Turns telephone-event packets into key presses, each reported once.
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    payload_type: u8,
    /// (ssrc, timestamp) of recently reported events, oldest overwritten.
    seen: [Option<(u32, u32)>; HISTORY],
    next_slot: usize,
}

impl DtmfReceiver {
    /// `payload_type`: the telephone-event payload type from the SDP.
    pub fn new(payload_type: u8) -> Self {
        DtmfReceiver {
            payload_type,
            seen: [None; HISTORY],
            next_slot: 0,
        }
    }

    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Feeds one received RTP packet. Returns the key the first time a
    /// packet of a new event is seen; `None` for audio, other payload types,
    /// unknown events (tones, flash) and every later packet of the same event.
    pub fn on_packet(&mut self, payload_type: u8, packet: &RtpView<'_>) -> Option<char> {
        if payload_type != self.payload_type {
            return None;
        }
        let ev = TelephoneEvent::parse(packet.payload)?;
        let digit = event_to_digit(ev.event)?;
        let key = (packet.ssrc, packet.timestamp);
        if self.seen.contains(&Some(key)) {
            return None;
        }
        if let Some(slot) = self.seen.get_mut(self.next_slot) {
            *slot = Some(key);
        }
        self.next_slot = (self.next_slot + 1) % HISTORY;
        Some(digit)
    }
}

/// One packet of an outgoing event: marker and payload; every packet of the
/// event uses the event's start timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    pub marker: bool,
    pub payload: [u8; 4],
}

/// Builds the packet train for one key press: a start packet (marker), one
/// update every 20 ms (160 samples) while the key is held, and the end
/// packet sent three times (RFC 4733 §2.5.1.4). Returns `None` for a
/// character that is not a DTMF key.
pub fn event_packets(digit: char, duration_ms: u16, volume: u8) -> Option<Vec<EventPacket>> {
    let event = digit_to_event(digit)?;
    let total = u32::from(duration_ms)
        .saturating_mul(8)
        .min(u32::from(u16::MAX)) as u16;
    let mut out = Vec::new();
    let mut d: u16 = 0;
    loop {
        d = d.saturating_add(160).min(total.max(160));
        let end = d >= total;
        let payload = TelephoneEvent {
            event,
            end,
            volume,
            duration: d,
        }
        .to_bytes();
        let marker = out.is_empty();
        if end {
            for _ in 0..3 {
                out.push(EventPacket { marker, payload });
            }
            break;
        }
        out.push(EventPacket { marker, payload });
    }
    Some(out)
}

/// Row and column frequencies (Hz) of each key (ITU-T Q.23).
fn key_frequencies(digit: char) -> Option<(f32, f32)> {
    const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const LAYOUT: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    let d = digit.to_ascii_uppercase();
    LAYOUT.iter().zip(ROWS).find_map(|(row, low)| {
        let col = row.chars().position(|c| c == d)?;
        COLS.get(col).map(|&high| (low, high))
    })
}

/// The in-band tone of a key, 8 kHz PCM: `tone_ms` of the two sines
/// (each about -9 dBm0, well inside Q.24 detection limits) followed by
/// `pause_ms` of silence so that back-to-back keys stay separate. For a
/// phone that did not negotiate telephone-event.
pub fn tone_pcm(digit: char, tone_ms: u16, pause_ms: u16) -> Option<Vec<i16>> {
    let (low, high) = key_frequencies(digit)?;
    let tone = usize::from(tone_ms) * 8;
    let total = tone + usize::from(pause_ms) * 8;
    let step = |f: f32| 2.0 * std::f32::consts::PI * f / 8000.0;
    Some(
        (0..total)
            .map(|n| {
                if n >= tone {
                    return 0;
                }
                let t = n as f32;
                let v = (step(low) * t).sin() + (step(high) * t).sin();
                (v * 7000.0) as i16
            })
            .collect(),
    )
}

/// Reads a key from a SIP INFO body: `application/dtmf-relay`
/// (`Signal=5\r\nDuration=160`) or `application/dtmf` (just the key, or its
/// event number). Content-Type parameters and case are ignored.
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Option<char> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body).ok()?;
    match mime.as_str() {
        "application/dtmf-relay" => text.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            if k.trim().eq_ignore_ascii_case("signal") {
                parse_key(v.trim())
            } else {
                None
            }
        }),
        "application/dtmf" => parse_key(text.trim()),
        _ => None,
    }
}

fn parse_key(v: &str) -> Option<char> {
    let mut chars = v.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => digit_to_event(c).and(Some(c.to_ascii_uppercase())),
        // Some phones send the event number, e.g. "11" for '#'.
        _ => v.parse::<u8>().ok().and_then(event_to_digit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(pt: u8, ts: u32, payload: &[u8]) -> RtpView<'_> {
        RtpView {
            payload_type: pt,
            marker: false,
            sequence: 0,
            timestamp: ts,
            ssrc: 1,
            payload,
        }
    }

    #[test]
    fn each_event_once_despite_repeats_and_retransmissions() {
        let mut rx = DtmfReceiver::new(101);
        let mut got = Vec::new();
        for (i, digit) in "159#*D".chars().enumerate() {
            let ts = 1000 + i as u32 * 4000;
            for p in event_packets(digit, 100, 10).unwrap() {
                got.extend(rx.on_packet(101, &view(101, ts, &p.payload)));
            }
            // A retransmitted end packet of the previous event arrives late.
            if i > 0 {
                let old = event_packets('1', 100, 10).unwrap();
                let last = old.last().unwrap().payload;
                got.extend(rx.on_packet(101, &view(101, ts - 4000, &last)));
            }
        }
        assert_eq!(got, vec!['1', '5', '9', '#', '*', 'D']);
    }

    #[test]
    fn missing_start_packet_still_reports() {
        let mut rx = DtmfReceiver::new(96);
        let pkts = event_packets('7', 120, 10).unwrap();
        let mut got = Vec::new();
        for p in &pkts[2..] {
            got.extend(rx.on_packet(96, &view(96, 5, &p.payload)));
        }
        assert_eq!(got, vec!['7']);
        // Only end packets.
        let mut rx = DtmfReceiver::new(96);
        let end = *pkts.last().unwrap();
        assert_eq!(rx.on_packet(96, &view(96, 9, &end.payload)), Some('7'));
        assert_eq!(rx.on_packet(96, &view(96, 9, &end.payload)), None);
    }

    #[test]
    fn same_key_twice_is_two_events() {
        let mut rx = DtmfReceiver::new(101);
        let p = event_packets('3', 60, 10).unwrap()[0].payload;
        assert_eq!(rx.on_packet(101, &view(101, 100, &p)), Some('3'));
        assert_eq!(rx.on_packet(101, &view(101, 900, &p)), Some('3'));
    }

    #[test]
    fn ignores_audio_short_payloads_and_non_dtmf_events() {
        let mut rx = DtmfReceiver::new(101);
        assert_eq!(rx.on_packet(0, &view(0, 1, &[0, 0, 0, 0])), None);
        assert_eq!(rx.on_packet(101, &view(101, 1, &[1, 2])), None);
        assert_eq!(rx.on_packet(101, &view(101, 2, &[16, 0x80, 0, 160])), None);
    }

    #[test]
    fn packet_train_shape() {
        let pkts = event_packets('5', 100, 10).unwrap();
        assert!(pkts[0].marker);
        assert!(pkts[1..].iter().all(|p| !p.marker));
        let evs: Vec<_> = pkts
            .iter()
            .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
            .collect();
        assert!(evs.iter().all(|e| e.event == 5 && e.volume == 10));
        let ends = evs.iter().filter(|e| e.end).count();
        assert_eq!(ends, 3);
        assert_eq!(evs.last().unwrap().duration, 800);
        assert!(event_packets('x', 100, 10).is_none());
        // A 10 ms press still yields a valid train.
        assert_eq!(event_packets('1', 10, 10).unwrap().len(), 3);
    }

    #[test]
    fn generated_tones_are_detected_as_their_key() {
        use crate::media::inband::InbandDetector;
        for digit in "0123456789*#ABCD".chars() {
            let pcm = tone_pcm(digit, 100, 60).unwrap();
            assert_eq!(pcm.len(), 1280);
            assert!(pcm[800..].iter().all(|&s| s == 0));
            let mut det = InbandDetector::new();
            let mut got = Vec::new();
            det.push(&pcm, |k| got.push(k));
            assert_eq!(got, vec![digit], "{digit}");
        }
        assert!(tone_pcm('x', 100, 60).is_none());
    }

    #[test]
    fn info_bodies() {
        assert_eq!(
            parse_info_body("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
            Some('5')
        );
        assert_eq!(
            parse_info_body("Application/DTMF-Relay; x=y", b"signal= #\nDuration=250"),
            Some('#')
        );
        assert_eq!(
            parse_info_body("application/dtmf-relay", b"Signal=11\r\n"),
            Some('#')
        );
        assert_eq!(parse_info_body("application/dtmf", b"9"), Some('9'));
        assert_eq!(parse_info_body("application/dtmf", b"10\r\n"), Some('*'));
        assert_eq!(parse_info_body("application/dtmf", b"d"), Some('D'));
        assert_eq!(parse_info_body("application/dtmf", b"x"), None);
        assert_eq!(
            parse_info_body("application/dtmf-relay", b"Duration=160"),
            None
        );
        assert_eq!(parse_info_body("text/plain", b"Signal=5"), None);
        assert_eq!(parse_info_body("application/dtmf", &[0xFF, 0xFE]), None);
    }
}
