//! A request frame's bytes as a client sends them (without the size prefix), through
//! `ringlog_server::handlers::parse` as every connection decodes them. Parsing never panics,
//! never aborts on an allocation sized from a length in the input (kafka-protocol's array
//! decoding is patched to refuse counts beyond the bytes left, see
//! third_party/kafka-protocol/RINGLOG-PATCH.md), and whatever it accepts is an API and version
//! the server serves (`SUPPORTED`) or answers with an error (`groups::REFUSED`).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use kafka_protocol::messages::ApiKey;
use ringlog_server::handlers::{Parsed, decoded_versions, parse};

fuzz_target!(|data: &[u8]| {
    match parse(Bytes::copy_from_slice(data)) {
        Parsed::Request(request) => {
            let key = request.header.request_api_key;
            let version = request.version;
            let listed = ApiKey::try_from(key)
                .ok()
                .and_then(decoded_versions)
                .is_some_and(|(min, max)| (min..=max).contains(&version));
            assert!(listed, "accepted API {key} version {version}, which is not listed");
        }
        // ApiVersions at an unknown version: a whole response frame, size prefix included.
        Parsed::Answer(frame) => {
            let size = i32::from_be_bytes(frame[..4].try_into().unwrap());
            assert_eq!(size as usize, frame.len() - 4);
        }
        Parsed::Close(reason) => assert!(!reason.is_empty()),
    }
});
