//! Internal gRPC authentication: the service token in metadata.

use platform::grpc::ServiceToken;
use secrecy::SecretString;
use tonic::service::Interceptor;

fn token(secret: &str) -> ServiceToken {
    ServiceToken::new(SecretString::from(secret.to_owned()))
}

#[test]
fn the_token_is_accepted_and_anything_else_refused() {
    let ours = token("s3cret-token");
    let mut signed = tonic::Request::new(());
    ours.attach(&mut signed);
    assert!(ours.verify(signed.metadata()));

    let mut forged = tonic::Request::new(());
    token("s3cret-tokem").attach(&mut forged);
    assert!(!ours.verify(forged.metadata()));
    let mut prefix = tonic::Request::new(());
    token("s3cret").attach(&mut prefix);
    assert!(!ours.verify(prefix.metadata()), "a prefix of the token is not the token");
    assert!(!ours.verify(tonic::Request::new(()).metadata()), "no token");
}

#[test]
fn the_interceptor_answers_unauthenticated_without_the_token() {
    let ours = token("s3cret-token");
    let mut interceptor = ours.interceptor();
    let mut signed = tonic::Request::new(());
    ours.attach(&mut signed);
    assert!(interceptor.call(signed).is_ok());
    let refused = interceptor.call(tonic::Request::new(())).unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(!format!("{ours:?}").contains("s3cret"), "Debug never shows the secret");
}

#[test]
fn an_empty_token_accepts_nobody() {
    let empty = token("");
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert("authorization", "Bearer ".parse().unwrap());
    assert!(!empty.verify(request.metadata()));
}
