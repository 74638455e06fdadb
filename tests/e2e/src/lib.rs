//! Nothing here: the suite is `tests/e2e`. Every service runs in the test process from its
//! library, on databases of its own and one NATS prefix, and the tests talk to them only over
//! HTTP, as a client would.
