//! What every connection is held to: at most `max_connections_per_address` open per client
//! address, its request heads within `header_timeout`, and no longer than `idle_timeout`
//! without a request in progress (a body's own deadline, `body_timeout`, is the handler's).
//! A client that trickles bytes to hold a connection open loses it.
//!
//! hyper 1 starts its header timer when it begins waiting for a request head — on a kept-alive
//! connection, as soon as the previous answer is sent — so alone it cannot tell an idle
//! connection from a slow head, and the auto (HTTP/1 and HTTP/2) builder reads the connection
//! preface with no timer at all. So the deadlines are kept here, on the socket ([`Watched`])
//! and the connection's service ([`Watching`]); hyper's own timer stays as a backstop.
//!
//! Bytes that are not an HTTP request never reach the service: hyper answers them itself
//! (400, 414, 431, 505) and closes the connection. [`Observe`] sees those answers on the
//! connection's plaintext (under TLS too) — an HTTP/1 status line written when no answer of
//! the service's is owed — and reports them, so that they are audited with the other
//! refusals before the API.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::server::Config;

/// The shortest timeout `serve` accepts (`--header-timeout`, `--body-timeout`,
/// `--idle-timeout`).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// The longest timeout `serve` accepts.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The most connections per address `--max-connections-per-address` accepts.
pub const MAX_CONNECTIONS_PER_ADDRESS: u32 = 100_000;

/// What every connection is held to, and the count of live connections per client address.
///
/// The deadlines follow the connection's request cycle ([`Cycle`]), enforced on its socket
/// ([`Watched`]): from the connection's opening, or from the first byte of a request on a
/// kept-alive one, its head must be complete within `header`; while a request is being
/// answered no deadline runs here (its body has `body_timeout`, in the handler); after the
/// answer, the connection may wait `idle` for the next request's first byte, and a client
/// that does not read its answer has the same `idle` to make room for it. A byte trickled in
/// never moves a deadline. The same holds for HTTP/2, where a request's head is its HEADERS
/// frame, and for hyper's protocol detection before it.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) header: Duration,
    pub(crate) idle: Duration,
    per_address: usize,
    live: std::sync::Mutex<HashMap<IpAddr, usize>>,
}

impl Limits {
    pub(crate) fn new(config: &Config) -> Result<Limits, Error> {
        for (name, d) in [
            ("header", config.header_timeout),
            ("body", config.body_timeout),
            ("idle", config.idle_timeout),
        ] {
            if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&d) {
                return Err(Error::InvalidParameter(format!(
                    "the {name} timeout must be from 100ms to 1h"
                )));
            }
        }
        if !(1..=MAX_CONNECTIONS_PER_ADDRESS).contains(&config.max_connections_per_address) {
            return Err(Error::InvalidParameter(format!(
                "the connections per address must be from 1 to {MAX_CONNECTIONS_PER_ADDRESS}"
            )));
        }
        Ok(Limits {
            header: config.header_timeout,
            idle: config.idle_timeout,
            per_address: usize::try_from(config.max_connections_per_address).unwrap_or(usize::MAX),
            live: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more connection from `ip`, or `None` if it has as many open as it may.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let ip = ip.to_canonical();
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let open = live.entry(ip).or_insert(0);
        if *open >= self.per_address {
            return None;
        }
        *open += 1;
        Some(Slot {
            limits: Arc::clone(self),
            ip,
        })
    }
}

/// One live connection, counted against its address until dropped: with the connection's
/// socket, however the connection ends.
#[derive(Debug)]
struct Slot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut live = self
            .limits
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = live.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                live.remove(&self.ip);
            }
        }
    }
}

/// Where a connection is in its request cycle.
#[derive(Debug)]
struct Phase {
    /// Requests handed to the service and not yet answered.
    in_flight: usize,
    /// Waiting for a next request, no byte of it read yet.
    idle: bool,
    /// Answers the service gave that have not been seen written yet ([`Cycle::wrote_status`]).
    owed: usize,
    /// When this phase began.
    since: Instant,
}

/// A connection's request cycle, shared by its socket ([`Watched`], which sees bytes arrive)
/// and its service ([`Watching`], which sees requests begin and end).
#[derive(Debug)]
pub(crate) struct Cycle {
    header: Duration,
    idle: Duration,
    phase: std::sync::Mutex<Phase>,
}

impl Cycle {
    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection is to be closed, if nothing happens before; `None` while a request
    /// is being answered.
    fn deadline(&self) -> Option<Instant> {
        let p = self.phase();
        (p.in_flight == 0).then(|| p.since + if p.idle { self.idle } else { self.header })
    }

    /// Bytes arrived: the first of a next request starts its header deadline.
    fn received(&self) {
        let mut p = self.phase();
        if p.idle {
            p.idle = false;
            p.since = Instant::now();
        }
    }

    /// A request's head is complete and handed to the service.
    fn started(&self) {
        self.phase().in_flight += 1;
    }

    /// A request is answered (or abandoned): the last one starts the idle wait.
    fn finished(&self) {
        let mut p = self.phase();
        p.in_flight = p.in_flight.saturating_sub(1);
        p.owed += 1;
        if p.in_flight == 0 {
            p.idle = true;
            p.since = Instant::now();
        }
    }
}

impl Cycle {
    /// An HTTP/1 status line was written: whether it is hyper's own refusal of bytes that were
    /// not a request (no request in progress, and no answer of the service's owed), rather
    /// than the service's answer or an interim `100 Continue`.
    fn wrote_status(&self, status: u16) -> bool {
        let mut p = self.phase();
        if status < 200 {
            return false;
        }
        if p.owed > 0 {
            p.owed -= 1;
            return false;
        }
        p.in_flight == 0 && status >= 400
    }
}

/// A request in progress; [`Cycle::finished`] when dropped, with the service's future.
struct InFlight(Arc<Cycle>);

impl InFlight {
    fn new(cycle: &Arc<Cycle>) -> InFlight {
        cycle.started();
        InFlight(Arc::clone(cycle))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished();
    }
}

/// Admits a connection ([`Limits::admit`], else it is closed at once) and watches it.
#[derive(Clone, Debug)]
pub(crate) struct Admit(pub(crate) Arc<Limits>);

impl<S> axum_server::accept::Accept<tokio::net::TcpStream, S> for Admit {
    type Stream = Watched;
    type Service = Watching<S>;
    type Future = std::future::Ready<std::io::Result<(Watched, Watching<S>)>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        let admitted = stream.peer_addr().and_then(|peer| {
            self.0
                .admit(peer.ip())
                .ok_or_else(|| std::io::Error::other("too many connections from this address"))
        });
        std::future::ready(admitted.map(|slot| {
            let cycle = Arc::new(Cycle {
                header: self.0.header,
                idle: self.0.idle,
                phase: std::sync::Mutex::new(Phase {
                    in_flight: 0,
                    idle: false,
                    owed: 0,
                    since: Instant::now(),
                }),
            });
            let watched = Watched {
                io: stream,
                cycle: Arc::clone(&cycle),
                timer: Box::pin(tokio::time::sleep_until(Instant::now() + self.0.header)),
                _slot: slot,
            };
            (
                watched,
                Watching {
                    inner: service,
                    cycle,
                },
            )
        }))
    }
}

/// A connection's socket, closed (its reads and writes fail) once its [`Cycle`]'s deadline
/// passes; it holds the connection's [`Slot`].
#[derive(Debug)]
pub(crate) struct Watched {
    io: tokio::net::TcpStream,
    cycle: Arc<Cycle>,
    timer: Pin<Box<tokio::time::Sleep>>,
    _slot: Slot,
}

impl Watched {
    /// An error once the deadline has passed; else arms the timer, so that the connection's
    /// task wakes at the deadline even if the client sends nothing.
    fn check(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        let Some(deadline) = self.cycle.deadline() else {
            return Ok(());
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the connection's header or idle timeout passed",
            )),
            Poll::Pending => Ok(()),
        }
    }

    /// `polled`, or the deadline's error if it is pending and the deadline has passed.
    fn pending<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Pending => match self.check(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            done => done,
        }
    }
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.cycle.received();
        }
        self.pending(cx, polled)
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.pending(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.pending(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.pending(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_shutdown(cx);
        self.pending(cx, polled)
    }
}

/// A connection's service: marks in its [`Cycle`] when each request starts and ends.
#[derive(Clone, Debug)]
pub(crate) struct Watching<S> {
    inner: S,
    cycle: Arc<Cycle>,
}

impl<S, R> tower_service::Service<R> for Watching<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let in_flight = InFlight::new(&self.cycle);
        let answer = self.inner.call(req);
        Box::pin(async move {
            let answered = answer.await;
            drop(in_flight);
            answered
        })
    }
}

/// Told the client address and status of every answer hyper gave on its own to bytes that
/// were not an HTTP request.
pub(crate) type Refused = Arc<dyn Fn(IpAddr, u16) + Send + Sync>;

/// Wraps an acceptor (plain [`Admit`], or TLS over it) so that each connection's plaintext is
/// [`Observed`].
#[derive(Clone)]
pub(crate) struct Observe<A> {
    inner: A,
    refused: Refused,
}

impl<A> Observe<A> {
    pub(crate) fn new(inner: A, refused: Refused) -> Observe<A> {
        Observe { inner, refused }
    }
}

/// A connection's stream, [`Watched`] itself or TLS over it: the cycle it follows.
pub(crate) trait Cycled {
    fn cycle(&self) -> &Arc<Cycle>;
}

impl Cycled for Watched {
    fn cycle(&self) -> &Arc<Cycle> {
        &self.cycle
    }
}

impl Cycled for tokio_rustls::server::TlsStream<Watched> {
    fn cycle(&self) -> &Arc<Cycle> {
        &self.get_ref().0.cycle
    }
}

impl<A, S> axum_server::accept::Accept<tokio::net::TcpStream, S> for Observe<A>
where
    A: axum_server::accept::Accept<tokio::net::TcpStream, S>,
    A::Stream: Cycled,
    A::Future: Send + 'static,
{
    type Stream = Observed<A::Stream>;
    type Service = A::Service;
    type Future =
        Pin<Box<dyn Future<Output = std::io::Result<(Observed<A::Stream>, A::Service)>> + Send>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        let peer = stream.peer_addr();
        let accepted = self.inner.accept(stream, service);
        let refused = Arc::clone(&self.refused);
        Box::pin(async move {
            let (io, service) = accepted.await?;
            let observed = Observed {
                cycle: Arc::clone(io.cycle()),
                io,
                ip: peer?.ip().to_canonical(),
                refused,
            };
            Ok((observed, service))
        })
    }
}

/// A connection's plaintext, watched for the status lines hyper writes on its own.
pub(crate) struct Observed<T> {
    io: T,
    cycle: Arc<Cycle>,
    ip: IpAddr,
    refused: Refused,
}

impl<T> Observed<T> {
    /// `written` bytes of `first` went out: if they begin an HTTP/1 status line that is
    /// hyper's own refusal ([`Cycle::wrote_status`]), report it.
    fn wrote(&self, first: &[u8], written: &Poll<std::io::Result<usize>>) {
        if !matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            return;
        }
        let status = first
            .strip_prefix(b"HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u16>().ok());
        if let Some(status) = status
            && self.cycle.wrote_status(status)
        {
            (self.refused)(self.ip, status);
        }
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Observed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Observed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(buf, &polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        self.wrote(first, &polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
