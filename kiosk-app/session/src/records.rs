//! What the store knows of the citizen on the card, gathered for [`crate::Effect::Lookup`].

use crate::input::{Record, Records};
use application::Status;
use catalogue::Catalogue;
use kiosk_store::{Store, StoreError};

/// The citizen's earlier form values, reusable materials and applications.
pub fn lookup(
    store: &Store,
    catalogue: &Catalogue,
    id_number: &str,
    now_ms: i64,
) -> Result<Records, StoreError> {
    let applications = store
        .applications_of(id_number)?
        .into_iter()
        .map(|(number, _)| {
            let a = store.application(&number)?;
            Ok(Record {
                status: a.status().cloned().unwrap_or(Status::Saved),
                items: a.items.clone(),
                saved_at_ms: a.saved_at_ms,
                number,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Records {
        earlier: store.earlier_values(catalogue, id_number)?,
        reusable: store.reusable_materials(id_number, now_ms)?,
        applications,
    })
}
