//! Stage: the Python runtime of a bundle (placeholder until the shared stage lands).
pub mod linux;
