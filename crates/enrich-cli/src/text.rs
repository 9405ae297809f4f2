//! Text from the network made safe for a terminal: the one leaf every printing module and the
//! error type use (it imports nothing from the crate).

/// `text` with control characters (terminal escape sequences included) replaced by `�`.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// A cell for an optional value: cleaned, or `-`.
pub fn cell(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_owned(), clean)
}
