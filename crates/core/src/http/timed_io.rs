//! The socket side of a connection's timeouts: what hyper cannot time by itself.
//!
//! hyper's own header-read timer starts as soon as it waits for the next request, so it
//! cannot tell an idle keep-alive connection (which may wait a minute) from a request
//! head that dribbles in (which must not). The connection's [`Activity`] tells them
//! apart: the service marks a request in flight until its response body is finished or
//! dropped; between requests, the first byte read starts the header timer. Reads wait
//! for nothing while a request is in flight (a stalled request body is the body's own
//! timeout, see [`super::serve`]); a write that makes no progress for the send-stall
//! timeout fails, so that hyper drops the connection and the response it was sending,
//! with whatever that response held (a connection permit, an open file).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a connection may wait on its client, by what it waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// From the first byte of a request to the end of its head.
    pub header: Duration,
    /// Between requests (and before the first one).
    pub idle: Duration,
    /// For a write to make progress.
    pub send: Duration,
}

/// What a connection is doing, shared by its socket and its service.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<Phase>,
}

#[derive(Debug)]
struct Phase {
    /// Requests whose responses are not finished.
    in_flight: usize,
    /// When the connection last became idle.
    idle_since: Instant,
    /// The first byte of a request head read while idle.
    head_started: Option<Instant>,
    /// A read that waits without a deadline, woken when the connection turns idle so
    /// that it takes the idle deadline on.
    waiting_reader: Option<Waker>,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(Phase {
                in_flight: 0,
                idle_since: Instant::now(),
                head_started: None,
                waiting_reader: None,
            }),
        })
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // The lock guards plain numbers: a panic elsewhere cannot leave them torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.head_started = None;
        InFlight(self.clone())
    }

    fn bytes_read(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 && phase.head_started.is_none() {
            phase.head_started = Some(Instant::now());
        }
    }

    /// When a read that waits must give up: none while a request is in flight, and
    /// then `waker` is woken when it ends.
    fn read_deadline(&self, patience: &Patience, waker: &Waker) -> Option<Instant> {
        let mut phase = self.phase();
        if phase.in_flight > 0 {
            phase.waiting_reader = Some(waker.clone());
            return None;
        }
        Some(match phase.head_started {
            Some(started) => started + patience.header,
            None => phase.idle_since + patience.idle,
        })
    }
}

/// A request in flight on its connection; dropped with its response body.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        phase.in_flight -= 1;
        if phase.in_flight > 0 {
            return;
        }
        phase.idle_since = Instant::now();
        phase.head_started = None;
        let reader = phase.waiting_reader.take();
        drop(phase);
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// A socket that fails a read or a write which waits past its deadline.
pub(crate) struct TimedIo<T> {
    inner: T,
    activity: Arc<Activity>,
    patience: Patience,
    /// The read timer and the deadline it is set to.
    read_timer: Timer,
    /// The write timer, set when a write first waits.
    write_timer: Timer,
}

/// A reusable sleep, kept across polls.
#[derive(Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    deadline: Option<Instant>,
}

impl Timer {
    /// Ready once `deadline` has passed; registers the waker otherwise.
    fn expired(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        if self.deadline != Some(deadline) {
            self.deadline = Some(deadline);
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        self.sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }

    fn clear(&mut self) {
        self.deadline = None;
    }
}

impl<T> TimedIo<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>, patience: Patience) -> Self {
        Self {
            inner,
            activity,
            patience,
            read_timer: Timer::default(),
            write_timer: Timer::default(),
        }
    }

    /// After a write polled `polled`: clears the timer when bytes went out, fails the
    /// write once it has waited for `send`. A flush that is ready sent nothing, so it
    /// clears nothing.
    fn write_outcome<R>(
        &mut self,
        polled: Poll<io::Result<R>>,
        sent: bool,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            if sent {
                self.write_timer.clear();
            }
            return polled;
        }
        let deadline = self
            .write_timer
            .deadline
            .unwrap_or_else(|| Instant::now() + self.patience.send);
        if self.write_timer.expired(deadline, cx) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read_timer.clear();
                if buf.filled().len() > before {
                    this.activity.bytes_read();
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let Some(deadline) = this.activity.read_deadline(&this.patience, cx.waker()) else {
                    this.read_timer.clear();
                    return Poll::Pending;
                };
                if this.read_timer.expired(deadline, cx) {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request in time",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.write_outcome(polled, true, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.write_outcome(polled, true, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.write_outcome(polled, false, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
