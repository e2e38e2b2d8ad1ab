//! How figures, parameters and durability modes are printed, shared by the summary and the
//! plots so the same case reads the same everywhere.

use std::collections::BTreeMap;

use crate::results::ScenarioResult;

/// Printed where a figure is absent (`null` in the results, or no such scenario).
pub const ABSENT: &str = "–";

/// A figure with about three significant digits: 1234, 123, 12.3, 1.23, 0.123.
pub fn num(value: f64) -> String {
    if !value.is_finite() {
        return ABSENT.to_string();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 0.1 || magnitude == 0.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// [`num`] of a figure that may be absent.
pub fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| ABSENT.to_string(), num)
}

/// A ratio, as `3.2x`.
pub fn ratio(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}x")
    } else {
        ABSENT.to_string()
    }
}

/// Parameters as `messages=1000 size=1024`, in key order.
pub fn params(params: &BTreeMap<String, u64>) -> String {
    if params.is_empty() {
        return ABSENT.to_string();
    }
    params
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The durability mode of a scenario; reads have none, and say so.
pub fn durability(durability: Option<&str>) -> &str {
    durability.unwrap_or("n/a: read")
}

/// `write_throughput messages=1000 size=1024`.
pub fn case(scenario: &ScenarioResult) -> String {
    format!("{} {}", scenario.name, params(&scenario.params))
}

/// A byte count as `100 B`, `1 KiB`, `10 KiB`, `1 MiB`.
pub fn bytes(count: u64) -> String {
    const KIB: u64 = 1024;
    if count >= KIB * KIB && count.is_multiple_of(KIB * KIB) {
        format!("{} MiB", count / (KIB * KIB))
    } else if count >= KIB && count.is_multiple_of(KIB) {
        format!("{} KiB", count / KIB)
    } else {
        format!("{count} B")
    }
}

/// Escapes text for Markdown table cells (a `|` would end the cell).
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_about_three_digits() {
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.01234), "0.012");
        assert_eq!(num(0.0), "0.00");
        assert_eq!(opt(None), ABSENT);
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(bytes(100), "100 B");
        assert_eq!(bytes(1024), "1 KiB");
        assert_eq!(bytes(10 * 1024), "10 KiB");
        assert_eq!(bytes(256 * 1024), "256 KiB");
        assert_eq!(bytes(1024 * 1024), "1 MiB");
    }
}
