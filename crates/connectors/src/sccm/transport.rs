//! HTTP/1.1 connections to the AdminService, authenticated with NTLM.
//!
//! NTLM authenticates a TCP connection, not a request: the AUTHENTICATE message must go out on
//! the connection that received the server's CHALLENGE, and the server then trusts that
//! connection for the requests that follow. reqwest picks a pooled or new connection for every
//! request itself, so it can send the AUTHENTICATE message on another connection. This client
//! therefore opens its connections through hyper's connection API and gives each request a
//! connection of its own until the response is read.
//!
//! Apart from the transport it keeps the contract of [`ops_http::RestClient`]: bounded
//! concurrency, the shared retry policy honouring Retry-After, a timeout per request, and
//! errors that name the service, the call and the status without copying a body.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{ACCEPT, AUTHORIZATION, CONNECTION, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use ops_core::ports::Clock;
use ops_core::retry::RetryPolicy;
use ops_core::{ErrorKind, PortError};
use ops_http::{Response, RestClientOptions, Url, body_too_large, status_error};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::TlsConnector;

use super::ntlm::{self, ChallengeError, NtlmCredentials, NtlmHandshake};

/// The maximum wait for a TCP connection, when the request timeout is longer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an authenticated connection stays in reserve. Servers close idle connections after
/// a timeout of their own, so an older connection is dropped instead of reused. The AdminService
/// documents no timeout, and 60 seconds is an estimate that stays under common server defaults.
const MAX_IDLE_TIME: Duration = Duration::from_secs(60);

const USER_AGENT_VALUE: &str = concat!("ops-connectors/", env!("CARGO_PKG_VERSION"));

/// A client for one AdminService that signs in with NTLM.
pub(super) struct NegotiateClient {
    service: &'static str,
    base: Url,
    endpoint: Endpoint,
    credentials: NtlmCredentials,
    idle: Mutex<Vec<IdleConnection>>,
    max_idle: usize,
    limiter: Semaphore,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    max_response_bytes: usize,
}

/// The server's address, and the TLS settings to reach it.
struct Endpoint {
    /// The host to resolve: a name, or an IP address without brackets.
    host: String,
    port: u16,
    /// The `Host` header value.
    authority: String,
    /// `None` for plain HTTP, which `parse_base_url` allows on loopback addresses only.
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// One HTTP/1.1 connection.
struct Connection {
    sender: SendRequest<Empty<Bytes>>,
    /// The `tls-server-end-point` channel binding of the connection's TLS session.
    channel_binding: Option<Vec<u8>>,
    /// True once an NTLM handshake succeeded on this connection.
    authenticated: bool,
}

struct IdleConnection {
    connection: Connection,
    since: Instant,
}

/// The outcome of sending a NEGOTIATE message.
enum Negotiated {
    /// The server served the request, or failed it, without a handshake.
    Served(Response),
    /// The server sent its CHALLENGE, and the handshake continues on the same connection.
    Challenged(Box<NtlmHandshake>, ntlm::Challenge),
}

impl NegotiateClient {
    /// Creates a client for `base`, which must end with `/`. `tls` is required for `https`.
    pub(super) fn new(
        service: &'static str,
        base: Url,
        credentials: NtlmCredentials,
        tls: Option<Arc<rustls::ClientConfig>>,
        clock: Arc<dyn Clock>,
        options: RestClientOptions,
    ) -> Result<NegotiateClient, String> {
        let endpoint = Endpoint::new(&base, tls)?;
        let max_concurrency = options.max_concurrency.max(1);
        Ok(NegotiateClient {
            service,
            base,
            endpoint,
            credentials,
            idle: Mutex::new(Vec::new()),
            max_idle: max_concurrency,
            limiter: Semaphore::new(max_concurrency),
            retry: options.retry,
            clock,
            timeout: options.timeout,
            max_response_bytes: options.max_response_bytes,
        })
    }

    /// Resolves `path` against the base URL.
    pub(super) fn url(&self, path: &str) -> Result<Url, PortError> {
        self.base.join(path).map_err(|error| {
            PortError::permanent(
                self.service,
                "build URL",
                format!("{path:?} is not a path: {error}"),
            )
        })
    }

    /// Sends a request without a body, retrying throttling and transient failures. Returns
    /// the response when its status is a success, or the port error its status maps to.
    pub(super) async fn send(
        &self,
        operation: &str,
        method: Method,
        url: Url,
    ) -> Result<Response, PortError> {
        if url.origin() != self.base.origin() {
            return Err(PortError::permanent(
                self.service,
                operation,
                format!(
                    "{} is not on the AdminService host {}; refusing to send credentials there",
                    url.origin().ascii_serialization(),
                    self.base.origin().ascii_serialization()
                ),
            ));
        }
        self.retry
            .run(self.clock.as_ref(), |_attempt| {
                self.send_once(operation, &method, &url)
            })
            .await
    }

    async fn send_once(
        &self,
        operation: &str,
        method: &Method,
        url: &Url,
    ) -> Result<Response, PortError> {
        let _permit =
            self.limiter.acquire().await.map_err(|_| {
                PortError::permanent(self.service, operation, "client is shut down")
            })?;

        let started = Instant::now();
        let response = tokio::time::timeout(self.timeout, self.exchange(operation, method, url))
            .await
            .map_err(|_| PortError::transient(self.service, operation, "request timed out"))??;
        tracing::debug!(
            service = self.service,
            operation,
            method = %method,
            path = url.path(),
            status = response.status.as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "called service"
        );

        if !response.status.is_success() {
            return Err(status_error(
                self.service,
                operation,
                response.status,
                &response.headers,
                &response.body,
                self.clock.now(),
            ));
        }
        Ok(response)
    }

    /// Sends the request on an authenticated connection in reserve, or on a new connection
    /// after an NTLM handshake, and keeps the connection for later requests.
    async fn exchange(
        &self,
        operation: &str,
        method: &Method,
        url: &Url,
    ) -> Result<Response, PortError> {
        let mut connection = match self.take_idle() {
            Some(connection) => connection,
            None => self.connect(operation).await?,
        };

        let response = if connection.authenticated {
            let request = self.request(operation, method, url, None)?;
            let response = connection
                .send(request, self.max_response_bytes)
                .await
                .map_err(|error| self.connection_error(operation, error))?;
            if response.status == StatusCode::UNAUTHORIZED {
                tracing::debug!(
                    service = self.service,
                    operation,
                    "the server asked an authenticated connection to authenticate again"
                );
                connection.authenticated = false;
                if connection.sender.is_closed() || closes_connection(&response) {
                    connection = self.connect(operation).await?;
                }
                self.authenticate(&mut connection, operation, method, url)
                    .await?
            } else {
                response
            }
        } else {
            self.authenticate(&mut connection, operation, method, url)
                .await?
        };

        self.release(connection);
        Ok(response)
    }

    /// Sends the request twice on `connection`: with the NEGOTIATE message, then with the
    /// AUTHENTICATE message computed from the server's CHALLENGE. Returns the last response.
    async fn authenticate(
        &self,
        connection: &mut Connection,
        operation: &str,
        method: &Method,
        url: &Url,
    ) -> Result<Response, PortError> {
        let (handshake, challenge) =
            match self.negotiate(connection, operation, method, url).await? {
                Negotiated::Served(response) => return Ok(response),
                Negotiated::Challenged(handshake, challenge) => (handshake, challenge),
            };

        let authenticate = handshake
            .authenticate(&challenge.message, connection.channel_binding.as_deref())
            .map_err(|error| self.ntlm_error(operation, error))?;
        let header = ntlm::authorization(&challenge.scheme, &authenticate);
        let request = self.request(operation, method, url, Some(&header))?;
        let response = connection
            .send(request, self.max_response_bytes)
            .await
            .map_err(|error| self.connection_error(operation, error))?;
        if response.status == StatusCode::UNAUTHORIZED {
            let message = format!(
                "the server rejected the NTLM credentials of {}: check \
                 connectors.sccm.username, domain and password",
                self.credentials.account()
            );
            return Err(self.unauthorized(operation, &message));
        }

        connection.authenticated = true;
        Ok(response)
    }

    /// Sends the request with a NEGOTIATE message, under the scheme `Negotiate` or, when the
    /// server offers only that, `NTLM`, and returns the server's CHALLENGE.
    async fn negotiate(
        &self,
        connection: &mut Connection,
        operation: &str,
        method: &Method,
        url: &Url,
    ) -> Result<Negotiated, PortError> {
        let mut scheme = "Negotiate";
        loop {
            let (handshake, negotiate) = NtlmHandshake::start(&self.credentials)
                .map_err(|error| self.ntlm_error(operation, error))?;
            let header = ntlm::authorization(scheme, &negotiate);
            let request = self.request(operation, method, url, Some(&header))?;
            let response = connection
                .send(request, self.max_response_bytes)
                .await
                .map_err(|error| self.connection_error(operation, error))?;
            if response.status != StatusCode::UNAUTHORIZED {
                // The server responded without a challenge, so the request was served, or
                // failed for a reason that its status shows.
                return Ok(Negotiated::Served(response));
            }

            let closed = connection.sender.is_closed() || closes_connection(&response);
            match ntlm::find_challenge(&response.headers) {
                Ok(_) if closed => {
                    return Err(self.unauthorized(
                        operation,
                        "the server closed the connection after its NTLM challenge, so the \
                         handshake cannot finish (NTLM authenticates a connection): check that \
                         no proxy or load balancer between ops and the SMS Provider closes or \
                         splits connections",
                    ));
                }
                Ok(challenge) => {
                    return Ok(Negotiated::Challenged(Box::new(handshake), challenge));
                }
                // Some servers take NTLM messages only under the scheme name `NTLM`.
                Err(ChallengeError::Missing)
                    if scheme == "Negotiate" && ntlm::offers_scheme(&response.headers, "NTLM") =>
                {
                    scheme = "NTLM";
                    if closed {
                        *connection = self.connect(operation).await?;
                    }
                }
                Err(error) => return Err(self.challenge_error(operation, error)),
            }
        }
    }

    /// Opens a connection, with TLS unless the base URL is plain HTTP.
    async fn connect(&self, operation: &str) -> Result<Connection, PortError> {
        let endpoint = &self.endpoint;
        let address = (endpoint.host.as_str(), endpoint.port);
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT.min(self.timeout),
            TcpStream::connect(address),
        )
        .await
        .map_err(|_| PortError::transient(self.service, operation, "connection timed out"))?
        .map_err(|error| {
            PortError::transient(self.service, operation, "connection failed").with_source(error)
        })?;
        // Nagle's algorithm would hold back each small handshake request.
        let _ = tcp.set_nodelay(true);

        let Some((connector, server_name)) = &endpoint.tls else {
            return self.start_http(operation, tcp, None).await;
        };
        let stream = connector
            .connect(server_name.clone(), tcp)
            .await
            .map_err(|error| self.tls_error(operation, error))?;
        let channel_binding = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certificates| certificates.first())
            .map(|certificate| ntlm::tls_server_end_point(certificate));
        self.start_http(operation, stream, channel_binding).await
    }

    async fn start_http<S>(
        &self,
        operation: &str,
        stream: S,
        channel_binding: Option<Vec<u8>>,
    ) -> Result<Connection, PortError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| self.connection_error(operation, error.into()))?;
        let service = self.service;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(service, error = %error, "connection closed with an error");
            }
        });
        Ok(Connection {
            sender,
            channel_binding,
            authenticated: false,
        })
    }

    fn request(
        &self,
        operation: &str,
        method: &Method,
        url: &Url,
        authorization: Option<&str>,
    ) -> Result<Request<Empty<Bytes>>, PortError> {
        let invalid = |error: hyper::http::Error| {
            PortError::permanent(self.service, operation, "invalid request").with_source(error)
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(target)
            .header(HOST, &self.endpoint.authority)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE);
        if let Some(value) = authorization {
            let mut value = HeaderValue::from_str(value).map_err(|error| invalid(error.into()))?;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(Empty::new()).map_err(invalid)
    }

    /// Returns a connection in reserve that is still open and fresh, dropping stale ones.
    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(candidate) = idle.pop() {
            let fresh = candidate.since.elapsed() < MAX_IDLE_TIME;
            if fresh && !candidate.connection.sender.is_closed() {
                return Some(candidate.connection);
            }
        }
        None
    }

    /// Keeps an open, authenticated connection for a later request.
    fn release(&self, connection: Connection) {
        if !connection.authenticated || connection.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(IdleConnection {
                connection,
                since: Instant::now(),
            });
        }
    }

    fn unauthorized(&self, operation: &str, message: &str) -> PortError {
        PortError::new(ErrorKind::Unauthorized, self.service, operation, message)
    }

    fn challenge_error(&self, operation: &str, error: ChallengeError) -> PortError {
        let message = match error {
            ChallengeError::Missing => {
                "the server answered the NTLM negotiate message with HTTP 401 but no NTLM \
                 challenge: check that Windows authentication on the SMS Provider accepts NTLM"
            }
            ChallengeError::NotNtlm => {
                "the server answered with a Negotiate token that is not an NTLM challenge \
                 (SPNEGO or Kerberos), and this adapter speaks NTLM only: allow NTLM for the \
                 account on the SMS Provider"
            }
        };
        self.unauthorized(operation, message)
    }

    fn ntlm_error(&self, operation: &str, error: sspi::Error) -> PortError {
        PortError::new(
            ErrorKind::Unauthorized,
            self.service,
            operation,
            "failed to compute the NTLM message; check that the server's challenge is NTLMv2",
        )
        .with_source(error)
    }

    fn connection_error(&self, operation: &str, error: SendError) -> PortError {
        let error = match error {
            SendError::Connection(error) => error,
            SendError::BodyTooLarge => {
                return body_too_large(self.service, operation, self.max_response_bytes);
            }
        };
        let message = if error.is_timeout() {
            "request timed out"
        } else {
            "request failed"
        };
        PortError::transient(self.service, operation, message).with_source(error)
    }

    fn tls_error(&self, operation: &str, error: std::io::Error) -> PortError {
        let untrusted = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|inner| matches!(inner, rustls::Error::InvalidCertificate(_)));
        if untrusted {
            return PortError::permanent(
                self.service,
                operation,
                "the SMS Provider's TLS certificate is not trusted: set \
                 connectors.sccm.ca_certificate to a PEM file holding the certificate that \
                 issued it (the site's own certificate unless PKI is bound)",
            )
            .with_source(error);
        }
        PortError::transient(self.service, operation, "TLS handshake failed").with_source(error)
    }
}

impl Endpoint {
    fn new(base: &Url, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Endpoint, String> {
        let port = base
            .port_or_known_default()
            .ok_or_else(|| format!("{base} has no port"))?;
        let host_text = base
            .host_str()
            .ok_or_else(|| format!("{base} has no host"))?;
        let host = host_text.trim_start_matches('[').trim_end_matches(']');
        let server_name = match host.parse::<IpAddr>() {
            Ok(address) => ServerName::from(address),
            Err(_) => ServerName::try_from(host.to_owned())
                .map_err(|error| format!("{host:?} is not a TLS server name: {error}"))?,
        };
        let authority = match base.port() {
            Some(port) => format!("{host_text}:{port}"),
            None => host_text.to_owned(),
        };
        let tls = match (base.scheme(), tls) {
            ("https", Some(config)) => Some((TlsConnector::from(config), server_name)),
            ("https", None) => return Err("https needs a TLS configuration".to_owned()),
            _ => None,
        };
        Ok(Endpoint {
            host: host.to_owned(),
            port,
            authority,
            tls,
        })
    }
}

/// The failure of one request on a connection.
#[derive(Debug)]
enum SendError {
    Connection(hyper::Error),
    /// The body was longer than the client reads.
    BodyTooLarge,
}

impl From<hyper::Error> for SendError {
    fn from(error: hyper::Error) -> SendError {
        SendError::Connection(error)
    }
}

impl Connection {
    /// Sends `request` and reads the whole response, failing once the body passes `limit`
    /// bytes.
    async fn send(
        &mut self,
        request: Request<Empty<Bytes>>,
        limit: usize,
    ) -> Result<Response, SendError> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|error| match error.downcast::<hyper::Error>() {
                Ok(error) => SendError::Connection(*error),
                Err(_) => SendError::BodyTooLarge,
            })?
            .to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// Returns true when the server announced that it closes the connection after this response.
fn closes_connection(response: &Response) -> bool {
    response
        .headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|option| option.trim().eq_ignore_ascii_case("close"))
}
