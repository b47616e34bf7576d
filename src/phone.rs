//! Phone numbers as the store keys them: digits only, Russian numbers in
//! the international `7XXXXXXXXXX` form, so `+7 (916) 123-45-67`,
//! `8 916 123 45 67` and `sip:89161234567@pbx;user=phone` are one client.

/// Normalises a number or a SIP/tel URI to digits; `None` when it is not a
/// phone number: no digits at all (`anonymous`, an empty From user), or a
/// user name with letters (`caller1`, `alice2`) whose digits would make a
/// false number and merge unrelated callers into one client.
///
/// Russian conventions (ARCHITECTURE §6): an 11-digit number starting with
/// `8` is the domestic form of `7…`; a 10-digit number starting with `9`
/// is a mobile number dialled without the country code. Anything else
/// (short internal numbers such as `100`, foreign numbers) keeps its digits.
pub fn normalize(raw: &str) -> Option<String> {
    let number = user_part(inside_angle_brackets(raw.trim()));
    // Only what people write around digits: + ( ) - . and spaces.
    if !number
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '(' | ')' | '-' | '.' | ' '))
    {
        return None;
    }
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let normalized = match (digits.len(), digits.as_bytes().first()) {
        (11, Some(b'8')) => format!("7{}", digits.get(1..).unwrap_or_default()),
        (10, Some(b'9')) => format!("7{digits}"),
        _ => digits,
    };
    Some(normalized)
}

/// `"Name" <sip:…>` → `sip:…`: a whole From header value works too.
fn inside_angle_brackets(s: &str) -> &str {
    match s.split_once('<') {
        Some((_, rest)) => rest.split_once('>').map_or(rest, |(uri, _)| uri),
        None => s,
    }
}

/// The number inside a `sip:`/`sips:`/`tel:` URI (user part, without
/// host, parameters or headers); other input is returned as is.
fn user_part(s: &str) -> &str {
    let lower_prefix = |p: &str| {
        s.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    };
    let rest = ["sips:", "sip:", "tel:"]
        .iter()
        .find(|p| lower_prefix(p))
        .and_then(|p| s.get(p.len()..));
    let Some(rest) = rest else {
        return s;
    };
    // sip:user;param@host — the user ends at '@'; tel:+7916;ext=1 at ';'.
    let end = rest.find(['@', ';', '?', '>']).unwrap_or(rest.len());
    rest.get(..end).unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalises_the_forms_callers_arrive_in() {
        let cases: &[(&str, Option<&str>)] = &[
            ("+7 (916) 123-45-67", Some("79161234567")),
            ("89161234567", Some("79161234567")),
            ("8 916 123 45 67", Some("79161234567")),
            ("79161234567", Some("79161234567")),
            ("9161234567", Some("79161234567")),
            ("sip:89161234567@host;user=phone", Some("79161234567")),
            ("SIP:+79161234567@host", Some("79161234567")),
            ("sips:89161234567@host:5061", Some("79161234567")),
            ("tel:+79161234567", Some("79161234567")),
            (
                "tel:+7-916-123-45-67;phone-context=example.ru",
                Some("79161234567"),
            ),
            ("<sip:100@10.0.0.1>", Some("100")),
            (
                "\"Ivan\" <sip:+79161234567@10.0.0.1:5060>;tag=abc",
                Some("79161234567"),
            ),
            ("100", Some("100")),
            ("sip:100@pbx.local", Some("100")),
            // Not Russian: kept as dialled.
            ("+44 20 7946 0958", Some("442079460958")),
            ("84951234567", Some("74951234567")),
            ("anonymous", None),
            ("caller1", None),
            ("sip:alice2@example.org", None),
            ("sip:+7-916-123-45-67@pbx", Some("79161234567")),
            ("sip:anonymous@anonymous.invalid", None),
            ("", None),
            ("  ", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize(raw).as_deref(), *expected, "{raw:?}");
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for raw in ["+7 (916) 123-45-67", "89161234567", "100", "9161234567"] {
            let once = normalize(raw).unwrap();
            assert_eq!(normalize(&once).as_deref(), Some(once.as_str()));
        }
    }
}
