//! The other parsers that take outside input: SDP offers and answers from
//! callers' and agents' phones, IVR scripts edited by the head (hot
//! reload), e-mails piped in by the MTA and messenger webhook bodies. The
//! first byte picks the parser; any panic is a bug.
#![no_main]

use hotline::channels::email::IncomingEmail;
use hotline::channels::messenger::MessengerUpdate;
use hotline::media::sdp::{SessionDescription, accept_answer};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest)
                && let Ok(sdp) = SessionDescription::parse(text)
            {
                let _ = sdp.negotiate();
                let _ = accept_answer(&sdp);
            }
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = hotline::ivr::parse::parse(Path::new("fuzz.toml"), text);
            }
        }
        2 => {
            let _ = IncomingEmail::parse(rest);
        }
        _ => {
            let _ = MessengerUpdate::parse(rest);
        }
    }
});
