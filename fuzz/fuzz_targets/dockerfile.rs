//! The Dockerfile front end: parse (BuildKit's parser), print the parse, type the
//! instructions into stages, resolve the global scope and the stage order, and expand
//! every step as a build would; then docker's shell lexer on the first line as one word
//! and as words. Anything may be refused; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::dockerfile::expand::{Lexer, VarList};
use strata::dockerfile::{parse, print, BuildArgs, Dockerfile, GlobalScope, Platform, Scope};

fn build(df: &Dockerfile) {
    let build_args = BuildArgs::parse(&["A=1", "EMPTY=", "HTTP_PROXY=http://p"]);
    let host = Platform::host();
    let Ok(global) = GlobalScope::new(df, &build_args, &host, &host) else {
        return;
    };
    let Ok(order) = df.check(&global, &build_args, None) else {
        return;
    };
    for &i in &order {
        let _ = df.base(i, &global);
        let _ = df.dependencies(i, &global);
        let mut scope = Scope::new(&global, &build_args, &["PATH=/bin", "HOME=/root"]);
        for step in &df.stages[i].steps {
            let Ok(instruction) = scope.expand(step) else {
                break;
            };
            scope.apply(&instruction);
            let _ = scope.run_env();
        }
    }
}

fn words(text: &str) {
    let line = text.lines().next().unwrap_or_default();
    let mut vars = VarList::new();
    vars.set("PWD", "/home");
    vars.set("KOREAN", "한국어");
    vars.set("NULL", "");
    for escape in ['\\', '`'] {
        let lexer = Lexer::new(escape);
        let _ = lexer.process_word(line, &vars);
        let _ = lexer.process_words(line, &vars);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    words(&text);
    let Ok(ast) = parse(&text, "Dockerfile") else {
        return;
    };
    let _ = print::ast_sexp(&ast);
    if let Ok(df) = Dockerfile::from_ast(&ast, "Dockerfile") {
        build(&df);
    }
});
