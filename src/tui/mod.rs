//! The terminal UI: a face of the same engine as the headless one. The run executes on its
//! own task and talks to the UI through `bridge`; the UI keeps a replica of the engine fed
//! with the same events and draws from it.

pub mod app;
pub mod bridge;
pub mod keymap;
pub mod terminal;
#[cfg(test)]
mod tests;
mod view;
