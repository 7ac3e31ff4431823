// Package queue is the task catalogue: the asynq task type names, their
// payloads, the queues they run on and the options each type is enqueued
// with. It also holds the per-window periodic scheduler, the rule that
// decides which failures are retried, the failure log and counter of a
// worker, and the Prometheus collector of queue sizes. It never touches SQL.
//
// # Both ends typed
//
// A producer builds a task with the constructor of its kind (ProveBlock,
// ProofVerify, WindowRun, ...), which returns a Message carrying the type,
// queue, TaskID and JSON payload; Message.Task and Message.Options turn it
// into what an asynq client enqueues, and the outbox stores the same fields.
// A handler reads the payload back with Decode. A payload that does not
// decode never will, so Decode's error wraps asynq.SkipRetry.
//
// # Which failures are retried
//
// Delivery is at least once and every handler is idempotent, so a retry is
// always safe; the only question is whether it can help. One rule answers
// it, in Permanent, and Classify applies it to a handler's error (the
// Classified middleware applies it to every handler of a mux):
//
//   - an error that already wraps asynq.SkipRetry (a payload that does not
//     decode) is not retried;
//   - a *proofgrid.Error whose code says the input or the state is wrong
//     is not retried: EINVALID, EUNPROCESSABLE, EFORBIDDEN, ENOTFOUND,
//     ECONFLICT, ETOOLARGE, EUNSUPPORTED. Running the same task again
//     meets the same input and the same rows; where the state may change
//     later (a checkpoint still open, a block proved by another agent),
//     whoever changes it enqueues the work again;
//   - everything else is retried with asynq's backoff up to the kind's
//     MaxRetry: EUNAUTHORIZED (an agent re-enrols and signs again),
//     ERATELIMIT, EUNAVAILABLE, EINTERNAL, and every error without a code
//     (the database, Redis, the network, a context that ended).
//
// Handlers return plain, wrapped errors and leave asynq.SkipRetry to this
// rule, so a new error code is classified here, once.
//
// # Failed attempts
//
// Failures is a worker's asynq ErrorHandler: it logs every failed attempt
// with its task type, task id, queue, attempt (asynq's retry count, 0 for
// the first run), max retry and error, with when it runs again when it will
// be retried (RetryDelay is deterministic, so the time is the one asynq
// schedules), at Error when it is archived, and counts it in
// proofgrid_task_failures_total{type}.
//
// # Periodic runs a later window covers
//
// DropPassedWindows ends a failing run of a Superseded type with
// ErrWindowOver, which asynq neither retries nor archives, once its window
// is over or its retries are spent: the next window's run does its work,
// and archived is kept for tasks that need an operator.
package queue
