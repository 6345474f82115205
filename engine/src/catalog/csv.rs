//! Reads Microsoft's "Product names and service plan identifiers" CSV layout (RFC 4180, a BOM,
//! CRLF, columns found by header name) into [`SkuSpec`]s.

use super::spec::{PlanSpec, SkuSpec};
use super::{CatalogError, cerr};
use std::collections::BTreeMap;

/// Splits CSV text (RFC 4180: quoted fields, doubled quotes, CRLF, a UTF-8 BOM) into records,
/// each with the 1-based line it starts on.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, CatalogError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut field = String::new();
    let mut fields = Vec::new();
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if !(fields.len() == 1 && fields[0].is_empty()) {
                    records.push((start_line, std::mem::take(&mut fields)));
                }
                fields.clear();
                line += 1;
                start_line = line;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(cerr(start_line, "unterminated quoted field"));
    }
    if any {
        fields.push(field);
        if !(fields.len() == 1 && fields[0].is_empty()) {
            records.push((start_line, fields));
        }
    }
    Ok(records)
}

const CSV_COLUMNS: [&str; 6] = [
    "Product_Display_Name",
    "String_Id",
    "GUID",
    "Service_Plan_Name",
    "Service_Plan_Id",
    "Service_Plans_Included_Friendly_Names",
];

/// Reads SKUs from Microsoft's "Product names and service plan identifiers" CSV layout.
/// Columns are found by header name, so extra columns or another order are accepted.
pub fn skus_from_csv(text: &str) -> Result<Vec<SkuSpec>, CatalogError> {
    let records = parse_csv(text)?;
    let Some((hline, header)) = records.first() else {
        return Err(cerr(0, "empty catalogue file"));
    };
    let mut cols = [0usize; 6];
    for (i, name) in CSV_COLUMNS.iter().enumerate() {
        cols[i] = header
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| cerr(*hline, format!("missing column {name}")))?;
    }
    let mut skus: Vec<SkuSpec> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (line, rec) in &records[1..] {
        let get = |i: usize| -> Result<String, CatalogError> {
            rec.get(cols[i])
                .map(|s| s.trim().to_string())
                .ok_or_else(|| cerr(*line, format!("missing field {}", CSV_COLUMNS[i])))
        };
        let (display, part, guid) = (get(0)?, get(1)?, get(2)?);
        let (pname, pguid, pfriendly) = (get(3)?, get(4)?, get(5)?);
        if part.is_empty() {
            return Err(cerr(*line, "empty String_Id"));
        }
        let i = *index.entry(part.clone()).or_insert_with(|| {
            skus.push(SkuSpec {
                part_number: part.clone(),
                guid: guid.to_ascii_lowercase(),
                display_name: display.clone(),
                plans: Vec::new(),
            });
            skus.len() - 1
        });
        if pname.is_empty() {
            continue;
        }
        let sku = &mut skus[i];
        if !sku.plans.iter().any(|p| p.name == pname) {
            sku.plans.push(PlanSpec {
                name: pname,
                guid: pguid.to_ascii_lowercase(),
                friendly_name: pfriendly,
            });
        }
    }
    Ok(skus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reader_handles_quotes_bom_and_crlf() {
        let text = "\u{feff}Product_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,Service_Plans_Included_Friendly_Names\r\n\"Contoso, \"\"Pro\"\"\",X,1,P,2,\"Plan, one\"\r\n";
        let skus = skus_from_csv(text).unwrap();
        assert_eq!(skus[0].display_name, "Contoso, \"Pro\"");
        assert_eq!(skus[0].plans[0].friendly_name, "Plan, one");
        assert!(
            skus_from_csv("a,b\n")
                .unwrap_err()
                .message
                .contains("missing column")
        );
        assert!(parse_csv("\"open").is_err());
    }
}
