//! Page errors: the API's [`Problem`] (one error, one status, one message,
//! whoever asks) rendered as a page, or a redirect to sign in.

use askama::Template;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::api::error::Problem;
use crate::store::StoreError;

/// Why a console request did not get its page.
#[derive(Debug, thiserror::Error)]
pub(super) enum PageError {
    /// No live session: go to the sign-in page.
    #[error("not signed in")]
    SignIn,
    /// What the API would answer, as a page.
    #[error("{}", .0.detail())]
    Problem(Problem),
    /// A template failed to render.
    #[error("cannot render the page: {0}")]
    Render(#[from] askama::Error),
}

impl From<Problem> for PageError {
    fn from(p: Problem) -> Self {
        PageError::Problem(p)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Problem(e.into())
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    code: &'a str,
    detail: &'a str,
}

/// A problem as an HTML page with its status (and `Retry-After`).
fn problem_page(p: &Problem) -> Response {
    let status = p.status();
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        code: p.code(),
        detail: p.detail(),
    };
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, p.detail().to_string()).into_response(),
    };
    if let Some(secs) = p.retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn => Redirect::to("/signin").into_response(),
            PageError::Problem(p) => problem_page(&p),
            PageError::Render(e) => problem_page(&Problem::internal(&e)),
        }
    }
}
