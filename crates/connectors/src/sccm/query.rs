//! OData queries on the AdminService WMI route, read page by page.

use ops_core::PortError;
use ops_core::error::PortResult;
use ops_http::{Method, PageGuard, Url, decode_json};
use serde::Deserialize;
use serde_json::Value;

use super::SERVICE;
use super::transport::NegotiateClient;

/// A query of one WMI class: `GET wmi/{class}?$filter=...&$select=...&$orderby=...`.
pub(super) struct Query<'a> {
    pub(super) class: &'a str,
    pub(super) filter: Option<String>,
    pub(super) select: &'a [&'a str],
    /// A key that orders rows, so that `$skip` pages do not overlap or miss rows.
    pub(super) order_by: Option<&'a str>,
}

/// One page of a collection: `{"@odata.context": ..., "value": [...]}`.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

impl Query<'_> {
    fn url(&self, client: &NegotiateClient, top: u32, skip: usize) -> PortResult<Url> {
        let mut parameters = Vec::new();
        if let Some(filter) = &self.filter {
            parameters.push(("$filter", filter.clone()));
        }
        if !self.select.is_empty() {
            parameters.push(("$select", self.select.join(",")));
        }
        if let Some(order_by) = self.order_by {
            parameters.push(("$orderby", order_by.to_owned()));
        }
        parameters.push(("$top", top.to_string()));
        if skip > 0 {
            parameters.push(("$skip", skip.to_string()));
        }
        let query: Vec<String> = parameters
            .into_iter()
            .map(|(name, value)| format!("{name}={}", encode(&value)))
            .collect();
        let mut url = client.url(&format!("wmi/{}", self.class))?;
        url.set_query(Some(&query.join("&")));
        Ok(url)
    }

    /// Reads every row, `top` rows per page.
    ///
    /// The WMI route documents no `@odata.nextLink`, so pages are requested with `$top` and
    /// `$skip` until one comes back short. A `nextLink`, if the server sends one, is followed
    /// instead.
    pub(super) async fn rows(
        &self,
        client: &NegotiateClient,
        operation: &str,
        top: u32,
    ) -> PortResult<Vec<Value>> {
        let mut rows = Vec::new();
        let mut url = self.url(client, top, 0)?;
        let mut previous_first: Option<Value> = None;
        let mut pages = PageGuard::new(SERVICE, operation);
        loop {
            pages.visit(&url)?;
            let response = client.send(operation, Method::GET, url).await?;
            let page: Page = decode_json(SERVICE, operation, &response.body)?;
            let count = page.value.len();
            let first = page.value.first().cloned();
            if first.is_some() && first == previous_first {
                return Err(PortError::permanent(
                    SERVICE,
                    operation,
                    "the AdminService returned the same page twice, so it ignores $skip; \
                     raise connectors.sccm.page_size above the number of rows",
                ));
            }
            rows.extend(page.value);

            url = match page.next_link {
                Some(link) => client.url(&link)?,
                // A short page is the last one. A page longer than `$top` means the server
                // ignored `$top` and sent every row.
                None if count != top as usize => break,
                None => self.url(client, top, rows.len())?,
            };
            previous_first = first;
        }
        Ok(rows)
    }
}

/// Quotes a string literal for `$filter`, doubling single quotes as OData requires.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Percent-encodes a query value, leaving only the unreserved characters of RFC 3986, so
/// that spaces become `%20` (not `+`) and `&`, `=` and `'` in values cannot end a parameter.
fn encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'$' | b',') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Reads an integer field, written as a JSON number or a string of digits.
pub(super) fn integer(row: &Value, field: &str) -> Option<u64> {
    match row.get(field)? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a string field, trimmed, or `None` when absent, null or blank.
pub(super) fn text<'a>(row: &'a Value, field: &str) -> Option<&'a str> {
    row.get(field)?
        .as_str()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_doubles_quotes() {
        assert_eq!(literal("Contoso Agent"), "'Contoso Agent'");
        assert_eq!(literal("O'Brien's Tool"), "'O''Brien''s Tool'");
    }

    #[test]
    fn encode_keeps_only_unreserved() {
        assert_eq!(
            encode("LocalizedDisplayName eq 'AT&T = x'"),
            "LocalizedDisplayName%20eq%20%27AT%26T%20%3D%20x%27"
        );
        assert_eq!(encode("ResourceID,Name"), "ResourceID,Name");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn integer_reads_numbers_and_digit_strings() {
        let row = serde_json::json!({"a": 16777220, "b": "42", "c": "x", "d": -1});
        assert_eq!(integer(&row, "a"), Some(16777220));
        assert_eq!(integer(&row, "b"), Some(42));
        assert_eq!(integer(&row, "c"), None);
        assert_eq!(integer(&row, "d"), None);
        assert_eq!(integer(&row, "missing"), None);
    }
}
