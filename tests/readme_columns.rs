//! The README's column lists are the tables' schemas: after each `<!-- columns:TABLE -->`
//! marker, the backquoted names up to the next blank line are the table's columns, in order.

use bttrace::report::schema::{Captures, Flows, Messages, Rsts, Table, Tests, names};
use bttrace::report::weekly::{Days, Speeds, SummaryTable};

/// The names listed after `<!-- columns:NAME -->`, or None when there is no such marker.
fn listed(readme: &str, table: &str) -> Option<Vec<String>> {
    let marker = format!("<!-- columns:{table} -->");
    let at = readme.find(&marker)? + marker.len();
    let block = readme[at..].trim_start_matches('\n');
    let block = block.split("\n\n").next().unwrap_or("");
    Some(
        block
            .split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect(),
    )
}

fn check<K: Table>(readme: &str) {
    let got = listed(readme, K::NAME)
        .unwrap_or_else(|| panic!("README.md has no <!-- columns:{} --> list", K::NAME));
    assert_eq!(
        got,
        names::<K>(),
        "README.md's list of the {} table",
        K::NAME
    );
}

#[test]
fn the_readme_lists_every_tables_columns() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    check::<Captures>(&readme);
    check::<Tests>(&readme);
    check::<Flows>(&readme);
    check::<Rsts>(&readme);
    check::<Messages>(&readme);
    check::<Speeds>(&readme);
    check::<Days>(&readme);
    check::<SummaryTable>(&readme);
    // Every marker names a table checked above.
    let markers = readme.matches("<!-- columns:").count();
    assert_eq!(markers, 8, "README.md has {markers} column lists");
}

#[test]
fn a_list_that_differs_is_caught() {
    let readme = "x\n<!-- columns:rsts -->\n`capture`, `flow`\n\nmore `text`";
    assert_eq!(listed(readme, "rsts").unwrap(), ["capture", "flow"]);
    assert!(listed(readme, "flows").is_none());
}
