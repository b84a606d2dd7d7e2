//! `detect --output html`: the report as one self-contained page to send around (no external
//! file, script, font or request: it opens offline). It is written from the JSON report, so its
//! counts are the JSON's: the summary (nodes by verdict, affected nodes by pool, Kubernetes
//! minor and runtime), each pool's plan, the docker.sock workloads with the nodes they pin,
//! and a row per node with a filter box. Tables are rendered here, not by script; the script
//! only filters rows (also from `#filter=TEXT` in the page's address).

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::Value;

/// `text` for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as page text: strings as they are, null as "-".
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:2px 8px;\
text-align:left;vertical-align:top}th{background:#f2f2f2}td.count{text-align:right}\
tr.affected td{background:#fff1f0}pre{background:#f6f6f6;padding:4px;margin:0;white-space:pre-wrap}\
input{font-size:14px;padding:3px;width:24em}.note{color:#555}";

const SCRIPT: &str = "(function(){var box=document.getElementById('filter');\
var rows=[].slice.call(document.querySelectorAll('tr.node'));\
var shown=document.getElementById('n-shown');\
function apply(){var q=box.value.toLowerCase();var n=0;rows.forEach(function(r){\
var hit=r.textContent.toLowerCase().indexOf(q)>=0;r.hidden=!hit;if(hit){n++;}});\
shown.textContent=String(n);}\
var m=/[#&]filter=([^&]*)/.exec(location.hash);if(m){box.value=decodeURIComponent(m[1]);}\
box.addEventListener('input',apply);apply();void document.body.offsetHeight;\
document.body.setAttribute('data-ready-ms',String(Math.round(performance.now())));\
document.body.setAttribute('data-ready','yes');})();";

/// Writes the page for the JSON report `r`.
pub(super) fn write_html(out: &mut impl Write, r: &Value) -> io::Result<()> {
    let s = &r["summary"];
    let title = format!(
        "builder detect: {} node(s), {} affected",
        text(&s["nodes"]),
        text(&s["affected"])
    );
    write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title>\
         <style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    )?;
    write_inputs(out, &r["inputs"])?;
    write_summary(out, r)?;
    write_pools(out, &r["pools"])?;
    write_workloads(out, &r["docker_socket_workloads"])?;
    write_nodes(out, &r["nodes"])?;
    write!(out, "<script>{SCRIPT}</script>\n</body></html>\n")
}

fn write_inputs(out: &mut impl Write, inputs: &Value) -> io::Result<()> {
    let Some(map) = inputs.as_object() else {
        return Ok(());
    };
    let given: Vec<String> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{} {}", esc(k), esc(&text(v))))
        .collect();
    writeln!(out, "<p class=\"note\">From: {}</p>", given.join("; "))
}

/// The counts: every verdict, then the affected nodes by pool, minor and runtime.
fn write_summary(out: &mut impl Write, r: &Value) -> io::Result<()> {
    let s = &r["summary"];
    writeln!(
        out,
        "<h2>Summary</h2>\n<p><span id=\"n-nodes\">{}</span> node(s), <span id=\"n-affected\">{}</span> \
         affected; <span id=\"n-docker-pods\">{}</span> pod(s) mount the Docker socket.</p>",
        esc(&text(&s["nodes"])),
        esc(&text(&s["affected"])),
        esc(&text(&s["docker_socket_pods"]))
    )?;
    let verdicts: Vec<(String, String)> = s["verdicts"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default();
    counts_table(out, "By verdict", "verdict", &verdicts)?;
    let nodes = r["nodes"].as_array().map(Vec::as_slice).unwrap_or_default();
    for (heading, key, field) in [
        ("Affected nodes by pool", "pool", "pool"),
        ("Affected nodes by Kubernetes minor", "minor", "minor"),
        ("Affected nodes by runtime", "runtime", "runtime"),
    ] {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for n in nodes.iter().filter(|n| n["affected"] == Value::Bool(true)) {
            *by.entry(text(&n[field])).or_default() += 1;
        }
        let rows: Vec<(String, String)> = by.into_iter().map(|(k, v)| (k, v.to_string())).collect();
        counts_table(out, heading, key, &rows)?;
    }
    Ok(())
}

fn counts_table(
    out: &mut impl Write,
    heading: &str,
    key: &str,
    rows: &[(String, String)],
) -> io::Result<()> {
    writeln!(out, "<h3>{}</h3>", esc(heading))?;
    if rows.is_empty() {
        return writeln!(out, "<p class=\"note\">none</p>");
    }
    writeln!(
        out,
        "<table class=\"counts\" data-by=\"{}\"><tr><th>{}</th><th>nodes</th></tr>",
        esc(key),
        esc(key)
    )?;
    for (k, v) in rows {
        writeln!(
            out,
            "<tr data-key=\"{k}\"><td>{k}</td><td class=\"count\">{}</td></tr>",
            esc(v),
            k = esc(k)
        )?;
    }
    writeln!(out, "</table>")
}

/// Per pool of affected nodes: its nodes, its groups (profile, arch, minor) and, with --plan,
/// its runbook with the commands.
fn write_pools(out: &mut impl Write, pools: &Value) -> io::Result<()> {
    let pools = pools.as_array().map(Vec::as_slice).unwrap_or_default();
    writeln!(out, "<h2>Pools to replace</h2>")?;
    if pools.is_empty() {
        return writeln!(
            out,
            "<p class=\"note\">No node is on dockershim: nothing to replace.</p>"
        );
    }
    for p in pools {
        writeln!(
            out,
            "<h3 class=\"pool\">{} <span class=\"note\">({} node(s))</span></h3>",
            esc(&text(&p["name"])),
            esc(&text(&p["node_count"]))
        )?;
        for g in p["groups"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let fields: Vec<String> = g
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| *k != "nodes")
                        .map(|(k, v)| format!("{}: {}", esc(k), esc(&text(v))))
                        .collect()
                })
                .unwrap_or_default();
            writeln!(out, "<p>{}</p>", fields.join("; "))?;
        }
        if let Some(steps) = p["plan"].as_array() {
            writeln!(out, "<ol class=\"plan\">")?;
            for st in steps {
                writeln!(
                    out,
                    "<li><b>{}</b> {}<pre>{}</pre></li>",
                    esc(&text(&st["step"])),
                    esc(&text(&st["note"])),
                    esc(&text(&st["command"]))
                )?;
            }
            writeln!(out, "</ol>")?;
        }
    }
    Ok(())
}

fn write_workloads(out: &mut impl Write, workloads: &Value) -> io::Result<()> {
    let workloads = workloads.as_array().map(Vec::as_slice).unwrap_or_default();
    writeln!(out, "<h2>Workloads that mount the Docker socket</h2>")?;
    if workloads.is_empty() {
        return writeln!(out, "<p class=\"note\">none found (or no --pods given)</p>");
    }
    writeln!(out, "<table id=\"workloads\"><tr><th>workload</th><th>pods</th><th>nodes it pins to Docker</th></tr>")?;
    for w in workloads {
        let nodes: Vec<String> = w["nodes"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        writeln!(
            out,
            "<tr class=\"workload\"><td>{}/{}/{}</td><td class=\"count\">{}</td><td>{}</td></tr>",
            esc(&text(&w["namespace"])),
            esc(&text(&w["kind"])),
            esc(&text(&w["name"])),
            esc(&text(&w["pods"])),
            esc(&nodes.join(", "))
        )?;
    }
    writeln!(out, "</table>")
}

const NODE_COLUMNS: [(&str, &str); 8] = [
    ("node", "name"),
    ("pool", "pool"),
    ("kubelet", "kubelet_version"),
    ("runtime", "runtime"),
    ("verdict", "verdict"),
    ("profile", "profile"),
    ("docker.sock workloads", "docker_socket_workloads"),
    ("reason", "reason"),
];

fn write_nodes(out: &mut impl Write, nodes: &Value) -> io::Result<()> {
    let nodes = nodes.as_array().map(Vec::as_slice).unwrap_or_default();
    writeln!(
        out,
        "<h2>Nodes</h2>\n<p><label>Filter: <input id=\"filter\" type=\"search\" \
         placeholder=\"name, pool, runtime, verdict, reason...\"></label> \
         <span id=\"n-shown\">{}</span> shown</p>\n<table id=\"nodes\"><tr>",
        nodes.len()
    )?;
    for (heading, _) in NODE_COLUMNS {
        write!(out, "<th>{}</th>", esc(heading))?;
    }
    writeln!(out, "</tr>")?;
    for n in nodes {
        let affected = n["affected"] == Value::Bool(true);
        write!(
            out,
            "<tr class=\"node{}\" data-verdict=\"{}\">",
            if affected { " affected" } else { "" },
            esc(&text(&n["verdict"]))
        )?;
        for (_, field) in NODE_COLUMNS {
            let cell = match &n[field] {
                Value::Array(a) if a.is_empty() => "-".to_string(),
                Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
                v => text(v),
            };
            write!(out, "<td>{}</td>", esc(&cell))?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_control_characters_replaced() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\"\x1b"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;?"
        );
    }

    #[test]
    fn a_hostile_node_name_cannot_break_out_of_its_cell() {
        let r = serde_json::json!({
            "summary": {"nodes": 1, "affected": 1, "docker_socket_pods": 0, "verdicts": {"dockershim": 1}},
            "inputs": {"nodes": "n.json"},
            "pools": [],
            "docker_socket_workloads": [],
            "nodes": [{"name": "</td><script>bad()</script>", "affected": true, "verdict": "dockershim",
                       "pool": "p", "minor": "1.23", "runtime": "docker://20.10.24", "reason": "r",
                       "profile": "containerd", "docker_socket_workloads": [], "kubelet_version": "v1.23.17"}]
        });
        let mut out = Vec::new();
        write_html(&mut out, &r).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(!page.contains("<script>bad()"), "{page}");
        assert_eq!(
            page.matches("<script>").count(),
            1,
            "only the page's own script"
        );
        assert!(page.contains("&lt;/td&gt;&lt;script&gt;bad()"), "{page}");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external reference"
        );
    }
}
