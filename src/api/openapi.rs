//! The OpenAPI 3.1 document of the API, generated from the handlers' own
//! annotations and types (utoipa), served at `GET /api/v1/openapi.json`,
//! and the Swagger UI at `/api/v1/docs/` with its files built into the
//! binary (no CDN: the console works on an offline network).
//!
//! # Registering a new handler
//!
//! 1. Annotate the handler with `#[utoipa::path(...)]`: method, the full
//!    `path` (`"/api/v1/things/{id}"`), `tag` (one of the tags below, or
//!    add one), `params(...)` for path parameters and query structs,
//!    `request_body = Type`, every response with its `body` (errors use
//!    [`ErrorBody`]), and `security(("bearer" = []))` when it needs a token.
//!    See `agents.rs` for a complete example.
//! 2. Derive `utoipa::ToSchema` on request/response types and
//!    `utoipa::IntoParams` (with `#[into_params(parameter_in = Query)]`) on
//!    query structs. A field whose JSON differs from its Rust type (stored
//!    ms serialised as RFC 3339) gets `#[schema(value_type = String, format = DateTime)]`.
//! 3. Add the handler's path to `paths(...)` in [`ApiDoc`] below (types
//!    reached from a path are registered automatically).
//! 4. Add the route to the list in `tests/openapi.rs`: that test fails
//!    when the document and the router disagree, and CI runs schemathesis
//!    against the document, which catches responses that do not match.

use super::AppState;
use super::error::{ErrorBody, ErrorDetail};
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the document is served; the Swagger UI loads it from here.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Where the Swagger UI is served.
pub const DOCS_PATH: &str = "/api/v1/docs";

/// The document. `ApiDoc::openapi()` builds it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hotline",
        description = "Contact centre API: agents, inquiries from every channel, clients, \
                       reports. Log in with `POST /api/v1/auth/login`, then send \
                       `Authorization: Bearer <token>`. Errors are always \
                       `{\"error\": {\"code\", \"message\", \"fields\"}}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/", description = "This server")),
    paths(
        super::healthz,
        super::auth::login,
        super::auth::logout,
        super::audit::list,
        super::events::stream,
        super::metrics::render,
        super::agents::list,
        super::agents::create,
        super::agents::get,
        super::agents::update,
        super::agents::delete,
        super::inquiries::list,
        super::inquiries::get,
        super::inquiries::create,
        super::inquiries::update,
        super::inquiries::resolve,
        super::inquiries::inform,
        super::recordings::get,
        super::clients::search,
        super::clients::create,
        super::clients::get,
        super::clients::update,
        super::clients::delete,
        super::clients::merge,
        super::clients::history,
        super::clients::set_manager,
        super::clients::clear_manager,
        super::channels::email,
        super::channels::messenger,
        super::reports::summary,
        super::reports::agents,
        super::routing::set_state,
        super::routing::queues,
        super::routing::calls,
        super::routing::transfer,
        super::routing::hangup,
        super::ivr_scripts::list,
        super::ivr_scripts::get,
        super::ivr_scripts::put,
        super::ivr_scripts::versions,
        super::ivr_scripts::version,
        super::ivr_scripts::restore,
        super::ivr_scripts::simulate,
        super::calendar::get,
        super::calendar::put,
    ),
    components(schemas(ErrorBody, ErrorDetail, Health)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "system", description = "Health and the API's own description"),
        (name = "monitoring", description = "Prometheus metrics"),
        (name = "auth", description = "Bearer tokens"),
        (name = "agents", description = "Agents (who are also the API's users) and their phones"),
        (name = "inquiries", description = "Every contact on every channel"),
        (name = "clients", description = "The client database and its history"),
        (name = "channels", description = "E-mail and messenger intake"),
        (name = "reports", description = "Statistics from the event log"),
        (name = "events", description = "The live event stream"),
        (name = "audit", description = "Who read or changed what"),
        (name = "routing", description = "Queues, agent states, live calls"),
        (name = "ivr-scripts", description = "IVR scripts: validated edits, versions, rollback, simulator"),
        (name = "calendar", description = "Working hours and holidays of the IVR's business_hours"),
    )
)]
pub struct ApiDoc;

/// Adds the schemes that `security(...)` refers to: `bearer` (a token from
/// login) and `ingest_token` (the MTA's shared token of the e-mail intake,
/// which cannot log in).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "ingest_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Hotline-Token",
                "The configured `channels.email_ingest_token`",
            ))),
        );
    }
}

/// Body of `/healthz`. Documentation only: the handler writes the same
/// shape with `json!`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    #[schema(example = "ok")]
    status: String,
}

/// The routes of the document and the Swagger UI, to merge into the API's
/// router. The document is built once, here.
pub(super) fn routes() -> Router<AppState> {
    // The default validator badge would ask a public service about the
    // document; "none" keeps the page entirely local.
    let config = Config::default()
        .validator_url("none")
        .persist_authorization(true);
    SwaggerUi::new(DOCS_PATH)
        .url(OPENAPI_PATH, ApiDoc::openapi())
        .config(config)
        .into()
}

#[cfg(test)]
mod tests {
    use super::ApiDoc;
    use utoipa::OpenApi;

    /// `^(a|b)$` for a list of choices.
    fn choice_pattern(choices: &[&str]) -> String {
        format!("^({})$", choices.join("|"))
    }

    /// Patterns written in annotations list the same choices the handlers
    /// accept, so schemathesis (and a client) generate what is valid.
    #[test]
    fn documented_choices_are_the_accepted_ones() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let how = &doc["components"]["schemas"]["InformRequest"]["properties"]["how"];
        assert_eq!(
            how["pattern"],
            choice_pattern(super::super::inquiries::INFORM_WAYS)
        );
        let categories = choice_pattern(crate::ivr::CATEGORIES);
        for request in ["CreateInquiryRequest", "UpdateInquiryRequest"] {
            let category = &doc["components"]["schemas"][request]["properties"]["category"];
            assert_eq!(category["pattern"], categories, "{request}");
        }
        let areas = choice_pattern(&crate::store::MANAGER_AREAS);
        for method in ["put", "delete"] {
            let params =
                &doc["paths"]["/api/v1/clients/{id}/managers/{area}"][method]["parameters"];
            let area = params
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "area")
                .unwrap();
            assert_eq!(area["schema"]["pattern"], areas, "{method}");
        }
    }
}
