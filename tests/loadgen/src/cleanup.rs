//! Deletes the streams tests leave on the NATS server (`t<16 hex>_EVENTS`, `..._COMMANDS`), which
//! otherwise pile up run after run. Streams of other names are never touched.

use futures::TryStreamExt;

fn is_test_stream(name: &str) -> bool {
    let Some((prefix, rest)) = name.split_once('_') else { return false };
    prefix.len() == 17
        && prefix.starts_with('t')
        && prefix[1..].bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(rest, "EVENTS" | "COMMANDS")
}

pub async fn run() -> anyhow::Result<()> {
    let client = async_nats::connect(platform::testing::nats_url()).await?;
    let js = async_nats::jetstream::new(client);
    let names: Vec<String> = js.stream_names().try_collect().await?;
    let mut deleted = 0;
    for name in names.iter().filter(|n| is_test_stream(n)) {
        if js.delete_stream(name).await.is_ok() {
            deleted += 1;
        }
    }
    println!("deleted {deleted} test streams of {}", names.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_test_streams_match() {
        assert!(super::is_test_stream("t0123456789abcdef_EVENTS"));
        assert!(!super::is_test_stream("EVENTS"));
        assert!(!super::is_test_stream("t0123456789abcdef_OTHER"));
        assert!(!super::is_test_stream("prod_EVENTS"));
    }
}
