//! Metadata: a curator's CSV about the images (`--metadata FILE.csv`) — the first column a path
//! (absolute, or relative to the CSV's folder) or a file name, the others anything (title,
//! artist, year, tags, description, url). It gives captions (the title, else the file name),
//! every field in the lightbox, a text filter over every field and the file name, and numeric
//! columns to order the grid by.
//!
//! Read with the `csv` crate (RFC 4180 quotes, line breaks inside quotes, a UTF-8 BOM). Nothing
//! is dropped in silence: rows with too many fields, rows for the same image twice and rows
//! that match no image are reported with their line numbers.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Column names taken as the caption, in order of preference (case-insensitive).
const TITLE_COLUMNS: &[&str] = &["title", "caption", "name", "label"];

/// A metadata file, read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// The file it came from.
    pub file: PathBuf,
    /// The header of the first column (e.g. `path`, `file`, `filename`).
    pub key_column: String,
    /// The other columns' names.
    pub columns: Vec<String>,
    rows: Vec<Row>,
    /// Problems found while reading: (line, what), in file order.
    pub problems: Vec<(u64, String)>,
}

#[derive(Clone, Debug, PartialEq)]
struct Row {
    line: u64,
    key: String,
    fields: Vec<String>,
}

/// The metadata of a map's images: `row_of[i]` is the metadata row of image `i`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matched {
    pub row_of: Vec<Option<usize>>,
    /// Rows that match no image of the map: (line, first field).
    pub unmatched: Vec<(u64, String)>,
    /// Rows for an image that an earlier row already described: (line, first field); the
    /// first row counts.
    pub duplicates: Vec<(u64, String)>,
    /// A bare file name that several images have: (line, name, how many); it describes all.
    pub ambiguous: Vec<(u64, String, usize)>,
}

impl Matched {
    /// How many images have metadata.
    pub fn count(&self) -> usize {
        self.row_of.iter().filter(|r| r.is_some()).count()
    }

    /// One line per kind of problem, with up to five line numbers each (for warnings).
    pub fn summary(&self, file: &Path) -> Vec<String> {
        let lines = |v: &mut dyn Iterator<Item = u64>| {
            let all: Vec<u64> = v.collect();
            let shown: Vec<String> = all.iter().take(5).map(|l| l.to_string()).collect();
            let more = if all.len() > 5 {
                format!(" and {} more", all.len() - 5)
            } else {
                String::new()
            };
            format!("{}{more}", shown.join(", "))
        };
        let mut out = Vec::new();
        if !self.unmatched.is_empty() {
            out.push(format!(
                "{}: {} rows match no image of the map (lines {})",
                file.display(),
                self.unmatched.len(),
                lines(&mut self.unmatched.iter().map(|u| u.0))
            ));
        }
        if !self.duplicates.is_empty() {
            out.push(format!(
                "{}: {} rows describe an image again; the first row is used (lines {})",
                file.display(),
                self.duplicates.len(),
                lines(&mut self.duplicates.iter().map(|u| u.0))
            ));
        }
        for (line, name, n) in self.ambiguous.iter().take(5) {
            out.push(format!(
                "{}: line {line}: {n} images are called {name:?}; the row describes each",
                file.display()
            ));
        }
        out
    }
}

impl Metadata {
    /// Read a metadata CSV. An error (naming the file and the line) when it cannot be read at
    /// all or has no header; problems in single rows are kept in [`Metadata::problems`] and the
    /// rest is read.
    pub fn read(file: &Path) -> Result<Metadata> {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        // relative paths in it are relative to its folder, wherever the program was started
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        Self::parse(&bytes, &file)
    }

    /// [`Metadata::read`] from memory (`file` names it in messages and resolves relative paths).
    pub fn parse(bytes: &[u8], file: &Path) -> Result<Metadata> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        // line numbers from byte offsets (the reader's own count skips blank lines)
        let newlines: Vec<usize> = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let line_at = |pos: Option<&csv::Position>| -> u64 {
            pos.map_or(0, |p| {
                // a record's position may be the blank lines before it
                let mut b = p.byte() as usize;
                while matches!(bytes.get(b), Some(b'\n' | b'\r')) {
                    b += 1;
                }
                newlines.partition_point(|&n| n < b) as u64 + 1
            })
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .with_context(|| format!("{}: cannot read the header line", file.display()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.is_empty() || header.iter().all(String::is_empty) {
            anyhow::bail!("{}: the first line (the header) is empty", file.display());
        }
        let mut meta = Metadata {
            file: file.to_path_buf(),
            key_column: header[0].clone(),
            columns: header[1..].to_vec(),
            rows: Vec::new(),
            problems: Vec::new(),
        };
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = line_at(e.position());
                    meta.problems.push((line, format!("unreadable row: {e}")));
                    continue;
                }
            };
            let line = line_at(record.position());
            if record.iter().all(|f| f.trim().is_empty()) {
                continue; // a blank line
            }
            let key = record.get(0).unwrap_or("").trim().to_string();
            if key.is_empty() {
                meta.problems
                    .push((line, "no path or file name in the first column".into()));
                continue;
            }
            let mut fields: Vec<String> = record
                .iter()
                .skip(1)
                .map(|f| f.trim().to_string())
                .collect();
            if fields.len() > meta.columns.len() {
                meta.problems.push((
                    line,
                    format!(
                        "{} fields where the header has {}; the extra ones are left out",
                        fields.len() + 1,
                        meta.columns.len() + 1
                    ),
                ));
                fields.truncate(meta.columns.len());
            }
            // fewer fields than columns: the missing ones are empty
            fields.resize(meta.columns.len(), String::new());
            meta.rows.push(Row { line, key, fields });
        }
        Ok(meta)
    }

    /// Rows read.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The fields of row `row`, by column.
    pub fn fields(&self, row: usize) -> impl Iterator<Item = (&str, &str)> {
        self.columns
            .iter()
            .map(String::as_str)
            .zip(self.rows[row].fields.iter().map(String::as_str))
    }

    /// The column used as the caption (title, caption, name or label), if any.
    pub fn title_column(&self) -> Option<usize> {
        TITLE_COLUMNS.iter().find_map(|want| {
            self.columns
                .iter()
                .position(|c| c.eq_ignore_ascii_case(want))
        })
    }

    /// Row `row`'s title, when it has a non-empty one.
    pub fn title(&self, row: usize) -> Option<&str> {
        let c = self.title_column()?;
        Some(self.rows[row].fields[c].as_str()).filter(|t| !t.is_empty())
    }

    /// Columns where every non-empty value is a number (and at least one is): what the grid can
    /// be ordered by.
    pub fn numeric_columns(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&c| {
                let mut any = false;
                for r in &self.rows {
                    let v = r.fields[c].trim();
                    if v.is_empty() {
                        continue;
                    }
                    if number(v).is_none() {
                        return false;
                    }
                    any = true;
                }
                any
            })
            .collect()
    }

    /// Row `row`'s value in column `c` as a number.
    pub fn number(&self, row: usize, c: usize) -> Option<f64> {
        number(self.rows[row].fields.get(c)?)
    }

    /// Match the rows to a map's images: a first column that is a path (absolute, or relative
    /// to the CSV's folder) matches that image; a bare file name matches every image with that
    /// name.
    pub fn match_paths(&self, paths: &[PathBuf]) -> Matched {
        let base = crate::util::folder_of(&self.file);
        let by_path: HashMap<PathBuf, usize> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (normal(p), i))
            .collect();
        let mut by_name: HashMap<&std::ffi::OsStr, Vec<usize>> = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            if let Some(n) = p.file_name() {
                by_name.entry(n).or_default().push(i);
            }
        }
        let mut m = Matched {
            row_of: vec![None; paths.len()],
            ..Matched::default()
        };
        for (r, row) in self.rows.iter().enumerate() {
            let key = row.key.replace('\\', "/");
            let given = Path::new(&key);
            let bare = given.components().count() == 1;
            let targets: Vec<usize> = if bare {
                by_name.get(given.as_os_str()).cloned().unwrap_or_default()
            } else {
                let full = if given.is_absolute() {
                    given.to_path_buf()
                } else {
                    base.join(given)
                };
                by_path
                    .get(&normal(&full))
                    .map(|&i| vec![i])
                    .unwrap_or_default()
            };
            if targets.is_empty() {
                m.unmatched.push((row.line, row.key.clone()));
                continue;
            }
            if bare && targets.len() > 1 {
                m.ambiguous.push((row.line, row.key.clone(), targets.len()));
            }
            let mut any_new = false;
            for i in targets {
                if m.row_of[i].is_none() {
                    m.row_of[i] = Some(r);
                    any_new = true;
                }
            }
            if !any_new {
                m.duplicates.push((row.line, row.key.clone()));
            }
        }
        m
    }

    /// Whether row `row` (or, without a row, only the file name) matches a filter: every word
    /// of `query` appears in some field or in the file name, case-insensitively.
    pub fn matches(&self, row: Option<usize>, path: &Path, query: &Query) -> bool {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        query.words.iter().all(|w| {
            name.contains(w.as_str())
                || row.is_some_and(|r| {
                    self.rows[r]
                        .fields
                        .iter()
                        .any(|f| f.to_lowercase().contains(w.as_str()))
                })
        })
    }
}

/// A filter's words (lower case; an empty query matches everything).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    pub words: Vec<String>,
}

impl Query {
    pub fn new(text: &str) -> Query {
        Query {
            words: text.split_whitespace().map(str::to_lowercase).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// `path` with `.` and `..` folded away (no disk access), for comparing paths.
fn normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// The order in which images fill a grid sorted by a numeric column: by value, images without
/// one last, ties by index. `value(i)` is image `i`'s value.
pub fn sorted_order(indices: &[usize], value: impl Fn(usize) -> Option<f64>) -> Vec<usize> {
    let mut order: Vec<(usize, Option<f64>)> = indices.iter().map(|&i| (i, value(i))).collect();
    order.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y).then(a.0.cmp(&b.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
    order.into_iter().map(|(i, _)| i).collect()
}

/// Put the images of `order` into a grid of `cols` columns, row by row: the k-th goes to
/// `[k % cols, k / cols]` in `cells` (indexed by image).
pub fn fill_rows(order: &[usize], cols: u32, cells: &mut [[u32; 2]]) {
    let cols = cols.max(1);
    for (k, &i) in order.iter().enumerate() {
        if let Some(c) = cells.get_mut(i) {
            *c = [k as u32 % cols, k as u32 / cols];
        }
    }
}

/// The column called `name` (case-insensitive) that holds numbers, or why it cannot order a
/// grid.
pub fn numeric_column(meta: &Metadata, name: &str) -> Result<usize> {
    let Some(c) = meta
        .columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
    else {
        anyhow::bail!(
            "{} has no column {name:?} (it has {})",
            meta.file.display(),
            meta.columns.join(", ")
        );
    };
    if !meta.numeric_columns().contains(&c) {
        anyhow::bail!(
            "{}: column {name:?} does not hold numbers only, so it cannot order the grid",
            meta.file.display()
        );
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Metadata {
        Metadata::parse(text.as_bytes(), Path::new("/col/meta.csv")).unwrap()
    }

    #[test]
    fn quotes_bom_line_breaks_and_missing_fields() {
        let m = parse(
            "\u{feff}file,Title,year,description\n\
             a.jpg,\"Harbour, at night\",1921,\"two\nlines\"\n\
             b.jpg,\"He said \"\"no\"\"\"\n\
             \n\
             c.jpg,Cat,1930,ok,EXTRA\n\
             ,orphan,1,\n",
        );
        assert_eq!(
            m.key_column, "file",
            "the BOM is not part of the first header"
        );
        assert_eq!(m.columns, vec!["Title", "year", "description"]);
        assert_eq!(m.len(), 3);
        let fields: Vec<(&str, &str)> = m.fields(0).collect();
        assert_eq!(fields[0], ("Title", "Harbour, at night"));
        assert_eq!(fields[2], ("description", "two\nlines"));
        // a short row: the missing fields are empty
        assert_eq!(
            m.fields(1).map(|f| f.1).collect::<Vec<_>>(),
            vec!["He said \"no\"", "", ""]
        );
        assert_eq!(m.title(0), Some("Harbour, at night"));
        // the long row and the row without a key are reported with their lines
        assert_eq!(m.problems.len(), 2, "{:?}", m.problems);
        assert_eq!(m.problems[0].0, 6);
        assert!(m.problems[0].1.contains("5 fields"));
        assert_eq!(m.problems[1].0, 7);
        assert_eq!(m.numeric_columns(), vec![1]);
        assert_eq!(m.number(2, 1), Some(1930.0));
    }

    #[test]
    fn rows_match_by_path_relative_path_or_file_name_and_report_the_rest() {
        let m = parse(
            "path,title\n\
             /col/sub/a.jpg,absolute\n\
             sub/b.jpg,relative to the csv\n\
             c.jpg,by name\n\
             ./sub/../sub/b.jpg,again\n\
             d.jpg,not on the map\n\
             twin.png,two of them\n",
        );
        let paths: Vec<PathBuf> = [
            "/col/sub/a.jpg",
            "/col/sub/b.jpg",
            "/elsewhere/c.jpg",
            "/x/twin.png",
            "/y/twin.png",
            "/col/z.jpg",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let got = m.match_paths(&paths);
        assert_eq!(
            got.row_of,
            vec![Some(0), Some(1), Some(2), Some(5), Some(5), None]
        );
        assert_eq!(got.count(), 5);
        assert_eq!(got.duplicates, vec![(5, "./sub/../sub/b.jpg".to_string())]);
        assert_eq!(got.unmatched, vec![(6, "d.jpg".to_string())]);
        assert_eq!(got.ambiguous, vec![(7, "twin.png".to_string(), 2)]);
        let summary = got.summary(Path::new("/col/meta.csv"));
        assert!(summary[0].contains("1 rows match no image") && summary[0].contains("lines 6"));
        assert!(summary[1].contains("lines 5"));
    }

    #[test]
    fn the_filter_looks_in_every_field_and_the_file_name() {
        let m =
            parse("file,title,tags\nharbour.jpg,Night Harbour,boats sea\nfield.jpg,Wheat,summer\n");
        let paths = vec![
            PathBuf::from("/p/harbour.jpg"),
            PathBuf::from("/p/field.jpg"),
            PathBuf::from("/p/sea-view.jpg"),
        ];
        let got = m.match_paths(&paths);
        let hits = |q: &str| -> Vec<usize> {
            let q = Query::new(q);
            (0..3)
                .filter(|&i| m.matches(got.row_of[i], &paths[i], &q))
                .collect()
        };
        assert_eq!(hits("SEA"), vec![0, 2]);
        assert_eq!(hits("boats night"), vec![0]);
        assert_eq!(hits("wheat"), vec![1]);
        assert_eq!(hits(""), vec![0, 1, 2]);
        assert_eq!(hits("nothing"), Vec::<usize>::new());
        assert_eq!(
            sorted_order(&[0, 1, 2, 3], |i| [Some(3.0), None, Some(1.0), Some(3.0)]
                [i]),
            vec![2, 0, 3, 1]
        );
    }

    #[test]
    fn a_file_without_a_header_is_an_error_naming_it() {
        let e = Metadata::parse(b"", Path::new("/m/empty.csv")).unwrap_err();
        assert!(format!("{e:#}").contains("empty.csv"), "{e:#}");
        let e = Metadata::read(Path::new("/no/such/meta.csv")).unwrap_err();
        assert!(format!("{e:#}").contains("/no/such/meta.csv"));
    }
}
