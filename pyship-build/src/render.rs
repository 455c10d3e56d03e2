//! Stage: render the bundle's generated files (placeholder until the shared stage lands).
pub mod linux;
