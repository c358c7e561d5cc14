//! RFC 3261 §17 transactions as state machines without IO: the caller feeds them events (sent,
//! received, timer fired) and gets back what to do (retransmit, deliver, give up), so the
//! retransmission schedule can be tested exactly without waiting on a clock.
