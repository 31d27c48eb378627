//! A dependency-free rendering of [`InspectReport`] as the `inspect --json` object.

use std::fmt::Write;

use super::InspectReport;

pub(crate) fn report(r: &InspectReport) -> String {
    let mut s = String::from("{\"findings\":[");
    for (i, f) in r.findings.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"file\":");
        string(&mut s, &f.file);
        s.push_str(",\"check\":");
        string(&mut s, &f.check);
        s.push_str(",\"detail\":");
        string(&mut s, &f.detail);
        s.push('}');
    }
    s.push_str("],\"files\":[");
    for (i, f) in r.files.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"file\":");
        string(&mut s, &f.file);
        let _ = write!(
            s,
            ",\"minor_version\":{},\"exists\":{},\"records_present\":{},\"generation_no\":{},\
             \"apparent_bytes\":{},\"allocated_bytes\":{}}}",
            opt(f.minor_version),
            opt(f.exists),
            opt(f.records_present),
            opt(f.generation_no),
            f.apparent_bytes,
            f.allocated_bytes
        );
    }
    s.push_str("]}");
    s
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

fn string(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}
