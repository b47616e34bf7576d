//! hotline: the contact centre of an institute in one binary.
//!
//! The protocol and decision logic live in sans-IO cores (`sip::message`,
//! `sip::transaction`, `sip::registrar`, `sip::digest`) that take inputs and
//! `now` and return actions; the tokio shell (`sip::transport`, `server`) owns
//! sockets and timers. See `ARCHITECTURE` in the README.

pub mod acd;
pub mod api;
pub mod call;
pub mod channels;
pub mod config;
pub mod crm;
pub mod ivr;
pub mod mask;
pub mod media;
pub mod metrics;
pub mod phone;
pub mod report;
pub mod role;
pub mod routing;
pub mod server;
pub mod sip;
pub mod store;
pub mod web;
