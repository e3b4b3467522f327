//! Following a list's pages safely: every `@nextLink` must be on the configured origin and new,
//! no page larger than asked for, and the whole list within `max_pages` and `max_list_secs`.

use std::collections::HashSet;
use std::time::Instant;

use super::config::WorkivaConfig;
use super::error::{Result, WorkivaError};
use super::http::Transport;

/// Following a list's pages: each `@nextLink` on the configured origin and new, each page no
/// larger than asked for, and the list within `max_pages` and `max_list_secs`.
pub(super) struct Pages<'a> {
    transport: &'a Transport,
    cfg: &'a WorkivaConfig,
    template: &'static str,
    page_size: Option<u32>,
    seen: HashSet<String>,
    pages: u32,
    started: Instant,
}

impl<'a> Pages<'a> {
    pub(super) fn new(
        transport: &'a Transport,
        cfg: &'a WorkivaConfig,
        template: &'static str,
        page_size: Option<u32>,
    ) -> Self {
        Self {
            transport,
            cfg,
            template,
            page_size,
            seen: HashSet::new(),
            pages: 0,
            started: Instant::now(),
        }
    }

    /// Checks a page of `items` and returns the link to follow next, if any.
    pub(super) fn follow(&mut self, items: usize, link: Option<String>) -> Result<Option<String>> {
        self.pages += 1;
        if let Some(asked) = self.page_size
            && items > asked as usize
        {
            return Err(WorkivaError::PageTooLarge {
                path: self.template.to_string(),
                items,
                asked,
            });
        }
        let Some(link) = link else {
            return Ok(None);
        };
        self.transport.check_origin("@nextLink", &link)?;
        let cfg = self.cfg;
        if self.pages >= cfg.max_pages || self.started.elapsed().as_secs() >= cfg.max_list_secs {
            return Err(WorkivaError::ListTooLong {
                path: self.template.to_string(),
                pages: self.pages,
                elapsed: self.started.elapsed(),
                max_pages: cfg.max_pages,
                max_secs: cfg.max_list_secs,
                link: link.chars().take(300).collect(),
            });
        }
        if !self.seen.insert(link.clone()) {
            return Err(WorkivaError::PaginationLoop {
                path: self.template.to_string(),
                link,
            });
        }
        Ok(Some(link))
    }
}
