//! Chunking: each metric's writes into request bodies whose exact serialised size stays within
//! the budget. A value too large for any batch is returned apart, to be rejected.

use super::diff::Write;

const HEAD: &[u8] = b"{\"data\":[";
const TAIL: &[u8] = b"]}";

/// A batch: its exact body and the writes in it, in body order.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub body: Vec<u8>,
    pub writes: Vec<Write>,
}

/// Joins serialised items into a body.
pub fn assemble(items: &[Vec<u8>]) -> Vec<u8> {
    let len = HEAD.len() + TAIL.len() + items.iter().map(|i| i.len() + 1).sum::<usize>();
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(HEAD);
    for (n, i) in items.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(i);
    }
    body.extend_from_slice(TAIL);
    body
}

/// Splits writes into chunks of at most `budget` bytes each.
pub fn chunk(writes: Vec<Write>, budget: usize) -> (Vec<Chunk>, Vec<Write>) {
    let mut chunks = Vec::new();
    let mut too_large = Vec::new();
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut cur: Vec<Write> = Vec::new();
    let mut size = HEAD.len() + TAIL.len();
    for w in writes {
        let bytes = w.json();
        if HEAD.len() + TAIL.len() + bytes.len() > budget {
            too_large.push(w);
            continue;
        }
        let add = bytes.len() + usize::from(!items.is_empty());
        if size + add > budget {
            chunks.push(Chunk {
                body: assemble(&items),
                writes: std::mem::take(&mut cur),
            });
            items.clear();
            size = HEAD.len() + TAIL.len();
        }
        size += bytes.len() + usize::from(!items.is_empty());
        items.push(bytes);
        cur.push(w);
    }
    if !items.is_empty() {
        chunks.push(Chunk {
            body: assemble(&items),
            writes: cur,
        });
    }
    (chunks, too_large)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::validate::SrcRef;
    use crate::workiva::models::{MetricValue, ReportingPeriod};

    fn w(i: u16, len: usize) -> Write {
        Write {
            item: MetricValue {
                value: Some("9".repeat(len)),
                reporting_period: Some(ReportingPeriod {
                    year: 1000 + i,
                    start: 1,
                    end: 12,
                }),
                ..Default::default()
            },
            src: SrcRef {
                file: "f".into(),
                row: i as u64,
            },
            create: true,
            metric_key: "m".into(),
            before: None,
            hand_edit: false,
        }
    }

    #[test]
    fn bodies_are_exact_and_within_budget() {
        let writes: Vec<Write> = (0..500).map(|i| w(i, (i as usize * 37) % 300)).collect();
        for budget in [200usize, 1_000, 5_000, 100_000] {
            let (chunks, big) = chunk(writes.clone(), budget);
            let total: usize = chunks.iter().map(|c| c.writes.len()).sum();
            assert_eq!(total + big.len(), 500);
            for c in &chunks {
                assert!(c.body.len() <= budget, "{} > {budget}", c.body.len());
                let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
                assert_eq!(v["data"].as_array().unwrap().len(), c.writes.len());
            }
            for b in &big {
                assert!(b.json().len() + 11 > budget);
            }
        }
        let (chunks, _) = chunk(writes, 10_000_000);
        assert_eq!(
            chunks.len(),
            1,
            "everything fits one body when the budget allows"
        );
    }
}
