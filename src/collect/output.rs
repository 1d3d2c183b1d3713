//! What a collection publishes: files for the transfer engine, each with the kind the report counts it under.

use crate::transfer::{Item, Planned};

/// What an output is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A collected file under its own name (or its compressed sibling).
    Original,
    /// A hashed copy (or its compressed sibling).
    Hashed,
    /// `staticfiles.json`.
    Manifest,
}

/// One file to publish; its MD5 is always known (collected files are hashed when read).
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub item: Item,
    pub kind: Kind,
}

impl Planned for Output {
    fn item(&self) -> &Item {
        &self.item
    }

    fn item_mut(&mut self) -> &mut Item {
        &mut self.item
    }
}
