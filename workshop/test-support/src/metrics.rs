//! Reading a service's Prometheus metrics, as tests and benchmarks assert on them.

/// The text exposition at `url` (`http://host:port/metrics`).
pub async fn scrape(url: &str) -> String {
    reqwest::get(url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("cannot scrape {url}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("cannot read {url}: {e}"))
}

/// A sample's value: `name` is the metric with its labels as exposed, such as
/// `stream_job_written_total{table="orders_by_id"}`. 0 when absent.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// The `q` quantile of a histogram, interpolated linearly inside its bucket.
pub fn histogram_quantile(text: &str, name: &str, q: f64) -> Option<f64> {
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for (le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(previous.0);
            }
            let share = if count > previous.1 {
                (rank - previous.1) / (count - previous.1)
            } else {
                1.0
            };
            return Some(previous.0 + (le - previous.0) * share);
        }
        previous = (le, count);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_by_full_name() {
        let text = "a_total{x=\"1\"} 3\na_total 7\na_total_more 9\n";
        assert_eq!(metric(text, "a_total{x=\"1\"}"), 3.0);
        assert_eq!(metric(text, "a_total"), 7.0);
        assert_eq!(metric(text, "b_total"), 0.0);
    }

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let text = "x_bucket{le=\"1.0\"} 0\nx_bucket{le=\"2.0\"} 50\nx_bucket{le=\"4.0\"} 100\nx_bucket{le=\"+Inf\"} 100\n";
        assert_eq!(histogram_quantile(text, "x", 0.5), Some(2.0));
        assert_eq!(histogram_quantile(text, "x", 0.25), Some(1.5));
        assert_eq!(histogram_quantile(text, "x", 0.75), Some(3.0));
        assert_eq!(histogram_quantile("", "x", 0.5), None);
    }
}
