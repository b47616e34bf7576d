//! The console's two languages. Russian is the default (the institute's
//! staff); English is one click away and remembered in a cookie.
//!
//! Strings live next to the markup that shows them, as `lang.t("…", "…")`
//! pairs, rather than in a key catalogue: a page and its translation are
//! read and changed together, and a missing translation is a compile error
//! (both arguments are required) instead of a blank label at run time.

use axum::http::HeaderMap;

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "hotline_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    /// The Russian or the English text.
    pub fn t(self, ru: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ru => ru,
            Lang::En => en,
        }
    }

    /// `ru` or `en`: the `lang` attribute and the cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language a request asked for in its cookie; Russian without one.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        super::session::cookie(headers, LANG_COOKIE)
            .and_then(Lang::from_code)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn russian_unless_the_cookie_says_english() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::from_headers(&headers), Lang::Ru);
        headers.insert("cookie", HeaderValue::from_static("a=b; hotline_lang=en"));
        assert_eq!(Lang::from_headers(&headers), Lang::En);
        headers.insert("cookie", HeaderValue::from_static("hotline_lang=de"));
        assert_eq!(Lang::from_headers(&headers), Lang::Ru);
        assert_eq!(Lang::En.t("Выход", "Log out"), "Log out");
    }
}
