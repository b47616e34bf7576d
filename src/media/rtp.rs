//! RTP packets (RFC 3550): a borrowed view of a received packet and the
//! sending side's SSRC / sequence / timestamp / marker bookkeeping.
//!
//! Parsing goes through `rtp-types` (zero-copy, checks version, CSRC count,
//! extension and padding lengths against the buffer). Building writes the
//! header straight into the caller's buffer, so sending allocates nothing.

use rand::Rng;
use rtp_types::RtpPacketBuilder;

/// Fixed RTP header without CSRCs or extension: what we send.
pub const HEADER_LEN: usize = 12;

/// A received RTP packet, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("not an RTP packet: {0}")]
    Malformed(String),
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// Parses one datagram. Anything that is not RTP version 2 with consistent
/// lengths is an error (RTCP on the same port is rejected by its payload
/// types 72..=76 when the mux bit layout makes them look like RTP).
pub fn parse(datagram: &[u8]) -> Result<RtpView<'_>, RtpError> {
    let p =
        rtp_types::RtpPacket::parse(datagram).map_err(|e| RtpError::Malformed(e.to_string()))?;
    let payload_type = p.payload_type();
    // RTCP packet types 200..=204 appear as marker + PT 72..=76 (RFC 5761 §4).
    if (72..=76).contains(&payload_type) {
        return Err(RtpError::Malformed("RTCP packet type".into()));
    }
    // `payload()` borrows the parser; slice the datagram ourselves so the
    // view lives as long as the receive buffer.
    let start = p.payload_offset();
    let payload = start
        .checked_add(p.payload_len())
        .and_then(|end| datagram.get(start..end))
        .ok_or_else(|| RtpError::Malformed("payload out of bounds".into()))?;
    Ok(RtpView {
        payload_type,
        marker: p.marker_bit(),
        sequence: p.sequence_number(),
        timestamp: p.timestamp(),
        ssrc: p.ssrc(),
        payload,
    })
}

/// Writes a 12-byte header and `payload` into `out`; returns the length.
pub fn write_packet(
    out: &mut [u8],
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Result<usize, RtpError> {
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(payload_type & 0x7F)
        .marker_bit(marker)
        .sequence_number(sequence)
        .timestamp(timestamp)
        .ssrc(ssrc)
        .payload(payload)
        .write_into(out)
        .map_err(|_| RtpError::BufferTooSmall)
}

/// The sending side of one RTP stream: one SSRC, one sequence space and one
/// media clock shared by audio and RFC 4733 events.
///
/// The timestamp follows the wall clock in 8 kHz units: it advances by the
/// frame length for every 20 ms frame slot, whether a packet went out in that
/// slot or not, so the receiver's jitter buffer sees real gaps. The marker is
/// set on the first packet after a gap (the start of a talk-spurt, RFC 3551 §4.1).
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    payload_type: u8,
    talkspurt_start: bool,
}

impl RtpSender {
    /// Random SSRC, sequence and timestamp start (RFC 3550 §5.1), so a
    /// restarted call cannot be confused with the previous one.
    pub fn new(payload_type: u8) -> Self {
        let mut rng = rand::thread_rng();
        Self::with_initial(payload_type, rng.r#gen(), rng.r#gen(), rng.r#gen())
    }

    /// Deterministic start values, for tests.
    pub fn with_initial(payload_type: u8, ssrc: u32, sequence: u16, timestamp: u32) -> Self {
        RtpSender {
            ssrc,
            sequence,
            timestamp,
            payload_type,
            talkspurt_start: true,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }
    /// Sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }
    /// Timestamp of the next frame slot.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// A re-INVITE may change the payload type; SSRC and clocks continue.
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type;
    }

    /// Writes one audio frame of `payload.len()` samples (G.711: one byte per
    /// sample) for the current slot and advances to the next slot.
    pub fn write_audio(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        let n = write_packet(
            out,
            self.payload_type,
            self.talkspurt_start,
            self.sequence,
            self.timestamp,
            self.ssrc,
            payload,
        )?;
        self.talkspurt_start = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(payload.len() as u32);
        Ok(n)
    }

    /// Lets `samples` of media time pass without sending; the next audio
    /// packet starts a new talk-spurt (marker set).
    pub fn skip(&mut self, samples: u32) {
        if samples > 0 {
            self.timestamp = self.timestamp.wrapping_add(samples);
            self.talkspurt_start = true;
        }
    }

    /// Lets `samples` of media time pass without marking a talk-spurt:
    /// relayed audio whose source lost a packet, or the slots an RFC 4733
    /// event occupies (the event packets carry their start timestamp).
    pub fn advance_timestamp(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// Moves the timestamp forward to `target` if it is behind it (modulo
    /// 2^32, RFC 3550 serial arithmetic), never backwards: a stream that
    /// switches between local prompts and relayed audio keeps a monotonic
    /// media clock even when one source ran ahead of the wall clock.
    pub fn catch_up_to(&mut self, target: u32) {
        let behind = target.wrapping_sub(self.timestamp);
        if behind != 0 && behind < 1 << 31 {
            self.timestamp = target;
        }
    }

    /// Marks the next audio packet as the start of a talk-spurt (a new
    /// prompt after silence).
    pub fn start_talkspurt(&mut self) {
        self.talkspurt_start = true;
    }

    /// Writes a packet with an explicit payload type, marker and timestamp
    /// in this stream's sequence space (RFC 4733 events keep the timestamp
    /// of the event start for every packet of the event).
    pub fn write_event(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let n = write_packet(
            out,
            payload_type,
            marker,
            self.sequence,
            timestamp,
            self.ssrc,
            payload,
        )?;
        self.sequence = self.sequence.wrapping_add(1);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse() {
        let mut buf = [0u8; 200];
        let n = write_packet(
            &mut buf,
            0,
            true,
            65535,
            0xFFFF_FF00,
            0xDEAD_BEEF,
            &[1, 2, 3],
        )
        .unwrap();
        assert_eq!(n, 15);
        assert_eq!(&buf[..2], &[0x80, 0x80]);
        let p = parse(&buf[..n]).unwrap();
        assert_eq!(
            p,
            RtpView {
                payload_type: 0,
                marker: true,
                sequence: 65535,
                timestamp: 0xFFFF_FF00,
                ssrc: 0xDEAD_BEEF,
                payload: &[1, 2, 3]
            }
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x80; 11]).is_err());
        assert!(parse(&[0x40; 20]).is_err()); // version 1
        // CSRC count 15 but no room for them.
        let mut b = [0u8; 20];
        b[0] = 0x8F;
        assert!(parse(&b).is_err());
        // padding larger than the packet
        let mut b = [0u8; 13];
        b[0] = 0xA0;
        b[12] = 200;
        assert!(parse(&b).is_err());
        // RTCP sender report (PT 200) on the RTP port
        let mut b = [0u8; 28];
        b[0] = 0x80;
        b[1] = 200;
        assert!(parse(&b).is_err());
    }

    #[test]
    fn parses_csrc_and_extension() {
        let mut b = vec![0x91, 8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend_from_slice(&[0, 0, 0, 9]); // one CSRC
        b.extend_from_slice(&[0xBE, 0xDE, 0, 1, 1, 2, 3, 4]); // extension, 1 word
        b.extend_from_slice(&[0xD5; 4]);
        let p = parse(&b).unwrap();
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.payload, &[0xD5; 4]);
    }

    #[test]
    fn sender_advances_and_marks_talkspurts() {
        let mut s = RtpSender::with_initial(0, 7, 65534, u32::MAX - 100);
        let mut buf = [0u8; 200];
        let frame = [0xFFu8; 160];
        let n = s.write_audio(&frame, &mut buf).unwrap();
        let p = parse(&buf[..n]).unwrap();
        assert!(p.marker);
        assert_eq!(
            (p.sequence, p.timestamp, p.ssrc),
            (65534, u32::MAX - 100, 7)
        );
        let n = s.write_audio(&frame, &mut buf).unwrap();
        let p = parse(&buf[..n]).unwrap();
        assert!(!p.marker);
        assert_eq!((p.sequence, p.timestamp), (65535, 59));
        s.skip(160 * 3);
        let n = s.write_audio(&frame, &mut buf).unwrap();
        let p = parse(&buf[..n]).unwrap();
        assert!(p.marker);
        assert_eq!((p.sequence, p.timestamp), (0, 59 + 160 + 480));
    }

    #[test]
    fn catch_up_only_moves_forward_across_wrap() {
        let mut s = RtpSender::with_initial(0, 7, 0, u32::MAX - 10);
        s.catch_up_to(5);
        assert_eq!(s.timestamp(), 5);
        s.catch_up_to(u32::MAX - 100);
        assert_eq!(s.timestamp(), 5, "never backwards");
        s.advance_timestamp(160);
        assert_eq!(s.timestamp(), 165);
        let mut buf = [0u8; 200];
        let n = s.write_audio(&[0xFF; 160], &mut buf).unwrap();
        // advance_timestamp leaves the marker alone (first packet: set).
        assert!(parse(&buf[..n]).unwrap().marker);
        s.advance_timestamp(160);
        let n = s.write_audio(&[0xFF; 160], &mut buf).unwrap();
        assert!(!parse(&buf[..n]).unwrap().marker);
    }

    #[test]
    fn random_start_values_differ() {
        let a = RtpSender::new(0);
        let b = RtpSender::new(0);
        assert!(
            a.ssrc() != b.ssrc() || a.timestamp() != b.timestamp(),
            "two senders drew identical random starts"
        );
    }
}
