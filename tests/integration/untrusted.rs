//! Issue 13, defect 6: messages that quote archive or registry content print control
//! characters escaped, so that a member name or a registry's words cannot clear or
//! recolour the user's terminal.

use std::io::Write;
use strata_tests::registry::read_request;
use strata_tests::*;

#[test]
fn a_member_name_with_an_escape_sequence_is_printed_escaped() {
    let env = Env::new();
    let name = b"../\x1b[2J\x1b[31mevil";
    let tar = TarBuilder::new()
        .entry(&RawHeader::new(&name[..], kind::FILE).size(3), b"abc")
        .finish();
    let file = env.write("evil.tar", &tar);
    let out = env
        .cmd([std::ffi::OsStr::new("import"), file.as_os_str()])
        .fails();
    assert!(
        !out.stderr.contains('\x1b'),
        "an escape character reached the terminal: {:?}",
        out.stderr
    );
    assert!(out.stderr.contains("[2J"), "{:?}", out.stderr);
}

/// A registry whose error message carries escape sequences: they are shown escaped.
#[test]
fn a_registry_message_with_an_escape_sequence_is_printed_escaped() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let Some(req) = read_request(&mut s) else {
                continue;
            };
            let body = if req.target == "/v2/" {
                "{}".to_string()
            } else {
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"\u001b[2J\u001b[31mgone\u202e"}]}"#
                    .to_string()
            };
            let status = if req.target == "/v2/" {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let env = Env::new();
    let out = env.cmd(["pull", &format!("{addr}/t/x:1")]).fails();
    let e = out.single_error();
    assert!(!e.contains('\x1b') && !e.contains('\u{202e}'), "{e:?}");
    assert!(
        e.contains("\\x1b[2J\\x1b[31mgone\\u{202e}"),
        "the registry's words are not shown escaped: {e:?}"
    );
}
