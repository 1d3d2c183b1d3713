//! The `Accept-Encoding` that picks a precompressed sibling ([`Encoding`]) to send.

use http::{HeaderMap, header};

use crate::statics::Encoding;

/// Whether the `Accept-Encoding` token `coding` names `encoding` (`x-gzip` is gzip's old name).
fn names(encoding: Encoding, coding: &str) -> bool {
    coding.eq_ignore_ascii_case(encoding.token())
        || (encoding == Encoding::Gzip && coding.eq_ignore_ascii_case("x-gzip"))
}

/// The encodings among `offered` (in the server's order of preference) that `Accept-Encoding` accepts, best
/// first: by the client's weight, ties broken by the server's order. `*` stands for every coding not named; a
/// weight of 0 refuses. No header accepts none of them (identity only).
pub(crate) fn acceptable(headers: &HeaderMap, offered: &[Encoding]) -> Vec<Encoding> {
    let mut weights: Vec<(Encoding, u32, usize)> = Vec::new();
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return Vec::new();
    }
    for (rank, &encoding) in offered.iter().enumerate() {
        let mut named = None;
        let mut star = None;
        for item in values.iter().flat_map(|v| v.split(',')) {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let weight = parts
                .find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| parse_weight(v.trim()))
                })
                .unwrap_or(Some(1000));
            let Some(weight) = weight else { continue };
            if names(encoding, coding) {
                named = Some(weight);
            } else if coding == "*" {
                star = Some(weight);
            }
        }
        if let Some(weight) = named.or(star).filter(|w| *w > 0) {
            weights.push((encoding, weight, rank));
        }
    }
    weights.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    weights.into_iter().map(|(e, _, _)| e).collect()
}

/// A `qvalue` in thousandths (`0`, `0.5`, `1.000`), or `None` when it is not one.
fn parse_weight(value: &str) -> Option<u32> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u32>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const BOTH: &[Encoding] = &[Encoding::Brotli, Encoding::Gzip];

    fn accept(value: &str) -> Vec<Encoding> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        acceptable(&headers, BOTH)
    }

    #[test]
    fn the_server_order_breaks_ties() {
        assert_eq!(
            accept("gzip, deflate, br"),
            vec![Encoding::Brotli, Encoding::Gzip]
        );
        assert_eq!(accept("gzip"), vec![Encoding::Gzip]);
        assert_eq!(accept("*"), vec![Encoding::Brotli, Encoding::Gzip]);
    }

    #[test]
    fn weights_order_and_zero_refuses() {
        assert_eq!(
            accept("br;q=0.5, gzip"),
            vec![Encoding::Gzip, Encoding::Brotli]
        );
        assert_eq!(accept("br;q=0, *"), vec![Encoding::Gzip]);
        assert_eq!(accept("identity"), Vec::<Encoding>::new());
        assert_eq!(accept("x-gzip;q=1.0"), vec![Encoding::Gzip]);
        assert_eq!(accept("br;q=2"), Vec::<Encoding>::new());
        assert!(acceptable(&HeaderMap::new(), BOTH).is_empty());
    }
}
