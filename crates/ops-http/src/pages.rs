//! Guarding paginated listings against services that never end them.
//!
//! A listing follows next links, or raises an offset, until the service reports the last page. A
//! misbehaving service can link back to an earlier page, or keep sending pages. [`PageGuard`]
//! stops both: each listing visits a URL at most once and reads at most [`MAX_PAGES`] pages.

use std::collections::HashSet;

use ops_core::PortError;
use reqwest::Url;

/// The maximum number of pages one listing reads. At a page size of 100 rows it allows ten
/// million rows, which is estimated to be well above any fleet a connector lists.
pub const MAX_PAGES: usize = 100_000;

/// The pages one listing has requested.
#[derive(Debug)]
pub struct PageGuard {
    service: String,
    operation: String,
    seen: HashSet<Url>,
    max_pages: usize,
}

impl PageGuard {
    /// Starts a listing of `service` during `operation`, for error messages.
    pub fn new(service: impl Into<String>, operation: impl Into<String>) -> PageGuard {
        PageGuard::with_max_pages(service, operation, MAX_PAGES)
    }

    /// Starts a listing that reads at most `max_pages` pages.
    pub fn with_max_pages(
        service: impl Into<String>,
        operation: impl Into<String>,
        max_pages: usize,
    ) -> PageGuard {
        PageGuard {
            service: service.into(),
            operation: operation.into(),
            seen: HashSet::new(),
            max_pages,
        }
    }

    /// Records a request for `url`. Fails when this listing requested `url` before, or has
    /// already read its maximum number of pages.
    pub fn visit(&mut self, url: &Url) -> Result<(), PortError> {
        if self.seen.len() >= self.max_pages {
            return Err(PortError::permanent(
                &self.service,
                &self.operation,
                format!(
                    "the listing did not end after {} pages; the service keeps sending pages, \
                     so its paging is broken or it is not the service configured",
                    self.max_pages
                ),
            ));
        }
        if !self.seen.insert(url.clone()) {
            return Err(PortError::permanent(
                &self.service,
                &self.operation,
                format!(
                    "the service linked back to a page already read ({}), which would loop \
                     forever",
                    url.path()
                ),
            ));
        }
        Ok(())
    }

    /// Returns the number of pages requested so far.
    pub fn pages(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use ops_core::ErrorKind;

    use super::*;

    fn page(number: u32) -> Url {
        Url::parse(&format!(
            "https://graph.example/v1.0/apps?$skiptoken={number}"
        ))
        .unwrap()
    }

    #[test]
    fn new_pages_are_accepted() {
        let mut guard = PageGuard::new("Graph", "list apps");
        for number in 0..10 {
            guard.visit(&page(number)).unwrap();
        }
        assert_eq!(guard.pages(), 10);
    }

    #[test]
    fn link_to_earlier_page_is_an_error() {
        let mut guard = PageGuard::new("Graph", "list apps");
        guard.visit(&page(1)).unwrap();
        guard.visit(&page(2)).unwrap();

        let error = guard.visit(&page(1)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent);
        assert_eq!(
            error.to_string(),
            "Graph list apps failed: the service linked back to a page already read \
             (/v1.0/apps), which would loop forever"
        );
    }

    #[test]
    fn endless_listing_stops_at_the_maximum() {
        let mut guard = PageGuard::with_max_pages("Landscape", "list packages", 3);
        for number in 0..3 {
            guard.visit(&page(number)).unwrap();
        }

        let error = guard.visit(&page(3)).unwrap_err();
        assert!(
            error.to_string().contains("did not end after 3 pages"),
            "{error}"
        );
    }
}
