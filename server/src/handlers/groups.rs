//! Consumer-group APIs, which are not supported yet: a client that sends one anyway (none of the
//! clients tested does, as ApiVersions does not list them) gets an answer with
//! `COORDINATOR_NOT_AVAILABLE`, not a closed connection or a hang.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorResponse, HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse,
    ListGroupsResponse, OffsetFetchResponse, RequestKind, ResponseKind, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::errors::code;

/// The APIs answered with an error, at any version kafka-protocol decodes.
pub const REFUSED: &[ApiKey] = &[
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::ListGroups,
    ApiKey::OffsetFetch,
];

const MESSAGE: &str = "consumer groups are not supported yet (docs/server.md)";

/// The refusal of a group request; `None` for any other request.
pub fn refuse(body: &RequestKind, version: i16) -> Option<ResponseKind> {
    let error = code::COORDINATOR_NOT_AVAILABLE;
    Some(match body {
        RequestKind::FindCoordinator(r) => {
            let mut response = FindCoordinatorResponse::default();
            if version >= 4 {
                response.coordinators = r
                    .coordinator_keys
                    .iter()
                    .map(|key| {
                        let mut c = Coordinator::default();
                        c.key = key.clone();
                        c.node_id = kafka_protocol::messages::BrokerId(-1);
                        c.error_code = error;
                        c.error_message = Some(StrBytes::from_static_str(MESSAGE));
                        c
                    })
                    .collect();
            } else {
                response.error_code = error;
                response.node_id = kafka_protocol::messages::BrokerId(-1);
                if version >= 1 {
                    response.error_message = Some(StrBytes::from_static_str(MESSAGE));
                }
            }
            ResponseKind::FindCoordinator(response)
        }
        RequestKind::JoinGroup(_) => {
            let mut response = JoinGroupResponse::default();
            response.error_code = error;
            ResponseKind::JoinGroup(response)
        }
        RequestKind::SyncGroup(_) => {
            let mut response = SyncGroupResponse::default();
            response.error_code = error;
            ResponseKind::SyncGroup(response)
        }
        RequestKind::Heartbeat(_) => {
            let mut response = HeartbeatResponse::default();
            response.error_code = error;
            ResponseKind::Heartbeat(response)
        }
        RequestKind::LeaveGroup(_) => {
            let mut response = LeaveGroupResponse::default();
            response.error_code = error;
            ResponseKind::LeaveGroup(response)
        }
        RequestKind::ListGroups(_) => {
            let mut response = ListGroupsResponse::default();
            response.error_code = error;
            ResponseKind::ListGroups(response)
        }
        RequestKind::OffsetFetch(_) if (2..8).contains(&version) => {
            let mut response = OffsetFetchResponse::default();
            response.error_code = error;
            ResponseKind::OffsetFetch(response)
        }
        RequestKind::OffsetFetch(_) => {
            // Version 1 has no top-level error, version 8 and later answer per group: an
            // empty answer (no committed offsets) is what a client without a group expects.
            ResponseKind::OffsetFetch(OffsetFetchResponse::default())
        }
        _ => return None,
    })
}
