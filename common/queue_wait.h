#pragma once

#include <functional>

#include "common/config.h"

namespace connector {

// Waits for one backoff delay. Returns false when a stop signal ended the
// wait early.
using RetryWait = std::function<bool(Milliseconds delay)>;

// Calls `open` until it returns, for a process that starts while its queue
// cannot be written (a full disk, a lock held past busy_timeout). While `open`
// throws a transient DatabaseError (see DatabaseError::transient()), it calls
// `wait` with a backoff from 250 ms doubling to 5 s and tries again. It logs
// msg=queue_unavailable with the error when it starts waiting and
// msg=queue_available when `open` succeeds, and nothing per retry. Returns
// false when `wait` returns false, and rethrows a permanent DatabaseError or
// any other exception of `open` at once.
bool OpenWhenQueueWritable(const std::function<void()>& open, const RetryWait& wait);

}  // namespace connector
