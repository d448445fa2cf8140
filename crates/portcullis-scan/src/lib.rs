//! Image scanning for Portcullis.
pub mod detect;
pub mod error;
pub mod inventory;
pub mod layer;
pub mod limits;

pub use error::{LimitError, ScanError};
pub use inventory::*;
pub use layer::inventory_of_layer;
pub use limits::Limits;
