//! The pool of local RTP ports (`--rtp-ports LO-HI`).
//!
//! RTP uses even ports and reserves the next odd port for RTCP (RFC 3550
//! §11), so the pool hands out even ports `p` with `p + 1 <= hi`. A port is
//! owned by a [`PortLease`] and returns to the pool when the lease drops —
//! on hangup, on an error path, on a panic — so ports cannot leak. Freed
//! ports go to the back of the queue: a late packet of the old call then
//! hits an unused port rather than the next caller.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("invalid RTP port range {lo}-{hi}: need an even port and its odd successor")]
    InvalidRange { lo: u16, hi: u16 },
    /// Every port is in use: the SIP side answers 503.
    #[error("no free RTP port")]
    Exhausted,
}

#[derive(Debug)]
struct Inner {
    free: Mutex<VecDeque<u16>>,
    capacity: usize,
}

/// Cheap to clone; all clones share one set of ports.
#[derive(Debug, Clone)]
pub struct RtpPortPool {
    inner: Arc<Inner>,
}

impl RtpPortPool {
    /// Even ports in `lo..=hi` whose odd successor is also in range.
    pub fn new(lo: u16, hi: u16) -> Result<Self, PortError> {
        let first = lo
            .checked_add(lo % 2)
            .ok_or(PortError::InvalidRange { lo, hi })?;
        let free: VecDeque<u16> = (first..hi).step_by(2).collect();
        if free.is_empty() || lo == 0 {
            return Err(PortError::InvalidRange { lo, hi });
        }
        let capacity = free.len();
        Ok(RtpPortPool {
            inner: Arc::new(Inner {
                free: Mutex::new(free),
                capacity,
            }),
        })
    }

    fn free(&self) -> std::sync::MutexGuard<'_, VecDeque<u16>> {
        // A panic while holding this lock cannot leave the queue invalid.
        self.inner
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn allocate(&self) -> Result<PortLease, PortError> {
        let port = self.free().pop_front().ok_or(PortError::Exhausted)?;
        Ok(PortLease {
            port,
            pool: self.clone(),
        })
    }

    pub fn available(&self) -> usize {
        self.free().len()
    }

    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }
}

/// An RTP port (and its RTCP successor) held by one call.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    pool: RtpPortPool,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn rtcp_port(&self) -> u16 {
        self.port.wrapping_add(1)
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.free().push_back(self.port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn even_ports_with_room_for_rtcp() {
        let pool = RtpPortPool::new(10001, 10010).unwrap();
        let leases: Vec<_> = (0..4).map(|_| pool.allocate().unwrap()).collect();
        let ports: Vec<u16> = leases.iter().map(|l| l.port()).collect();
        assert_eq!(ports, vec![10002, 10004, 10006, 10008]);
        assert!(leases.iter().all(|l| l.rtcp_port() <= 10010));
        assert_eq!(pool.allocate().unwrap_err(), PortError::Exhausted);
    }

    #[test]
    fn ports_return_on_drop_to_the_back() {
        let pool = RtpPortPool::new(20000, 20005).unwrap();
        assert_eq!(pool.capacity(), 3);
        let a = pool.allocate().unwrap();
        assert_eq!(a.port(), 20000);
        drop(a);
        assert_eq!(pool.available(), 3);
        assert_eq!(pool.allocate().unwrap().port(), 20002);
    }

    #[test]
    fn invalid_ranges() {
        assert!(RtpPortPool::new(5000, 5000).is_err());
        assert!(RtpPortPool::new(5001, 5002).is_err());
        assert!(RtpPortPool::new(6000, 5000).is_err());
        assert!(RtpPortPool::new(0, 10).is_err());
        assert!(RtpPortPool::new(65535, 65535).is_err());
        assert_eq!(RtpPortPool::new(65532, 65535).unwrap().capacity(), 2);
    }

    #[test]
    fn never_the_same_port_twice_across_threads() {
        let pool = RtpPortPool::new(10000, 20000).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..1000 {
                        held.push(pool.allocate().unwrap());
                        if i % 3 == 0 {
                            held.remove(0);
                        }
                    }
                    held
                })
            })
            .collect();
        let all: Vec<PortLease> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let unique: HashSet<u16> = all.iter().map(|l| l.port()).collect();
        assert_eq!(unique.len(), all.len());
        assert_eq!(pool.available(), pool.capacity() - all.len());
    }
}
