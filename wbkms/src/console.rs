//! The web console: three static files, embedded in the binary (`console/`), which call the
//! same API as every other client with the token the user signs in with. Served with a
//! `default-src 'self'` content security policy; the page builds its DOM with `textContent`
//! only, so nothing a key's alias or tags contain is ever parsed as markup.

use std::path::Path;

const INDEX_HTML: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const STYLE_CSS: &str = include_str!("../console/style.css");

/// The content type and bytes of a console file, read from `dir` when given (development:
/// edit the files without rebuilding), else the embedded copy.
pub fn asset(name: &str, dir: Option<&Path>) -> Option<(&'static str, Vec<u8>)> {
    let (content_type, embedded) = match name {
        "index.html" => ("text/html; charset=utf-8", INDEX_HTML),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "style.css" => ("text/css; charset=utf-8", STYLE_CSS),
        _ => return None,
    };
    let bytes = match dir {
        Some(d) => std::fs::read(d.join(name)).ok()?,
        None => embedded.as_bytes().to_vec(),
    };
    Some((content_type, bytes))
}
