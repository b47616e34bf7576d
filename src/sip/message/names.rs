//! Canonical header names: compact forms (RFC 3261 §7.3.3 and later RFCs)
//! and case-insensitive matching, reduced to a one-byte id so lookups on the
//! hot path compare integers instead of strings.

/// Id of a well-known header; `EXTENSION` means "compare the name text".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct HeaderId(pub(crate) u8);

impl HeaderId {
    pub(crate) const EXTENSION: HeaderId = HeaderId(0);
}

/// (canonical name, compact form). The index + 1 is the id.
const KNOWN: &[(&str, Option<u8>)] = &[
    ("Via", Some(b'v')),
    ("From", Some(b'f')),
    ("To", Some(b't')),
    ("Call-ID", Some(b'i')),
    ("CSeq", None),
    ("Contact", Some(b'm')),
    ("Content-Length", Some(b'l')),
    ("Max-Forwards", None),
    ("Content-Type", Some(b'c')),
    ("Expires", None),
    ("Authorization", None),
    ("Proxy-Authorization", None),
    ("WWW-Authenticate", None),
    ("Proxy-Authenticate", None),
    ("Route", None),
    ("Record-Route", None),
    ("Content-Encoding", Some(b'e')),
    ("Subject", Some(b's')),
    ("Supported", Some(b'k')),
    ("Event", Some(b'o')),
    ("Refer-To", Some(b'r')),
    ("Referred-By", Some(b'b')),
    ("Session-Expires", Some(b'x')),
    ("Allow-Events", Some(b'u')),
    ("Accept-Contact", Some(b'a')),
    ("Reject-Contact", Some(b'j')),
    ("Request-Disposition", Some(b'd')),
    ("Identity", Some(b'y')),
    ("Identity-Info", Some(b'n')),
    ("Require", None),
    ("Proxy-Require", None),
    ("Unsupported", None),
    ("Allow", None),
    ("Accept", None),
    ("Date", None),
    ("User-Agent", None),
    ("Server", None),
    ("Min-Expires", None),
    ("Retry-After", None),
    ("Warning", None),
];

pub(crate) const VIA: HeaderId = HeaderId(1);
pub(crate) const FROM: HeaderId = HeaderId(2);
pub(crate) const TO: HeaderId = HeaderId(3);
pub(crate) const CALL_ID: HeaderId = HeaderId(4);
pub(crate) const CSEQ: HeaderId = HeaderId(5);
pub(crate) const CONTACT: HeaderId = HeaderId(6);
pub(crate) const CONTENT_LENGTH: HeaderId = HeaderId(7);
pub(crate) const MAX_FORWARDS: HeaderId = HeaderId(8);
pub(crate) const EXPIRES: HeaderId = HeaderId(10);
pub(crate) const DATE: HeaderId = HeaderId(35);

/// Candidate ids per (length, lower-cased first letter), computed at compile
/// time (no lazy initialisation on the hot path), so a lookup compares
/// against at most a few names instead of all of them.
const BUCKET_LENGTHS: usize = 24;
const BUCKET_SLOTS: usize = 4;

fn bucket_index(len: usize, first: u8) -> Option<usize> {
    let letter = first.to_ascii_lowercase();
    (len < BUCKET_LENGTHS && letter.is_ascii_lowercase())
        .then(|| len * 26 + usize::from(letter - b'a'))
}

static BUCKETS: [[u8; BUCKET_SLOTS]; BUCKET_LENGTHS * 26] = {
    let mut table = [[0u8; BUCKET_SLOTS]; BUCKET_LENGTHS * 26];
    let mut i = 0;
    while i < KNOWN.len() {
        let name = KNOWN[i].0.as_bytes();
        let letter = name[0].to_ascii_lowercase();
        assert!(name.len() < BUCKET_LENGTHS && letter.is_ascii_lowercase());
        let bucket = name.len() * 26 + (letter - b'a') as usize;
        let mut slot = 0;
        while table[bucket][slot] != 0 {
            slot += 1;
        }
        table[bucket][slot] = (i + 1) as u8;
        i += 1;
    }
    table
};

/// The known names lower-cased and zero-padded, so a lookup compares them
/// 8 bytes at a time.
const NAME_WORDS: usize = BUCKET_LENGTHS.div_ceil(8);
static LOWER: [[u64; NAME_WORDS]; KNOWN.len()] = {
    let mut table = [[0u64; NAME_WORDS]; KNOWN.len()];
    let mut i = 0;
    while i < KNOWN.len() {
        let name = KNOWN[i].0.as_bytes();
        let mut j = 0;
        while j < name.len() {
            let byte = name[j].to_ascii_lowercase() as u64;
            table[i][j / 8] |= byte << ((j % 8) * 8);
            j += 1;
        }
        i += 1;
    }
    table
};

/// Whether `name` lower-cased equals `known` (from `LOWER`). The caller has
/// matched the length through the bucket, so only the bytes are compared.
fn eq_lowercase(name: &[u8], known: &[u64; NAME_WORDS]) -> bool {
    let mut words = known.iter();
    let mut rest = name;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        if words.next() != Some(&ascii_lowercase_word(u64::from_le_bytes(*chunk))) {
            return false;
        }
        rest = tail;
    }
    if rest.is_empty() {
        return true;
    }
    // The last partial word, assembled byte by byte (zero-padded like LOWER).
    let word = rest
        .iter()
        .rev()
        .fold(0u64, |word, b| (word << 8) | u64::from(*b));
    words.next() == Some(&ascii_lowercase_word(word))
}

/// Lower-cases the ASCII letters of 8 bytes at once (SWAR): a byte gets
/// 0x20 added exactly when it is in `A..=Z`.
fn ascii_lowercase_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = word & !HIGH;
    // High bit set where low7 >= 'A', and where low7 > 'Z'.
    let ge_a = low7 + ONES * u64::from(0x80 - b'A');
    let gt_z = low7 + ONES * u64::from(0x80 - b'Z' - 1);
    let upper = ge_a & !gt_z & !word & HIGH;
    word | (upper >> 2)
}

/// Compact form (lower-cased letter) → id.
static COMPACT: [u8; 26] = {
    let mut table = [0u8; 26];
    let mut i = 0;
    while i < KNOWN.len() {
        if let Some(c) = KNOWN[i].1 {
            table[(c - b'a') as usize] = (i + 1) as u8;
        }
        i += 1;
    }
    table
};

/// Canonicalises a header name as written on the wire (any case, compact
/// or long form). Does not allocate.
pub(crate) fn header_id(name: &[u8]) -> HeaderId {
    let Some(&first) = name.first() else {
        return HeaderId::EXTENSION;
    };
    if name.len() == 1 {
        let lower = first.to_ascii_lowercase();
        let id = lower
            .checked_sub(b'a')
            .and_then(|i| COMPACT.get(usize::from(i)))
            .copied()
            .unwrap_or(0);
        return HeaderId(id);
    }
    let Some(candidates) = bucket_index(name.len(), first).and_then(|b| BUCKETS.get(b)) else {
        return HeaderId::EXTENSION;
    };
    for &id in candidates.iter().take_while(|id| **id != 0) {
        let known = LOWER.get(usize::from(id) - 1);
        if known.is_some_and(|k| eq_lowercase(name, k)) {
            return HeaderId(id);
        }
    }
    HeaderId::EXTENSION
}

#[cfg(test)]
fn id_at(index: usize) -> HeaderId {
    HeaderId(u8::try_from(index + 1).unwrap_or(0))
}

/// Whether a header line named `line_name` (with id `line_id`) is the header
/// the caller asked for (`want_id` computed from `want_name`).
pub(crate) fn same_header(
    line_id: HeaderId,
    line_name: &str,
    want_id: HeaderId,
    want_name: &str,
) -> bool {
    if want_id != HeaderId::EXTENSION {
        line_id == want_id
    } else {
        line_id == HeaderId::EXTENSION && line_name.eq_ignore_ascii_case(want_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_is_found() {
        for (i, (name, _)) in KNOWN.iter().enumerate() {
            assert_eq!(header_id(name.as_bytes()), id_at(i), "{name}");
            assert_eq!(
                header_id(name.to_ascii_uppercase().as_bytes()),
                id_at(i),
                "{name}"
            );
        }
        assert_eq!(header_id(b""), HeaderId::EXTENSION);
        assert_eq!(
            header_id(b"X-Very-Long-Extension-Header-Name"),
            HeaderId::EXTENSION
        );
    }

    #[test]
    fn word_lowercasing_matches_bytewise() {
        for start in (0u16..256).step_by(8) {
            let bytes: Vec<u8> = (start..start + 8).map(|b| b as u8).collect();
            let word = u64::from_le_bytes(bytes.clone().try_into().unwrap());
            let lowered = ascii_lowercase_word(word).to_le_bytes();
            let expected: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
            assert_eq!(lowered.to_vec(), expected, "from {start}");
        }
    }

    #[test]
    fn compact_and_long_forms_share_an_id() {
        assert_eq!(header_id(b"v"), VIA);
        assert_eq!(header_id(b"V"), VIA);
        assert_eq!(header_id(b"vIa"), VIA);
        assert_eq!(header_id(b"i"), CALL_ID);
        assert_eq!(header_id(b"call-id"), CALL_ID);
        assert_eq!(header_id(b"l"), CONTENT_LENGTH);
        assert_eq!(header_id(b"cseq"), CSEQ);
        assert_eq!(header_id(b"MaX-fOrWaRdS"), MAX_FORWARDS);
        assert_eq!(header_id(b"Date"), DATE);
        assert_eq!(header_id(b"C%6Fntact"), HeaderId::EXTENSION);
        assert_eq!(header_id(b"q"), HeaderId::EXTENSION);
        assert_eq!(header_id(b"c"), header_id(b"content-type"));
        assert_eq!(header_id(b"expires"), EXPIRES);
        assert_eq!(header_id(b"y"), header_id(b"Identity"));
        assert_eq!(header_id(b"n"), header_id(b"identity-info"));
    }
}
