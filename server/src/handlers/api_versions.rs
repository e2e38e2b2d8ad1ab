//! ApiVersions: the APIs of [`super::SUPPORTED`].

use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::messages::api_versions_response::ApiVersion;

use crate::errors::code;

/// The answer to every supported version.
pub fn response() -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.api_keys = super::SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = key as i16;
            v.min_version = min;
            v.max_version = max;
            v
        })
        .collect();
    response
}

/// The version-0 answer to a version this server does not know (KIP-511): the error and the
/// list, so the client retries with a version from it.
pub fn unsupported() -> ApiVersionsResponse {
    let mut response = response();
    response.error_code = code::UNSUPPORTED_VERSION;
    response
}
