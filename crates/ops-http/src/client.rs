//! A REST client with bounded concurrency, retries and token refresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use ops_core::PortError;
use ops_core::ports::Clock;
use ops_core::retry::RetryPolicy;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::token::TokenProvider;
use crate::{DEFAULT_MAX_RESPONSE_BYTES, decode_json, read_body, request_error, status_error};

/// Adds credentials to requests.
#[async_trait]
pub trait Authorizer: Send + Sync {
    /// Returns the request with its credentials set. Credential headers must be marked
    /// sensitive, as reqwest's `bearer_auth` and `basic_auth` do, so no debug output shows them.
    async fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder, PortError>;

    /// Forgets cached credentials after the service answered 401.
    async fn invalidate(&self) {}
}

/// Sends a bearer token from a [`TokenProvider`].
pub struct BearerAuthorizer {
    tokens: Arc<dyn TokenProvider>,
}

impl BearerAuthorizer {
    /// Creates an authorizer over a token provider.
    pub fn new(tokens: Arc<dyn TokenProvider>) -> BearerAuthorizer {
        BearerAuthorizer { tokens }
    }
}

#[async_trait]
impl Authorizer for BearerAuthorizer {
    async fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder, PortError> {
        let token = self.tokens.token().await?;
        Ok(request.bearer_auth(token.expose()))
    }

    async fn invalidate(&self) {
        self.tokens.invalidate().await;
    }
}

/// Sends requests without credentials.
pub struct NoAuthorizer;

#[async_trait]
impl Authorizer for NoAuthorizer {
    async fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder, PortError> {
        Ok(request)
    }
}

/// Limits and policies of a [`RestClient`].
#[derive(Debug, Clone)]
pub struct RestClientOptions {
    /// Time allowed for one request, response body included.
    pub timeout: Duration,
    /// Requests in flight at once; further calls wait for a slot.
    pub max_concurrency: usize,
    /// Retries of transient failures and throttling.
    pub retry: RetryPolicy,
    /// The largest response body read; a longer one fails the call.
    pub max_response_bytes: usize,
}

impl Default for RestClientOptions {
    /// Thirty seconds per request, four in flight, the default retry policy, and bodies of up
    /// to [`DEFAULT_MAX_RESPONSE_BYTES`].
    fn default() -> RestClientOptions {
        RestClientOptions {
            timeout: Duration::from_secs(30),
            max_concurrency: 4,
            retry: RetryPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// A successful response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status, always a success.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// A client for one service's REST API.
pub struct RestClient {
    service: String,
    base: Url,
    http: reqwest::Client,
    authorizer: Arc<dyn Authorizer>,
    limiter: Arc<Semaphore>,
    retry: RetryPolicy,
    max_response_bytes: usize,
    clock: Arc<dyn Clock>,
}

impl RestClient {
    /// Creates a client for `service` (a name for errors and logs) at `base`.
    pub fn new(
        service: impl Into<String>,
        base: Url,
        authorizer: Arc<dyn Authorizer>,
        clock: Arc<dyn Clock>,
        options: RestClientOptions,
    ) -> Result<RestClient, PortError> {
        let service = service.into();
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            // A redirect could carry credentials or a token request to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| request_error(&service, "build HTTP client", error))?;
        Ok(RestClient {
            service,
            base,
            http,
            authorizer,
            limiter: Arc::new(Semaphore::new(options.max_concurrency.max(1))),
            retry: options.retry,
            max_response_bytes: options.max_response_bytes,
            clock,
        })
    }

    /// Returns the service's name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Returns the clock the client retries on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Resolves `path` against the base URL. A path that starts with `/` replaces the base's
    /// path; relative paths extend it. Absolute URLs (`@odata.nextLink`) are returned as they
    /// are, but only on the base's host, so a crafted link cannot send credentials elsewhere.
    pub fn url(&self, path: &str) -> Result<Url, PortError> {
        let invalid = |message: String| PortError::permanent(&self.service, "build URL", message);
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            Url::parse(path).map_err(|error| invalid(format!("{path:?} is not a URL: {error}")))?
        } else {
            let mut base = self.base.clone();
            if !base.path().ends_with('/') && !path.starts_with('/') {
                base.set_path(&format!("{}/", base.path()));
            }
            base.join(path)
                .map_err(|error| invalid(format!("{path:?} is not a path: {error}")))?
        };
        let same_origin = url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default();
        if !same_origin {
            return Err(invalid(format!(
                "the service linked to {}, another host than {}; refusing to send credentials there",
                url.origin().ascii_serialization(),
                self.base.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// Sends a request built by `build`, retrying throttling and transient failures, and
    /// asking for a new token once after a 401. Returns the response when its status is a
    /// success, or the port error its status maps to.
    pub async fn send<F>(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        build: F,
    ) -> Result<Response, PortError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder + Send + Sync,
    {
        self.retry
            .run(self.clock.as_ref(), |_attempt| {
                self.send_once(operation, method.clone(), url.clone(), &build)
            })
            .await
    }

    /// Sends a request once, without the retry policy, for calls that are not idempotent (a job
    /// launch): a retry after a 5xx or a timeout could repeat what the first call already did.
    /// A 401 still gets one fresh token, because the service rejected the call unseen.
    pub async fn send_unretried<F>(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        build: F,
    ) -> Result<Response, PortError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder + Send + Sync,
    {
        self.send_once(operation, method, url, &build).await
    }

    /// Sends a GET and decodes the JSON body.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        url: Url,
    ) -> Result<T, PortError> {
        let response = self
            .send(operation, Method::GET, url, |request| request)
            .await?;
        decode_json(&self.service, operation, &response.body)
    }

    async fn send_once<F>(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        build: &F,
    ) -> Result<Response, PortError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder + Send + Sync,
    {
        let _permit =
            self.limiter.acquire().await.map_err(|_| {
                PortError::permanent(&self.service, operation, "client is shut down")
            })?;

        let mut refreshed = false;
        loop {
            let request = build(self.http.request(method.clone(), url.clone()));
            let request = self.authorizer.authorize(request).await?;
            let started = Instant::now();
            let response = request
                .send()
                .await
                .map_err(|error| request_error(&self.service, operation, error))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body =
                read_body(&self.service, operation, response, self.max_response_bytes).await?;
            tracing::debug!(
                service = %self.service,
                operation,
                method = %method,
                path = url.path(),
                status = status.as_u16(),
                latency_ms = started.elapsed().as_millis() as u64,
                "called service"
            );

            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.authorizer.invalidate().await;
                continue;
            }
            if !status.is_success() {
                return Err(status_error(
                    &self.service,
                    operation,
                    status,
                    &headers,
                    &body,
                    self.clock.now(),
                ));
            }
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ops_core::ErrorKind;
    use ops_core::ports::Secret;
    use ops_testkit::FakeClock;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    /// Hands out `token-1`, `token-2`, ... and counts invalidations.
    #[derive(Default)]
    struct CountingTokens {
        issued: AtomicUsize,
        current: std::sync::Mutex<Option<String>>,
    }

    #[async_trait]
    impl TokenProvider for CountingTokens {
        async fn token(&self) -> Result<Secret, PortError> {
            let mut current = self.current.lock().unwrap();
            let token = current.get_or_insert_with(|| {
                format!("token-{}", self.issued.fetch_add(1, Ordering::SeqCst) + 1)
            });
            Ok(Secret::new(token.clone()))
        }

        async fn invalidate(&self) {
            *self.current.lock().unwrap() = None;
        }
    }

    fn client(
        server: &MockServer,
        tokens: Arc<CountingTokens>,
        clock: Arc<FakeClock>,
    ) -> RestClient {
        let options = RestClientOptions {
            retry: RetryPolicy {
                max_attempts: 4,
                ..RetryPolicy::default()
            },
            ..RestClientOptions::default()
        };
        RestClient::new(
            "Jamf",
            Url::parse(&format!("{}/api/", server.uri())).unwrap(),
            Arc::new(BearerAuthorizer::new(tokens)),
            clock,
            options,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn throttling_is_retried_after_the_requested_delay() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/packages"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "12"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/packages"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"totalCount": 0})),
            )
            .mount(&server)
            .await;
        let clock = Arc::new(FakeClock::default());
        let client = client(&server, Arc::default(), clock.clone());

        let url = client.url("v1/packages").unwrap();
        let body: serde_json::Value = client.get_json("list packages", url).await.unwrap();
        assert_eq!(body["totalCount"], 0);
        assert_eq!(clock.sleeps(), [Duration::from_secs(12)]);
    }

    #[tokio::test]
    async fn oversized_body_fails_without_retry() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("z".repeat(2_000)))
            .expect(1)
            .mount(&server)
            .await;
        let options = RestClientOptions {
            max_response_bytes: 1_000,
            ..RestClientOptions::default()
        };
        let client = RestClient::new(
            "Jamf",
            Url::parse(&server.uri()).unwrap(),
            Arc::new(NoAuthorizer),
            Arc::new(FakeClock::default()),
            options,
        )
        .unwrap();

        let url = client.url("v1/packages").unwrap();
        let error = client
            .send("list packages", Method::GET, url, |request| request)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent);
        assert_eq!(
            error.to_string(),
            "Jamf list packages failed: the response body is larger than 1000 bytes, the most \
             this client reads; check that the configured URL points at the service, or lower \
             the page size"
        );
    }

    #[tokio::test]
    async fn unauthorized_gets_one_fresh_token() {
        let server = MockServer::start().await;
        Mock::given(header("authorization", "Bearer token-1"))
            .respond_with(ResponseTemplate::new(401))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(header("authorization", "Bearer token-2"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .expect(1)
            .mount(&server)
            .await;
        let tokens = Arc::new(CountingTokens::default());
        let client = client(&server, tokens.clone(), Arc::new(FakeClock::default()));
        let url = client.url("v1/ping").unwrap();
        client
            .send("ping", Method::GET, url, |request| request)
            .await
            .unwrap();
        assert_eq!(tokens.issued.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn repeated_unauthorized_is_an_error() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401))
            .expect(2)
            .mount(&server)
            .await;
        let client = client(&server, Arc::default(), Arc::new(FakeClock::default()));
        let url = client.url("v1/ping").unwrap();
        let error = client
            .send("ping", Method::GET, url, |request| request)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert_eq!(error.to_string(), "Jamf ping failed: HTTP 401");
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_succeed() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(502))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let clock = Arc::new(FakeClock::default());
        let client = client(&server, Arc::default(), clock.clone());
        let url = client.url("v1/ping").unwrap();
        client
            .send("ping", Method::GET, url, |request| request)
            .await
            .unwrap();
        assert_eq!(clock.sleeps().len(), 2);
    }

    #[tokio::test]
    async fn connection_refused_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let options = RestClientOptions {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            ..RestClientOptions::default()
        };
        let client = RestClient::new(
            "AWX",
            Url::parse(&format!("http://{address}/api/v2/")).unwrap(),
            Arc::new(NoAuthorizer),
            Arc::new(FakeClock::default()),
            options,
        )
        .unwrap();
        let url = client.url("ping/").unwrap();
        let error = client
            .send("ping", Method::GET, url, |request| request)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Transient);
        assert_eq!(error.to_string(), "AWX ping failed: connection failed");
    }

    #[tokio::test]
    async fn links_to_other_hosts_are_refused() {
        let server = MockServer::start().await;
        let client = client(&server, Arc::default(), Arc::new(FakeClock::default()));
        assert_eq!(
            client.url("/api/v2/jobs/?page=2").unwrap().path(),
            "/api/v2/jobs/"
        );
        let next = format!("{}/api/v2/jobs/?page=3", server.uri());
        assert_eq!(client.url(&next).unwrap().query(), Some("page=3"));
        let error = client.url("https://attacker.example/steal").unwrap_err();
        assert!(
            error.to_string().contains("refusing to send credentials"),
            "{error}"
        );
    }
}
