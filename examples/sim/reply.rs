//! Small response builders shared by the API and the control API.

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// A JSON body with `status`.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// A plain-text body with `status`.
pub fn text(status: StatusCode, body: &str) -> Response {
    warp::reply::with_status(body.to_string(), status).into_response()
}

/// No body.
pub fn empty(status: StatusCode) -> Response {
    warp::reply::with_status(warp::reply(), status).into_response()
}
