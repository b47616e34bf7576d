//! The frame every console page shares: header with navigation by role,
//! language switch and logout, and the hooks the scripts use (CSRF header
//! for htmx, the live event feed).

use super::i18n::Lang;
use super::session::{CSRF_FIELD, Ctx};
use crate::role::AccessLevel;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// One navigation entry: path, Russian and English label, who sees it.
struct NavItem {
    path: &'static str,
    ru: &'static str,
    en: &'static str,
    min: AccessLevel,
}

const NAV: &[NavItem] = &[
    NavItem {
        path: "/operator",
        ru: "Оператор",
        en: "Operator",
        min: AccessLevel::Manager,
    },
    NavItem {
        path: "/inquiries",
        ru: "Обращения",
        en: "Inquiries",
        min: AccessLevel::Manager,
    },
    NavItem {
        path: "/clients",
        ru: "Клиенты",
        en: "Clients",
        min: AccessLevel::Manager,
    },
    NavItem {
        path: "/board",
        ru: "Монитор",
        en: "Live board",
        min: AccessLevel::Head,
    },
    NavItem {
        path: "/reports",
        ru: "Отчёты",
        en: "Reports",
        min: AccessLevel::Head,
    },
    NavItem {
        path: "/ivr",
        ru: "Голосовое меню",
        en: "Voice menus",
        min: AccessLevel::Head,
    },
    NavItem {
        path: "/admin",
        ru: "Администрирование",
        en: "Administration",
        min: AccessLevel::Admin,
    },
];

/// The hidden form field with the session's CSRF token; every `<form
/// method="post">` in the console includes it.
pub fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf); }
}

/// A full page for a signed-in user. `active` is the navigation path to
/// highlight.
pub fn page(ctx: &Ctx, active: &str, title: &str, body: Markup) -> Markup {
    let lang = ctx.lang;
    let access = ctx.user.access();
    let hx_headers = format!(r#"{{"X-CSRF-Token": "{}"}}"#, ctx.csrf);
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                (head_common(title))
            }
            body hx-headers=(hx_headers) data-login=(ctx.login()) {
                header.top {
                    a.brand href="/" { "hotline" }
                    nav {
                        @for item in NAV.iter().filter(|i| access >= i.min) {
                            a href=(item.path) class=[(item.path == active).then_some("active")] {
                                (lang.t(item.ru, item.en))
                            }
                        }
                    }
                    div.who {
                        span.user title=(ctx.user.0.role.as_str()) { (ctx.user.0.name) " (" (ctx.login()) ")" }
                        (lang_switch(lang))
                        form.inline method="post" action="/logout" {
                            (csrf_field(ctx))
                            button.link type="submit" id="logout" { (lang.t("Выйти", "Log out")) }
                        }
                    }
                }
                main { (body) }
                script src="/static/htmx.min.js" {}
                script src="/static/console.js" {}
            }
        }
    }
}

/// A page without a session (login, errors before sign-in).
pub fn bare_page(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head { (head_common(title)) }
            body.bare {
                header.top {
                    a.brand href="/" { "hotline" }
                    div.who { (lang_switch(lang)) }
                }
                main { (body) }
            }
        }
    }
}

fn head_common(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · hotline" }
        link rel="stylesheet" href="/static/console.css";
        link rel="icon" href=(PreEscaped("data:,"));
    }
}

/// Links to the other language; the server sets the cookie and returns.
fn lang_switch(lang: Lang) -> Markup {
    html! {
        span.lang {
            @if lang == Lang::Ru { b { "RU" } } @else { a href="/lang/ru" id="lang-ru" { "RU" } }
            " · "
            @if lang == Lang::En { b { "EN" } } @else { a href="/lang/en" id="lang-en" { "EN" } }
        }
    }
}
