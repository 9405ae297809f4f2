//! The [`Adapter`](crate::server::Adapter) implementations, one small file each: the four
//! framework adapters, and a bare hyper server on `enrich-webhook`'s `http` entry point (what a
//! server without an adapter of its own uses), held to the same answers byte for byte.

pub mod actix;
pub mod axum;
pub mod hyper;
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
        AdapterEntry::of::<hyper::HyperAdapter>(),
    ]
}
