//! The HTTP API's data: request parsing ([`request`]), error bodies ([`error`]) and the
//! OpenAI response shapes ([`response`]).

pub mod error;
pub mod request;
pub mod response;
