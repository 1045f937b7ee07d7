//! The functions templates call (docker's and Go's builtins), and how Go prints
//! values: `go_string`, `printf`.

use serde_json::{Map, Number, Value};

/// The functions a template may call.
pub(super) const FUNCS: &[&str] = &[
    "json", "join", "split", "upper", "lower", "title", "pad", "truncate", "println", "print",
    "printf", "index", "len", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge",
];

/// Functions whose header-row form returns their argument unchanged (docker's
/// `templates.HeaderFunctions`).
const HEADER_PASSTHROUGH: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "truncate",
];

/// Calls template function `name`; in a table header row (`header`) docker's
/// string functions pass their argument through.
pub(super) fn call(name: &str, args: Vec<Value>, header: bool) -> Result<Value, String> {
    if header && HEADER_PASSTHROUGH.contains(&name) {
        return Ok(Value::String(
            args.first().map(go_string).unwrap_or_default(),
        ));
    }
    docker_function(name, &args)
        .or_else(|| print_function(name, &args))
        .or_else(|| logic_function(name, &args))
        .unwrap_or_else(|| match name {
            "index" => index(&args),
            "len" => {
                want(name, &args, 1)?;
                go_len(&args[0])
            }
            _ => Err(format!("function {name:?} not defined")),
        })
}

/// Fails unless `name` was given exactly `n` arguments.
fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

/// Fails unless `name` was given at least one argument.
fn want_some(name: &str, args: &[Value]) -> Result<(), String> {
    if args.is_empty() {
        Err(format!(
            "wrong number of args for {name}: want at least 1 got 0"
        ))
    } else {
        Ok(())
    }
}

/// An integer argument (a float without a fraction counts).
fn int(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| format!("expected integer; found {}", go_string(v)))
}

/// docker's template functions (`json`, `join`, `split`, `upper`, `lower`, `title`,
/// `pad`, `truncate`); `None` for another name.
fn docker_function(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let arity = match name {
        "json" | "upper" | "lower" | "title" => 1,
        "join" | "split" | "truncate" => 2,
        "pad" => 3,
        _ => return None,
    };
    Some(want(name, args, arity).and_then(|()| {
        let s = go_string(&args[0]);
        Ok(Value::String(match name {
            "json" => serde_json::to_string(&args[0]).map_err(|e| e.to_string())?,
            "join" => join(&args[0], &go_string(&args[1]))?,
            "split" => return Ok(split(&s, &go_string(&args[1]))),
            "upper" => s.to_uppercase(),
            "lower" => s.to_lowercase(),
            "title" => title(&s),
            "pad" if s.is_empty() => s,
            "pad" => {
                let pre = pad_width(&args[1])?;
                let suf = pad_width(&args[2])?;
                format!("{}{s}{}", " ".repeat(pre), " ".repeat(suf))
            }
            _ => truncate(s, int(&args[1])?.max(0) as usize),
        }))
    }))
}

/// The most spaces `pad` adds on one side, and the widest `printf` width (Go's `fmt`
/// stops reading a width beyond a million).
const MAX_WIDTH: usize = 1_000_000;

/// A `pad` count: negative counts as 0; over [`MAX_WIDTH`] is an error (docker's
/// `strings.Repeat` would run out of memory or panic).
fn pad_width(v: &Value) -> Result<usize, String> {
    let n = int(v)?.max(0).unsigned_abs();
    if n > MAX_WIDTH as u64 {
        return Err(format!(
            "padding of {n} spaces is too large (at most {MAX_WIDTH})"
        ));
    }
    Ok(n as usize)
}

/// docker's `join`: the elements of a list printed and joined with `sep`.
fn join(list: &Value, sep: &str) -> Result<String, String> {
    match list {
        Value::Array(a) => Ok(a.iter().map(go_string).collect::<Vec<_>>().join(sep)),
        Value::Null => Ok(String::new()),
        other => Err(format!(
            "wrong type for value; expected []string; got {}",
            go_type(other)
        )),
    }
}

/// docker's `split`: a list of the parts (of the characters, for an empty `sep`).
fn split(src: &str, sep: &str) -> Value {
    let parts: Vec<Value> = if sep.is_empty() {
        src.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        src.split(sep)
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Value::Array(parts)
}

/// docker's `truncate`: at most `n` bytes, cut back to a character boundary.
fn truncate(src: String, n: usize) -> String {
    if src.len() < n {
        return src;
    }
    let mut end = n;
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    src[..end].to_string()
}

/// Go's `print`, `println` and `printf`; `None` for another name.
fn print_function(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let text = match name {
        "println" => {
            let parts: Vec<String> = args.iter().map(go_string).collect();
            format!("{}\n", parts.join(" "))
        }
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    out.push(' ');
                }
                out.push_str(&go_string(a));
            }
            out
        }
        "printf" => match want_some(name, args) {
            Ok(()) => printf(&go_string(&args[0]), &args[1..]),
            Err(e) => return Some(Err(e)),
        },
        _ => return None,
    };
    Some(Ok(Value::String(text)))
}

/// Go's `not`, `and`, `or` and comparisons; `None` for another name.
fn logic_function(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let result = match name {
        "not" => want(name, args, 1).map(|()| Value::Bool(!truth(&args[0]))),
        // The first argument that decides, else the last.
        "and" | "or" => want_some(name, args).map(|()| {
            let decides = |a: &&Value| truth(a) == (name == "or");
            args.iter()
                .find(decides)
                .unwrap_or(&args[args.len() - 1])
                .clone()
        }),
        "eq" if args.len() < 2 => Err("missing argument for comparison".into()),
        "eq" => Ok(Value::Bool(
            args[1..].iter().any(|b| values_equal(&args[0], b)),
        )),
        "ne" => want(name, args, 2).map(|()| Value::Bool(!values_equal(&args[0], &args[1]))),
        "lt" | "le" | "gt" | "ge" => want(name, args, 2)
            .and_then(|()| compare(&args[0], &args[1]))
            .map(|ord| {
                Value::Bool(match name {
                    "lt" => ord.is_lt(),
                    "le" => ord.is_le(),
                    "gt" => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }),
        _ => return None,
    };
    Some(result)
}

/// Go's `index`: `args[0]` indexed by each further argument in turn.
fn index(args: &[Value]) -> Result<Value, String> {
    want_some("index", args)?;
    let mut cur = args[0].clone();
    for key in &args[1..] {
        cur = match cur {
            Value::Object(m) => match m.get(&go_string(key)) {
                Some(v) => v.clone(),
                // Go returns the map's zero value: "" for string maps
                None if m.values().all(Value::is_string) => Value::String(String::new()),
                None => Value::Null,
            },
            Value::Array(a) => {
                let i = int(key)?;
                if i < 0 || i as usize >= a.len() {
                    return Err(format!("index out of range: {i}"));
                }
                a[i as usize].clone()
            }
            Value::String(st) => {
                let i = int(key)?;
                if i < 0 || i as usize >= st.len() {
                    return Err(format!("index out of range: {i}"));
                }
                Value::Number(st.as_bytes()[i as usize].into())
            }
            Value::Null => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", go_type(&other))),
        };
    }
    Ok(cur)
}

/// Go's `len` of a string (in bytes), list or map.
fn go_len(v: &Value) -> Result<Value, String> {
    let n = match v {
        Value::String(st) => st.len(),
        Value::Array(a) => a.len(),
        Value::Object(m) => m.len(),
        other => return Err(format!("len of type {}", go_type(other))),
    };
    Ok(Value::Number(n.into()))
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return Ok(i.cmp(&j));
            }
            let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            fx.partial_cmp(&fy)
                .ok_or_else(|| "invalid type for comparison".to_string())
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Go's template truth: false, 0, nil, and empty strings, slices and maps are false.
pub(super) fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().map(|f| f != 0.0).unwrap_or(true),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Go's `strings.Title`: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// How a template action prints a value (`<no value>` for a top-level null).
pub fn go_string(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        other => go_value(other),
    }
}

/// Go's `%v` of a value nested in a slice or map.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => go_map(m),
    }
}

fn go_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{k}:{}", go_value(&m[*k])))
        .collect();
    format!("map[{}]", parts.join(" "))
}

fn go_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    crate::output::go_format_g(f, None)
}

/// A small `fmt.Sprintf`: verbs `v s d q t %`, flag `-`, width.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut width = 0usize;
        while let Some(&f) = it.peek() {
            if f == '-' {
                left = true;
                it.next();
            } else if let Some(d) = f.to_digit(10) {
                if width > MAX_WIDTH {
                    // Go's parsenum: a width this long takes the rest of the format.
                    it.by_ref().for_each(drop);
                    break;
                }
                width = width * 10 + d as usize;
                it.next();
            } else {
                break;
            }
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let text = match verb {
            'q' => serde_json::to_string(&go_value(arg)).unwrap_or_default(),
            'd' if !arg.is_number() => format!("%!d({})", go_value(arg)),
            _ => go_value(arg),
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    out
}
