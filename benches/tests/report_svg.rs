//! The plots are well-formed SVG with their series labelled, with data and without.

use std::path::Path;

use benches::report::inputs::load;
use benches::report::plots;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

fn assert_well_formed(svg: &str) {
    assert!(
        svg.starts_with("<svg"),
        "starts with {:?}",
        &svg[..20.min(svg.len())]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    // Every element is closed: no stray `<` in text, attributes quoted.
    for tag in ["text", "title", "polyline", "circle", "rect"] {
        let opened =
            svg.matches(&format!("<{tag} ")).count() + svg.matches(&format!("<{tag}>")).count();
        let closed = svg.matches(&format!("</{tag}>")).count();
        let self_closed = svg
            .split(&format!("<{tag} "))
            .skip(1)
            .filter(|rest| rest.split('>').next().is_some_and(|t| t.ends_with('/')))
            .count();
        assert_eq!(opened, closed + self_closed, "<{tag}> unbalanced");
    }
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "a coordinate is not finite"
    );
}

#[test]
fn plots_from_the_fixtures_label_their_series() {
    let inputs = load(Path::new(FIXTURES)).expect("fixtures load");
    let all = plots::all(&inputs.runs, inputs.disk_figures());
    assert_eq!(all.len(), 5);
    for (name, svg) in &all {
        assert_well_formed(svg);
        assert!(Path::new(name).extension().is_some_and(|e| e == "svg"));
    }
    let throughput = &all[0].1;
    for label in [
        "io_uring write_throughput (none)",
        "mmap batch_write_throughput (none)",
        "naive write+page cache (none)",
        "1 KiB",
        "10 KiB",
    ] {
        assert!(throughput.contains(label), "throughput plot lacks {label}");
    }
    let latency = &all[1].1;
    for label in [
        "p50",
        "p99",
        "p99.9",
        "io_uring produce_latency 1 KiB sync",
        "mmap fetch_latency 1 KiB none",
    ] {
        assert!(latency.contains(label), "latency plot lacks {label}");
    }
    let scaling = &all[2].1;
    for label in [
        "io_uring concurrent_producers messages=8192 size=1024 (none)",
        "mmap concurrent_consumers messages=50000 size=1024 (n/a: read)",
        "linear",
    ] {
        assert!(scaling.contains(label), "scaling plot lacks {label}");
    }
}

#[test]
fn plots_without_data_are_still_well_formed() {
    for (_, svg) in plots::all(&[], None) {
        assert_well_formed(&svg);
        assert!(svg.contains("no data in this run"));
    }
}
