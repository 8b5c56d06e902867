//! The service catalogue: what the central office publishes and each kiosk offers.
//!
//! [`model`] is the catalogue itself (departments, items, materials, fields, situation
//! questions, bundles, authorisations); [`validate`] refuses an incomplete one; [`plan`] turns a
//! choice and its answers into one merged form and material list; [`form`] checks field values;
//! [`signed`] and [`installed`] carry a signed catalogue to the kiosk and swap it in atomically.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod form;
pub mod installed;
pub mod model;
pub mod plan;
pub mod sample;
pub mod signed;
pub mod validate;

pub use form::FieldError;
pub use installed::Installed;
pub use model::*;
pub use plan::{Answers, Choice, Plan, PlanError, PlannedMaterial};
pub use signed::{
    Algorithm, CatalogueError, Envelope, PublicKey, RemoteConfig, SigningKey, TrustStore,
};
pub use validate::{Problem, Problems};
