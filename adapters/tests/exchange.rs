//! The exchange price client against a loopback mempool.space-compatible
//! server: good answers, and every way an answer can be unusable.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fiatline_adapters::exchange::{ExchangeClient, ExchangePrice};
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::Chain;

fn server() -> EsploraServer {
    EsploraServer::start(Chain::generate_light(1, vec![1], 1))
}

fn client(server: &EsploraServer) -> ExchangeClient {
    ExchangeClient::new(&server.url(), Duration::from_secs(1))
}

#[test]
fn the_current_and_a_historical_price_are_read() {
    let server = server();
    server.set_prices(
        200,
        r#"{"time":1703252411,"USD":43899,"EUR":40004,"GBP":34671,"CAD":58238}"#,
    );
    server.set_historical(
        200,
        r#"{"prices":[{"time":1499904000,"EUR":1964,"USD":2254.9}],"exchangeRates":{"USDEUR":0.92}}"#,
    );
    let c = client(&server);
    assert_eq!(
        c.latest().unwrap(),
        ExchangePrice {
            usd: 43899.0,
            time: 1_703_252_411
        }
    );
    assert_eq!(
        c.historical(1_500_000_000).unwrap(),
        ExchangePrice {
            usd: 2254.9,
            time: 1_499_904_000
        }
    );
}

#[test]
fn unusable_answers_are_errors_that_say_why() {
    let server = server();
    let c = client(&server);
    let cases: [(u16, &str, bool, &str); 7] = [
        (200, r#"{"time":1703252411,"USD":"#, false, "malformed JSON"),
        (
            200,
            r#"{"time":1703252411,"EUR":40004}"#,
            false,
            "no usable USD price",
        ),
        (
            200,
            r#"{"time":1703252411,"USD":0}"#,
            false,
            "no usable USD price",
        ),
        (200, r#"{"USD":43000}"#, false, "no time"),
        (404, "Not Found", false, "HTTP 404"),
        (429, "Too Many Requests", true, "HTTP 429"),
        (503, "Unavailable", true, "HTTP 503"),
    ];
    for (status, body, transient, says) in cases {
        server.set_prices(status, body);
        let e = c.latest().unwrap_err();
        assert_eq!(e.is_transient(), transient, "{body}: {e}");
        assert!(e.to_string().contains(says), "{body}: {e}");
    }
    server.set_historical(200, r#"{"prices":[],"exchangeRates":{}}"#);
    let e = c.historical(1_500_000_000).unwrap_err();
    assert!(e.to_string().contains("no price for that time"), "{e}");
}

#[test]
fn a_slow_or_vanished_server_is_a_transient_error() {
    let server = server();
    server.set_prices(200, r#"{"time":1703252411,"USD":43899}"#);
    let c = client(&server);
    server.faults.delay_ms.store(2500, Ordering::SeqCst);
    let e = c.latest().unwrap_err();
    assert!(e.is_transient(), "{e}");
    server.faults.delay_ms.store(0, Ordering::SeqCst);
    server.stop();
    assert!(c.latest().unwrap_err().is_transient());
    server.restart();
    assert_eq!(c.latest().unwrap().usd, 43899.0);
}
