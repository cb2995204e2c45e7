//! A run as data: the one vocabulary of events a play appends to its journal
//! ([`event`]) and the state of a run as a fold of them ([`state`]), each
//! run of a step with its part of the step's log ([`attempts`]). The
//! play, resume, `runs`, `report`, the shared store and the live view all
//! read a run this way. Nothing here runs a process or touches a file.

pub mod attempts;
pub mod decode;
pub mod event;
pub mod state;

pub use event::{Entry, Event, RunStatus, StepStatus};
pub use state::{RunState, StepState};
