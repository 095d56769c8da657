//! OS calls of the `mq` method (POSIX message queues).
