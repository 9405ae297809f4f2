//! The committed `schema/` files must match a fresh generation, so a plain `cargo test` fails
//! when someone changes the types and forgets `cargo xtask schema`.

use xtask::schema::{check, drift_message, generate, schema_dir};

#[test]
fn committed_schema_files_match_a_fresh_generation() {
    let files = generate().expect("the published schemas render to a reference");
    let drift = check(&schema_dir(), &files).expect("schema/ is readable");
    assert!(drift.is_empty(), "{}", drift_message(&drift));
}

#[test]
fn check_names_changed_missing_and_stale_files() {
    let dir = std::env::temp_dir().join(format!("xtask-schema-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = generate().unwrap();
    xtask::schema::write(&dir, &files).unwrap();
    assert!(check(&dir, &files).unwrap().is_empty());

    let changed = &files[0].file_name;
    let missing = &files[1].file_name;
    std::fs::write(dir.join(changed), "{}\n").unwrap();
    std::fs::remove_file(dir.join(missing)).unwrap();
    std::fs::write(dir.join("old.schema.json"), "{}\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a schema\n").unwrap();

    let drift: Vec<String> = check(&dir, &files)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        drift,
        [
            format!("schema/{changed} would change"),
            format!("schema/{missing} is missing"),
            "schema/old.schema.json is stale (no longer generated)".to_owned(),
        ]
    );

    // Writing repairs all three and leaves unrelated files alone.
    xtask::schema::write(&dir, &files).unwrap();
    assert!(check(&dir, &files).unwrap().is_empty());
    assert!(dir.join("notes.txt").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generate().unwrap(), generate().unwrap());
}
