//! G.711 µ-law (PCMU) and A-law (PCMA), bit-exact with the ITU-T G.191
//! reference implementation (`g711.c`).
//!
//! Every conversion is a table lookup: the tables are built at compile time
//! from the reference algorithm, so encoding a prompt costs one load per
//! sample and the code that runs is the code that the tests check for all
//! inputs. Linear samples are 16-bit, left-justified (what `hound` gives).

/// Which G.711 law a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// µ-law, static RTP payload type 0.
    Pcmu,
    /// A-law, static RTP payload type 8.
    Pcma,
}

impl CodecKind {
    /// The static payload type of RFC 3551; SDP may still map a dynamic one.
    pub fn static_payload_type(self) -> u8 {
        match self {
            CodecKind::Pcmu => 0,
            CodecKind::Pcma => 8,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
        }
    }

    /// The code word of a zero sample: what a silent frame is filled with.
    pub fn silence(self) -> u8 {
        match self {
            CodecKind::Pcmu => 0xFF,
            CodecKind::Pcma => 0xD5,
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            CodecKind::Pcmu => ulaw_encode(sample),
            CodecKind::Pcma => alaw_encode(sample),
        }
    }

    pub fn decode(self, code: u8) -> i16 {
        match self {
            CodecKind::Pcmu => ulaw_decode(code),
            CodecKind::Pcma => alaw_decode(code),
        }
    }

    /// Encodes `pcm` into `out`; stops at the shorter of the two.
    pub fn encode_into(self, pcm: &[i16], out: &mut [u8]) {
        for (o, &s) in out.iter_mut().zip(pcm) {
            *o = self.encode(s);
        }
    }

    /// Decodes `codes` into `out`; stops at the shorter of the two.
    pub fn decode_into(self, codes: &[u8], out: &mut [i16]) {
        for (o, &c) in out.iter_mut().zip(codes) {
            *o = self.decode(c);
        }
    }
}

/// µ-law expansion of G.191 `ulaw_expand`.
const fn ulaw_expand_ref(code: u8) -> i16 {
    let sign: i32 = if code < 0x80 { -1 } else { 1 };
    let mantissa = !(code as i32);
    let exponent = (mantissa >> 4) & 0x07;
    let segment = exponent + 1;
    let mantissa = mantissa & 0x0F;
    let step = 4 << segment;
    (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
}

/// µ-law compression of G.191 `ulaw_compress`.
const fn ulaw_compress_ref(sample: i16) -> u8 {
    let lin = sample as i32;
    let mut absno = if lin < 0 {
        ((!lin) >> 2) + 33
    } else {
        (lin >> 2) + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high_nibble = 0x08 - segno;
    let low_nibble = 0x0F - ((absno >> segno) & 0x0F);
    let mut code = (high_nibble << 4) | low_nibble;
    if lin >= 0 {
        code |= 0x80;
    }
    code as u8
}

/// A-law expansion of G.191 `alaw_expand`.
const fn alaw_expand_ref(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let iexp = ix >> 4;
    let mut mant = ix & 0x0F;
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 0x08;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    (if code > 127 { mant } else { -mant }) as i16
}

/// A-law compression of G.191 `alaw_compress`.
const fn alaw_compress_ref(sample: i16) -> u8 {
    let lin = sample as i32;
    let mut ix = if lin < 0 { (!lin) >> 4 } else { lin >> 4 };
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if lin >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

const ULAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_expand_ref(i as u8);
        i += 1;
    }
    t
};

const ALAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_expand_ref(i as u8);
        i += 1;
    }
    t
};

/// µ-law depends only on `sample >> 2` (14 significant bits), so the table
/// is indexed by those bits: 16 KiB, shared by the whole process.
const ULAW_ENCODE: [u8; 16384] = {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        // Index i holds the low 14 bits of `sample >> 2`; rebuild a sample
        // with exactly those bits (sign-extended) and run the reference.
        let v14 = ((i as i32) << 18) >> 18;
        t[i] = ulaw_compress_ref((v14 << 2) as i16);
        i += 1;
    }
    t
};

/// A-law depends only on `sample >> 4` (12 bits + sign): 4 KiB.
const ALAW_ENCODE: [u8; 4096] = {
    let mut t = [0u8; 4096];
    let mut i = 0;
    while i < 4096 {
        let v12 = ((i as i32) << 20) >> 20;
        t[i] = alaw_compress_ref((v12 << 4) as i16);
        i += 1;
    }
    t
};

#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE[((sample >> 2) as u16 & 0x3FFF) as usize]
}

#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE[((sample >> 4) as u16 & 0x0FFF) as usize]
}

#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_reference_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), ulaw_compress_ref(s), "ulaw {s}");
            assert_eq!(alaw_encode(s), alaw_compress_ref(s), "alaw {s}");
        }
    }

    #[test]
    fn known_values() {
        // Well-known points of the G.711 curves (Sun g711.c / ITU tables).
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        // The digital milliwatt sequence (G.711 table 5) starts 0x1E, 0x0B.
        assert_eq!(ulaw_decode(0x1E), -8828);
        assert_eq!(ulaw_decode(0x9E), 8828);
        assert_eq!(ulaw_decode(0x0B), -20860);
    }

    #[test]
    fn all_codes_round_trip() {
        for c in 0..=255u8 {
            let u = ulaw_decode(c);
            // µ-law has two zeros (0x7F and 0xFF); encode picks +0.
            let back = ulaw_encode(u);
            if c == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, c, "ulaw code {c:#04x} -> {u}");
            }
            assert_eq!(alaw_encode(alaw_decode(c)), c, "alaw code {c:#04x}");
        }
    }

    #[test]
    fn decode_is_monotonic_and_symmetric() {
        for c in 0..128u8 {
            assert_eq!(ulaw_decode(c), -ulaw_decode(c | 0x80));
            assert_eq!(alaw_decode(c), -alaw_decode(c | 0x80));
        }
        let mut prev = i16::MIN;
        for c in (0x80..=0xFFu8).rev() {
            let v = ulaw_decode(c);
            assert!(v >= prev);
            prev = v;
        }
    }
}
