//! plan tests.
use crate::common::*;
