//! cli tests.
use crate::common::*;
