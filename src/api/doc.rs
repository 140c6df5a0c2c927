//! What every operation of the OpenAPI document shares, added after the
//! routes are collected: the bearer security scheme applied to each route,
//! the 401/403 answers of the token check, and a description on every
//! response (the status's reason phrase where a handler gave none), so the
//! document validates as OpenAPI.

use axum::http::StatusCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr, ResponseBuilder};

/// The name of the bearer scheme in `components.securitySchemes`.
pub const BEARER: &str = "bearer";

/// Declares the bearer scheme and applies it, with its 401 and 403
/// answers, to every operation; fills empty response descriptions.
pub fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API token: the bootstrap admin token or one made with `dqgate token create`.",
                ))
                .build(),
        ),
    );
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            let responses = &mut op.responses.responses;
            for (code, text) in [
                ("401", "no token, or a token that is not valid"),
                ("403", "the token's role may not do this"),
            ] {
                responses.entry(code.to_string()).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(text)
                            .content(
                                "application/problem+json",
                                utoipa::openapi::ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ProblemJson")))
                                    .build(),
                            )
                            .build(),
                    )
                });
            }
            for (code, response) in responses.iter_mut() {
                if let RefOr::T(r) = response
                    && r.description.is_empty()
                {
                    r.description = code
                        .parse::<u16>()
                        .ok()
                        .and_then(|c| StatusCode::from_u16(c).ok())
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("response")
                        .to_string();
                }
            }
        }
    }
}
