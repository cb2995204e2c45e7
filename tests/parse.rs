//! parse tests.
use crate::common::*;
