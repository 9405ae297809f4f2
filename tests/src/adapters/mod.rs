//! The four [`Adapter`](crate::server::Adapter) implementations, one small file each.

pub mod actix;
pub mod axum;
pub mod poem;
pub mod rocket;

use crate::server::AdapterEntry;

/// Every adapter under test, in the order failures are reported.
pub fn all() -> Vec<AdapterEntry> {
    vec![
        AdapterEntry::of::<axum::AxumAdapter>(),
        AdapterEntry::of::<rocket::RocketAdapter>(),
        AdapterEntry::of::<poem::PoemAdapter>(),
        AdapterEntry::of::<actix::ActixAdapter>(),
    ]
}
