//! No secret reaches serving's output: started with known keys and passwords (and every store
//! unreachable, so it logs its retries at debug level), none of them appears in anything it
//! prints.

#[test]
fn no_key_or_password_is_ever_printed() {
    test_support::process::assert_no_secret_printed(
        env!("CARGO_BIN_EXE_serving"),
        &[],
        "starting serving",
    );
}
