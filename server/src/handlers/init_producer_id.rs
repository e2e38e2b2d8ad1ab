//! InitProducerId for idempotent producers: a new producer id with epoch 0, or, for a producer
//! that sends its id and epoch back (KIP-360, version 3 and later), the same id with the next
//! epoch. Transactional producers are refused: transactions are not supported yet.

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::blocking;
use crate::Broker;
use crate::errors::code;

/// Answers InitProducerId.
pub async fn handle(
    broker: &Arc<Broker>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    // Null asks for an idempotent producer; an empty id is taken the same way.
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !id.0.is_empty())
    {
        response.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return response;
    }
    if request.producer_id.0 >= 0 && request.producer_epoch >= 0 {
        if request.producer_epoch == i16::MAX {
            // The epoch is spent: a new id, as Kafka gives.
        } else {
            response.producer_id = request.producer_id;
            response.producer_epoch = request.producer_epoch + 1;
            return response;
        }
    }
    let broker = Arc::clone(broker);
    match blocking(move || broker.producer_ids.allocate()).await {
        Ok(id) => {
            response.producer_id = ProducerId(id);
            response.producer_epoch = 0;
        }
        Err(_) => response.error_code = code::KAFKA_STORAGE_ERROR,
    }
    response
}
