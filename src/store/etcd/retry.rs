//! Which etcd failures are worth another try, and how long to wait.
use std::future::Future;
use std::time::Duration;

use tokio::time::{sleep, Instant};

/// What kind of failure an etcd error is, for retries and error mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The request never reached a member that could apply it: retrying is
    /// safe for any request.
    NotSent,
    /// Transient, but a write may have been applied: retry reads only.
    Transient,
    /// etcd's "required revision has been compacted".
    Compacted,
    /// etcd's "required revision is a future revision".
    FutureRevision,
    /// etcd's "request is too large".
    TooLarge,
    /// Anything else; not retried.
    Permanent,
}

pub(super) fn classify(err: &etcd_client::Error) -> Kind {
    use tonic::Code;
    match err {
        etcd_client::Error::GRpcStatus(status) => {
            let message = status.message();
            if message.contains("required revision has been compacted") {
                Kind::Compacted
            } else if message.contains("required revision is a future revision") {
                Kind::FutureRevision
            } else if message.contains("request is too large")
                || (status.code() == Code::ResourceExhausted && message.contains("larger than max"))
            {
                Kind::TooLarge
            } else if message.contains("no leader")
                || message.contains("too many requests")
                || is_connect_error(message)
            {
                // "no leader" is the require-leader check, made before the
                // request is proposed.
                Kind::NotSent
            } else {
                match status.code() {
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Unknown
                    | Code::Aborted
                    | Code::Cancelled
                    | Code::Internal => Kind::Transient,
                    _ => Kind::Permanent,
                }
            }
        }
        etcd_client::Error::TransportError(err) if is_connect_error(&err.to_string()) => {
            Kind::NotSent
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => Kind::Transient,
        _ => Kind::Permanent,
    }
}

/// Whether a transport error happened while connecting, before the request
/// was written.
pub(super) fn is_connect_error(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("connection refused")
        || message.contains("tcp connect error")
        || message.contains("error trying to connect")
        || message.contains("connect timed out")
}

/// Which failures a request may be retried on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Retry {
    /// Reads: any transient failure.
    Read,
    /// Writes: only failures where the request never got to etcd.
    Write,
}

impl Retry {
    pub(super) fn allows(self, kind: Kind) -> bool {
        match self {
            Retry::Read => matches!(kind, Kind::NotSent | Kind::Transient),
            Retry::Write => kind == Kind::NotSent,
        }
    }
}

/// Why an etcd request finally failed.
pub(super) enum Failed {
    Etcd(etcd_client::Error, Kind),
    TimedOut,
}

/// Exponential backoff between retries: 10 ms doubling to 500 ms.
pub(super) struct Backoff(Duration);

impl Backoff {
    pub(super) fn new() -> Self {
        Self(Duration::from_millis(10))
    }

    pub(super) fn peek(&self) -> Duration {
        self.0
    }

    pub(super) async fn wait(&mut self) {
        sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_millis(500));
    }
}

/// `None` when `deadline` passed first.
pub(super) async fn timeout_at<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, future).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_errors_are_classified_by_code_and_message() {
        use tonic::{Code, Status};
        let cases = [
            (
                Code::OutOfRange,
                "etcdserver: mvcc: required revision has been compacted",
                Kind::Compacted,
            ),
            (
                Code::OutOfRange,
                "etcdserver: mvcc: required revision is a future revision",
                Kind::FutureRevision,
            ),
            (
                Code::InvalidArgument,
                "etcdserver: request is too large",
                Kind::TooLarge,
            ),
            (
                Code::ResourceExhausted,
                "grpc: received message larger than max (4194330 vs. 3145728)",
                Kind::TooLarge,
            ),
            (Code::Unavailable, "etcdserver: no leader", Kind::NotSent),
            (
                Code::Unavailable,
                "error trying to connect: tcp connect error: Connection refused (os error 111)",
                Kind::NotSent,
            ),
            (
                Code::Unavailable,
                "etcdserver: request timed out",
                Kind::Transient,
            ),
            (
                Code::Unavailable,
                "etcdserver: leader changed",
                Kind::Transient,
            ),
            (Code::Unknown, "h2 protocol error", Kind::Transient),
            (
                Code::InvalidArgument,
                "etcdserver: key is not provided",
                Kind::Permanent,
            ),
            (
                Code::PermissionDenied,
                "etcdserver: permission denied",
                Kind::Permanent,
            ),
        ];
        for (code, message, kind) in cases {
            let err = etcd_client::Error::GRpcStatus(Status::new(code, message));
            assert_eq!(classify(&err), kind, "{code:?} {message:?}");
        }
        assert_eq!(
            classify(&etcd_client::Error::InvalidArgs("x".into())),
            Kind::Permanent
        );
    }

    #[test]
    fn connect_errors_may_be_retried_for_writes() {
        assert!(is_connect_error(
            "error trying to connect: tcp connect error: Connection refused (os error 111)"
        ));
        assert!(!is_connect_error("etcdserver: request timed out"));
        assert!(Retry::Write.allows(Kind::NotSent));
        assert!(!Retry::Write.allows(Kind::Transient));
        assert!(Retry::Read.allows(Kind::Transient));
        assert!(!Retry::Read.allows(Kind::Compacted));
    }
}
