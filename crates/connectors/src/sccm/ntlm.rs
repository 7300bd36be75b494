//! NTLM messages for the HTTP Negotiate scheme, computed by the `sspi` crate.
//!
//! The client sends a NEGOTIATE message, the server responds 401 with a CHALLENGE, and the
//! client sends an AUTHENTICATE message computed from it (MS-NLMP, NTLMv2). The messages travel raw,
//! base64-encoded, in `Authorization: Negotiate ...`, as Windows clients send them when they
//! fall back from Kerberos to NTLM.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{HeaderMap, WWW_AUTHENTICATE};
use ops_core::ports::Secret;
use sha2::{Digest, Sha256, Sha384, Sha512};
use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, ClientRequestFlags, CredentialUse,
    DataRepresentation, Ntlm, SecurityBuffer, Sspi, SspiImpl, Username,
};

/// The signature every NTLM message starts with.
const NTLM_SIGNATURE: &[u8] = b"NTLMSSP\0";

/// The message type of a CHALLENGE message, after the signature (little-endian).
const CHALLENGE_MESSAGE_TYPE: [u8; 4] = [2, 0, 0, 0];

/// A Windows account for NTLM: the name as operators write it and the password.
#[derive(Clone)]
pub(super) struct NtlmCredentials {
    identity: AuthIdentity,
    account: String,
}

impl NtlmCredentials {
    /// Reads `username` as `DOMAIN\user`, `user@domain.example` or a bare account name, with
    /// `domain` as the NetBIOS domain of a bare name. Returns a message for the configuration
    /// error when the two forms are mixed.
    pub(super) fn new(
        username: &str,
        domain: Option<&str>,
        password: &Secret,
    ) -> Result<NtlmCredentials, String> {
        let username = username.trim();
        let domain = domain.map(str::trim).filter(|domain| !domain.is_empty());
        let qualified = username.contains('\\') || username.contains('@');
        let parsed = match domain {
            Some(_) if qualified => {
                return Err(format!(
                    "{username:?} already names its domain: leave out domain, or give the bare \
                     account name in username"
                ));
            }
            Some(domain) => Username::new_down_level_logon_name(username, domain),
            None => Username::parse(username),
        };
        let parsed = parsed.map_err(|error| {
            format!(
                "{username:?} is not an account name ({error}): write DOMAIN\\user or user@domain"
            )
        })?;
        let account = match domain {
            Some(domain) => format!("{domain}\\{username}"),
            None => username.to_owned(),
        };
        Ok(NtlmCredentials {
            identity: AuthIdentity {
                username: parsed,
                password: password.expose().to_owned().into(),
            },
            account,
        })
    }

    /// Returns the account as `DOMAIN\user` or as configured, for messages.
    pub(super) fn account(&self) -> &str {
        &self.account
    }
}

impl fmt::Debug for NtlmCredentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NtlmCredentials")
            .field("account", &self.account)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// The client side of one NTLM handshake, between the NEGOTIATE and AUTHENTICATE messages.
pub(super) struct NtlmHandshake {
    context: Ntlm,
    credentials: Option<AuthIdentityBuffers>,
}

impl NtlmHandshake {
    /// Starts a handshake and returns it with the NEGOTIATE message.
    pub(super) fn start(
        credentials: &NtlmCredentials,
    ) -> Result<(NtlmHandshake, Vec<u8>), sspi::Error> {
        without_logs(|| {
            let mut context = Ntlm::new();
            let acquired = context
                .acquire_credentials_handle()
                .with_credential_use(CredentialUse::Outbound)
                .with_auth_data(&credentials.identity)
                .execute(&mut context)?;
            let mut handshake = NtlmHandshake {
                context,
                credentials: acquired.credentials_handle,
            };
            let negotiate = handshake.step(None)?;
            Ok((handshake, negotiate))
        })
    }

    /// Returns the AUTHENTICATE message for the server's CHALLENGE message.
    ///
    /// `channel_binding` is the `tls-server-end-point` binding of the TLS connection (see
    /// [`tls_server_end_point`]). Servers that enforce Extended Protection for Authentication
    /// reject an AUTHENTICATE message without it; others ignore it.
    pub(super) fn authenticate(
        mut self,
        challenge: &[u8],
        channel_binding: Option<&[u8]>,
    ) -> Result<Vec<u8>, sspi::Error> {
        without_logs(|| {
            if let Some(binding) = channel_binding {
                self.context.set_channel_bindings(binding);
            }
            self.step(Some(challenge.to_vec()))
        })
    }

    /// Runs one `InitializeSecurityContext` step and returns its output token.
    fn step(&mut self, input: Option<Vec<u8>>) -> Result<Vec<u8>, sspi::Error> {
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut input = input.map(|token| vec![SecurityBuffer::new(token, BufferType::Token)]);
        let mut builder = self
            .context
            .initialize_security_context()
            .with_credentials_handle(&mut self.credentials)
            .with_context_requirements(ClientRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_output(&mut output);
        if let Some(input) = input.as_mut() {
            builder = builder.with_input(input);
        }
        self.context
            .initialize_security_context_impl(&mut builder)?
            .resolve_to_result()?;
        Ok(std::mem::take(&mut output[0].buffer))
    }
}

/// Runs `call` with tracing switched off. `sspi` logs whole NTLM messages at TRACE level, and
/// an AUTHENTICATE message contains a response that can be cracked offline for the password.
fn without_logs<T>(call: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), call)
}

/// The server's NTLM CHALLENGE message, with the scheme it came in.
#[derive(Debug)]
pub(super) struct Challenge {
    /// `Negotiate` or `NTLM`, as the server wrote it; the AUTHENTICATE message goes back in it.
    pub(super) scheme: String,
    /// The decoded CHALLENGE message.
    pub(super) message: Vec<u8>,
}

/// The reason a 401 response carries no usable NTLM challenge.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ChallengeError {
    /// No `WWW-Authenticate: Negotiate <token>` or `NTLM <token>` header.
    Missing,
    /// A Negotiate token that is not an NTLM CHALLENGE message (SPNEGO or Kerberos).
    NotNtlm,
}

/// Finds the NTLM CHALLENGE message in the `WWW-Authenticate` headers of a 401 answer.
pub(super) fn find_challenge(headers: &HeaderMap) -> Result<Challenge, ChallengeError> {
    let mut error = ChallengeError::Missing;
    let offers = headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for offer in offers {
        let Some((scheme, token)) = offer.trim().split_once(' ') else {
            continue;
        };
        let known_scheme =
            scheme.eq_ignore_ascii_case("Negotiate") || scheme.eq_ignore_ascii_case("NTLM");
        if !known_scheme || token.trim().is_empty() {
            continue;
        }
        let Ok(message) = STANDARD.decode(token.trim()) else {
            error = ChallengeError::NotNtlm;
            continue;
        };
        if is_challenge_message(&message) {
            return Ok(Challenge {
                scheme: scheme.to_owned(),
                message,
            });
        }
        error = ChallengeError::NotNtlm;
    }
    Err(error)
}

/// Returns true when a `WWW-Authenticate` header offers `scheme`, with or without a token.
pub(super) fn offers_scheme(headers: &HeaderMap, scheme: &str) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|offer| offer.split_whitespace().next())
        .any(|offered| offered.eq_ignore_ascii_case(scheme))
}

fn is_challenge_message(message: &[u8]) -> bool {
    message.starts_with(NTLM_SIGNATURE)
        && message.get(NTLM_SIGNATURE.len()..NTLM_SIGNATURE.len() + 4)
            == Some(&CHALLENGE_MESSAGE_TYPE[..])
}

/// Returns the `Authorization` header value carrying `message` in `scheme`.
pub(super) fn authorization(scheme: &str, message: &[u8]) -> String {
    format!("{scheme} {}", STANDARD.encode(message))
}

/// Returns the `tls-server-end-point` channel binding of a server certificate (RFC 5929,
/// section 4): the prefix `tls-server-end-point:` and the certificate's hash.
///
/// The hash function is the one of the certificate's signature algorithm, except that MD5 and
/// SHA-1 become SHA-256, as RFC 5929 requires.
// NOTE: RSASSA-PSS and EdDSA signatures name their hash elsewhere or not at all; they get
// SHA-256 here, which matches the common SHA-256 PSS certificates only.
pub(super) fn tls_server_end_point(certificate_der: &[u8]) -> Vec<u8> {
    const PREFIX: &[u8] = b"tls-server-end-point:";
    let digest: Vec<u8> = match signature_hash(certificate_der) {
        SignatureHash::Sha384 => Sha384::digest(certificate_der).to_vec(),
        SignatureHash::Sha512 => Sha512::digest(certificate_der).to_vec(),
        SignatureHash::Sha256 => Sha256::digest(certificate_der).to_vec(),
    };
    [PREFIX, &digest].concat()
}

#[derive(Debug, PartialEq, Eq)]
enum SignatureHash {
    Sha256,
    Sha384,
    Sha512,
}

/// Encoded object identifiers of the signature algorithms that hash with SHA-384 or SHA-512:
/// sha384WithRSAEncryption, sha512WithRSAEncryption, ecdsa-with-SHA384 and ecdsa-with-SHA512.
const SHA384_SIGNATURES: [&[u8]; 2] = [
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c],
    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
];
const SHA512_SIGNATURES: [&[u8]; 2] = [
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d],
    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
];

/// Reads the hash of the certificate's `signatureAlgorithm`, the second field of the
/// `Certificate` sequence (RFC 5280, section 4.1). Anything unreadable gives SHA-256.
fn signature_hash(certificate_der: &[u8]) -> SignatureHash {
    let algorithm = read_der(certificate_der, 0x30)
        .and_then(|(certificate, _)| read_der(certificate, 0x30))
        .and_then(|(_tbs_certificate, rest)| read_der(rest, 0x30))
        .and_then(|(algorithm, _)| read_der(algorithm, 0x06));
    match algorithm {
        Some((oid, _)) if SHA384_SIGNATURES.contains(&oid) => SignatureHash::Sha384,
        Some((oid, _)) if SHA512_SIGNATURES.contains(&oid) => SignatureHash::Sha512,
        _ => SignatureHash::Sha256,
    }
}

/// Reads one DER element with `tag` and returns its contents and the bytes after it.
fn read_der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found_tag, rest) = input.split_first()?;
    if found_tag != tag {
        return None;
    }
    let (&first_length_byte, rest) = rest.split_first()?;
    let (length, rest) = if first_length_byte < 0x80 {
        (usize::from(first_length_byte), rest)
    } else {
        let length_bytes = usize::from(first_length_byte & 0x7f);
        if length_bytes == 0 || length_bytes > 4 {
            return None;
        }
        let (length, rest) = rest.split_at_checked(length_bytes)?;
        let length = length
            .iter()
            .fold(0usize, |total, byte| (total << 8) | usize::from(*byte));
        (length, rest)
    };
    rest.split_at_checked(length)
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(WWW_AUTHENTICATE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn challenge_bytes() -> Vec<u8> {
        let mut message = NTLM_SIGNATURE.to_vec();
        message.extend_from_slice(&CHALLENGE_MESSAGE_TYPE);
        message.extend_from_slice(&[0; 40]);
        message
    }

    #[test]
    fn credentials_accept_three_name_forms() {
        let password = Secret::new("pw");
        let down_level = NtlmCredentials::new("CONTOSO\\svc-ops", None, &password).unwrap();
        assert_eq!(down_level.account(), "CONTOSO\\svc-ops");
        let upn = NtlmCredentials::new("svc-ops@contoso.com", None, &password).unwrap();
        assert_eq!(upn.account(), "svc-ops@contoso.com");
        let split = NtlmCredentials::new("svc-ops", Some("CONTOSO"), &password).unwrap();
        assert_eq!(split.account(), "CONTOSO\\svc-ops");
    }

    #[test]
    fn credentials_reject_domain_given_twice() {
        let error = NtlmCredentials::new("CONTOSO\\svc-ops", Some("CONTOSO"), &Secret::new("pw"))
            .unwrap_err();
        assert!(error.contains("leave out domain"), "{error}");
    }

    #[test]
    fn credentials_debug_hides_password() {
        let credentials =
            NtlmCredentials::new("svc-ops", Some("CONTOSO"), &Secret::new("hunter2")).unwrap();
        let text = format!("{credentials:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("CONTOSO\\\\svc-ops"), "{text}");
    }

    #[test]
    fn negotiate_message_is_ntlm_type_one() {
        let credentials =
            NtlmCredentials::new("svc-ops", Some("CONTOSO"), &Secret::new("pw")).unwrap();
        let (_handshake, message) = NtlmHandshake::start(&credentials).unwrap();
        assert!(message.starts_with(NTLM_SIGNATURE));
        assert_eq!(message[8..12], [1, 0, 0, 0]);
        assert!(authorization("Negotiate", &message).starts_with("Negotiate TlRMTVNTUAAB"));
    }

    #[test]
    fn challenge_found_in_negotiate_or_ntlm_header() {
        let token = STANDARD.encode(challenge_bytes());
        let found = find_challenge(&headers(&[&format!("Negotiate {token}")])).unwrap();
        assert_eq!(found.scheme, "Negotiate");
        assert_eq!(found.message, challenge_bytes());
        let found =
            find_challenge(&headers(&["Basic realm=\"x\"", &format!("NTLM {token}")])).unwrap();
        assert_eq!(found.scheme, "NTLM");
    }

    #[test]
    fn challenge_missing_or_not_ntlm() {
        assert_eq!(
            find_challenge(&headers(&["Negotiate", "NTLM"])).unwrap_err(),
            ChallengeError::Missing
        );
        let spnego = STANDARD.encode([0xa1, 0x81, 0x01, 0x00]);
        assert_eq!(
            find_challenge(&headers(&[&format!("Negotiate {spnego}")])).unwrap_err(),
            ChallengeError::NotNtlm
        );
    }

    #[test]
    fn der_reader_handles_long_lengths() {
        let mut element = vec![0x04, 0x82, 0x01, 0x00];
        element.extend(std::iter::repeat_n(7u8, 256));
        element.push(0xff);
        let (contents, rest) = read_der(&element, 0x04).unwrap();
        assert_eq!(contents.len(), 256);
        assert_eq!(rest, [0xff]);
        assert!(read_der(&element, 0x30).is_none());
        assert!(read_der(&[0x04, 0x05, 1, 2], 0x04).is_none());
    }

    #[test]
    fn channel_binding_hash_follows_signature_algorithm() {
        let sha256 = pem_der(include_str!(
            "../../tests/fixtures/sccm/tls/provider-sha256.pem"
        ));
        let sha384 = pem_der(include_str!(
            "../../tests/fixtures/sccm/tls/provider-sha384.pem"
        ));
        assert_eq!(signature_hash(&sha256), SignatureHash::Sha256);
        assert_eq!(signature_hash(&sha384), SignatureHash::Sha384);
        // The expected digests are `openssl x509 -noout -fingerprint -sha384` (and -sha256).
        let binding = tls_server_end_point(&sha384);
        assert_eq!(
            hex(binding.strip_prefix(b"tls-server-end-point:").unwrap()),
            "3C9A705C26383E3328C3376E590D85C9570E883CE006F6B3D453A05F3E6E93699E8E58A413DD63B29FA9240B315FFD73"
        );
        let binding = tls_server_end_point(&sha256);
        assert_eq!(
            hex(binding.strip_prefix(b"tls-server-end-point:").unwrap()),
            "AB140AE2011C6C499886D2DDF05835F665C74EFA673BF99CCC79735E8C46542B"
        );
        assert_eq!(signature_hash(b"not a certificate"), SignatureHash::Sha256);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02X}")).collect()
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }
}
