//! `lucid report --format html`: one self-contained page (inline CSS and JS, nothing fetched)
//! with the size table, layer rows, recommendations and an interactive treemap of each image by
//! directory and by package. Tables are rendered here, so the page reads without JavaScript;
//! the script only draws the treemaps (click a box to zoom in, the path bar to zoom out).

use anyhow::Result;
use serde::Serialize;

use super::size::{app_rows, history_rows, largest_dirs, size_rows};
use super::xml_escape as esc;
use crate::findings::figures::{DirNode, ImageAnalysis};
use crate::units::format_size as fmt;

/// A treemap node as the script reads it: name, bytes, children.
#[derive(Serialize)]
struct Node {
    n: String,
    v: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    c: Vec<Node>,
}

fn dir_node(d: &DirNode) -> Node {
    Node { n: d.name.clone(), v: d.bytes, c: d.children.iter().map(dir_node).collect() }
}

/// Packages grouped by kind, plus what no package owns.
fn package_node(a: &ImageAnalysis) -> Node {
    let mut kinds: Vec<Node> = Vec::new();
    for r in &a.owners {
        let kind = format!("{:?}", r.owner.kind).to_lowercase();
        let leaf = Node { n: format!("{} {}", r.owner.name, r.owner.version), v: r.bytes, c: vec![] };
        match kinds.iter_mut().find(|k| k.n == kind) {
            Some(k) => {
                k.v += r.bytes;
                k.c.push(leaf);
            }
            None => kinds.push(Node { n: kind, v: r.bytes, c: vec![leaf] }),
        }
    }
    if a.unowned_bytes > 0 {
        kinds.push(Node { n: "(no package)".into(), v: a.unowned_bytes, c: vec![] });
    }
    kinds.sort_by_key(|k| std::cmp::Reverse(k.v));
    Node { n: "packages".into(), v: a.size, c: kinds }
}

fn table(rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>");
    for (i, r) in rows.iter().enumerate() {
        let tag = if i == 0 { "th" } else { "td" };
        out.push_str("<tr>");
        for c in r {
            out.push_str(&format!("<{tag}>{}</{tag}>", esc(c)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n");
    out
}

/// JSON that is safe inside a `<script>` element.
fn script_json<T: Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?.replace("</", "<\\/").replace("<!--", "<\\!--"))
}

pub fn render(images: &[ImageAnalysis]) -> Result<String> {
    let mut body = String::new();
    body.push_str("<h1>lucid report</h1>\n<h2>Image sizes</h2>\n");
    body.push_str(&table(&size_rows(images)));
    let mut maps = Vec::new();
    for (i, a) in images.iter().enumerate() {
        let e = &a.efficiency;
        body.push_str(&format!(
            "<section><h2>{}:{} <small>{}</small></h2>\n<p>{} files, {} of content; layer tars {} ({} of tar \
             headers and padding); compressed {}.</p>\n",
            esc(&a.repository),
            esc(&a.tag),
            esc(&a.platform),
            a.files,
            fmt(a.size),
            fmt(a.tar_bytes),
            fmt(a.tar_overhead),
            super::size::fmt_compressed(a.compressed)
        ));
        body.push_str("<h3>Layers</h3>\n");
        body.push_str(&table(&history_rows(a)));
        body.push_str(&format!(
            "<p class=\"scores\"><b>dive efficiency</b> {:.1}% · <b>wasted</b> {} · <b>hidden by later layers</b> {} \
             · <b>identical files</b> {} · <b>reclaimable</b> {} · <b>lean score</b> {:.1}%</p>\n",
            100.0 * e.dive_score,
            fmt(e.dive_wasted_bytes),
            fmt(e.hidden_bytes),
            fmt(e.duplicate_bytes),
            fmt(e.reclaimable_bytes),
            100.0 * e.lean_score
        ));
        body.push_str(&format!(
            "<h3>Where the bytes are</h3>\n<div class=\"tabs\"><button data-map=\"{i}\" data-kind=\"dirs\" \
             class=\"on\">by directory</button><button data-map=\"{i}\" data-kind=\"pkgs\">by package</button></div>\n\
             <div class=\"crumbs\" id=\"crumbs{i}\"></div><div class=\"map\" id=\"map{i}\"></div>\n"
        ));
        let mut dirs = vec![vec!["directory".into(), "size".into(), "files".into()]];
        for (p, b, n) in largest_dirs(&a.tree, 3).into_iter().take(12) {
            dirs.push(vec![p, fmt(b), n.to_string()]);
        }
        let mut pk = vec![vec!["package".into(), "version".into(), "size".into(), "licences".into()]];
        for r in a.owners.iter().take(20) {
            pk.push(vec![r.owner.name.clone(), r.owner.version.clone(), fmt(r.bytes), r.owner.licenses.join(", ")]);
        }
        pk.push(vec!["(no package)".into(), "".into(), fmt(a.unowned_bytes), "".into()]);
        body.push_str(&format!("<div class=\"cols\"><div>{}</div><div>{}</div></div>\n", table(&dirs), table(&pk)));
        if !a.recommendations.is_empty() {
            body.push_str("<h3>Recommendations</h3>\n");
            let mut rec = vec![vec!["ID".into(), "saves".into(), "what".into(), "how".into(), "for example".into()]];
            for r in &a.recommendations {
                rec.push(vec![
                    r.id.clone(),
                    fmt(r.saves),
                    format!("{} ({})", r.title, r.count),
                    r.how.clone(),
                    r.examples.first().cloned().unwrap_or_default(),
                ]);
            }
            body.push_str(&table(&rec));
        }
        if !a.app_findings.is_empty() {
            let (summary, rows) = app_rows(a);
            body.push_str(&format!("<h3>Applications (--app): {}</h3>\n", esc(&summary)));
            if rows.len() > 1 {
                body.push_str(&table(&rows));
            }
        }
        body.push_str("</section>\n");
        maps.push((dir_node(&a.tree), package_node(a)));
    }
    let data: Vec<serde_json::Value> =
        maps.into_iter().map(|(d, p)| serde_json::json!({ "dirs": d, "pkgs": p })).collect();
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>lucid report: {}</title>\n<style>{CSS}</style></head>\n<body>\n{body}\
         <script type=\"application/json\" id=\"data\">{}</script>\n<script>{JS}</script>\n</body></html>\n",
        esc(&images.iter().map(|a| a.repository.as_str()).collect::<Vec<_>>().join(", ")),
        script_json(&data)?
    ))
}

const CSS: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}small{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.cols{display:flex;gap:2em;flex-wrap:wrap}.scores{background:#f8f8f0;padding:.5em}
.tabs button{border:1px solid #aaa;background:#fff;padding:3px 10px;cursor:pointer}.tabs button.on{background:#335;color:#fff}
.crumbs{margin:.4em 0;font-family:monospace}.crumbs a{cursor:pointer;color:#36c;text-decoration:underline}
.map{position:relative;width:100%;height:420px;border:1px solid #ccc;overflow:hidden}
.map div{position:absolute;box-sizing:border-box;border:1px solid #fff;overflow:hidden;font-size:11px;color:#fff;padding:2px;cursor:pointer}
"#;

/// Squarified treemap (Bruls, Huizing, van Wijk) over the node the path bar names.
const JS: &str = r#"
(function(){
"use strict";
var data=JSON.parse(document.getElementById("data").textContent);
var units=["B","kB","MB","GB"];
function size(b){var i=0;while(b>=1000&&i<3){b/=1000;i++;}return (i?b.toFixed(b<10?2:1):b)+units[i];}
function color(i,d){var h=(i*47)%360;return "hsl("+h+","+(55-d*5)+"%,"+(38+d*6)+"%)";}
function worst(row,w,sum){var mx=0,mn=Infinity;row.forEach(function(r){mx=Math.max(mx,r.a);mn=Math.min(mn,r.a);});
  return Math.max(w*w*mx/(sum*sum),(sum*sum)/(w*w*mn));}
function layout(items,x,y,w,h,out){
  var total=items.reduce(function(s,i){return s+i.v;},0);if(total<=0||w<=0||h<=0)return;
  var scale=w*h/total,rest=items.map(function(i){return {n:i,a:i.v*scale};});
  while(rest.length){var side=Math.min(w,h),row=[],sum=0;
    while(rest.length){var next=rest[0],s2=sum+next.a;
      if(row.length&&worst(row.concat([next]),side,s2)>worst(row,side,sum))break;row.push(rest.shift());sum=s2;}
    var thick=sum/side,off=0;
    row.forEach(function(r){var len=r.a/thick;
      if(w>=h)out.push({n:r.n,x:x,y:y+off,w:thick,h:len});else out.push({n:r.n,x:x+off,y:y,w:len,h:thick});off+=len;});
    if(w>=h){x+=thick;w-=thick;}else{y+=thick;h-=thick;}}
}
function draw(i,kind,path){
  var map=document.getElementById("map"+i),crumbs=document.getElementById("crumbs"+i),node=data[i][kind];
  path.forEach(function(p){node=node.c[p];});
  map.innerHTML="";crumbs.innerHTML="";
  var n0=data[i][kind],trail=[n0.n];path.forEach(function(p){n0=n0.c[p];trail.push(n0.n);});
  trail.forEach(function(t,k){var a=document.createElement(k<trail.length-1?"a":"span");a.textContent=t+(k<trail.length-1?" / ":"");
    if(k<trail.length-1)a.onclick=function(){draw(i,kind,path.slice(0,k));};crumbs.appendChild(a);});
  crumbs.appendChild(document.createTextNode("  ("+size(node.v)+")"));
  var kids=(node.c||[]).filter(function(c){return c.v>0;}).map(function(c,k){return {v:c.v,c:c,k:(node.c||[]).indexOf(c)};});
  if(!kids.length){kids=[{v:node.v||1,c:node,k:-1}];}
  var boxes=[];layout(kids,0,0,map.clientWidth,map.clientHeight,boxes);
  boxes.forEach(function(b,k){var d=document.createElement("div");
    d.style.left=b.x+"px";d.style.top=b.y+"px";d.style.width=b.w+"px";d.style.height=b.h+"px";
    d.style.background=color(k,path.length);d.title=b.n.c.n+"  "+size(b.n.v);
    if(b.w>40&&b.h>14)d.textContent=b.n.c.n+" "+size(b.n.v);
    if(b.n.k>=0&&b.n.c.c&&b.n.c.c.length)d.onclick=function(){draw(i,kind,path.concat([b.n.k]));};
    map.appendChild(d);});
}
document.querySelectorAll(".tabs button").forEach(function(btn){btn.onclick=function(){
  var i=+btn.dataset.map;btn.parentNode.querySelectorAll("button").forEach(function(b){b.classList.remove("on");});
  btn.classList.add("on");draw(i,btn.dataset.kind,[]);};});
data.forEach(function(_,i){draw(i,"dirs",[]);});
window.addEventListener("resize",function(){document.querySelectorAll(".tabs button.on").forEach(function(b){b.onclick();});});
})();
"#;
