//! Masking of phone numbers and SIP user parts in logs: client data is
//! confidential (seed §14), so logs show only the last 4 digits.

/// Masks every digit of `s` but the last four: `+7 916 123-45-67` →
/// `+* *** ***-45-67`. Strings with four digits or fewer are returned as is
/// (extensions and service numbers such as `100` are not personal data).
pub fn mask_phone(s: &str) -> String {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if digits <= 4 {
        return s.to_string();
    }
    let mut to_mask = digits - 4;
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() && to_mask > 0 {
                to_mask -= 1;
                '*'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_four_digits() {
        assert_eq!(mask_phone("79161234567"), "*******4567");
        assert_eq!(mask_phone("+7 916 123-45-67"), "+* *** ***-45-67");
        assert_eq!(mask_phone("sip:89161234567@host"), "sip:*******4567@host");
    }

    #[test]
    fn short_numbers_and_logins_untouched() {
        assert_eq!(mask_phone("100"), "100");
        assert_eq!(mask_phone("hotline"), "hotline");
        assert_eq!(mask_phone("1001"), "1001");
    }
}
