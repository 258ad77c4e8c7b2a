// Package partread reads one partition at a time with raw read_committed
// fetches sent to its leader: one request per fetch, so that callers count
// and bound what they read (a kgo consumer buffers and prefetches on its own
// terms). verify streams whole partitions with it and groups reads the
// records a translation points at and binary-searches by tracing headers;
// before this package each had its own copy of the fetch, the leader
// retries and the metadata lookup, and the copies drifted (issues 10, 12).
//
// # Transactions: the rule
//
// A read_committed broker returns the records below the last stable offset
// and, per partition, a list of the aborted transactions the returned range
// overlaps; a client drops a transactional record when the list says its
// transaction aborted. Brokers do not always send that list: kfake leaves
// it out once a response reaches the request-wide MaxBytes, and exactly
// once must not depend on a broker's bugs. So a Reader keeps the control
// records (transaction markers) and applies this rule:
//
//	a record from a transactional batch of producer P is delivered only
//	once its transaction's outcome is known: the broker's aborted list
//	says aborted (dropped), or P's next control marker in the partition
//	after the record says COMMIT (delivered) or ABORT (dropped).
//
// Non-transactional records are delivered as they are; markers never are.
// The buffer that waits for a marker is the response being read (bounded by
// the fetch size). A transaction whose marker lies past the response is
// resolved by reading ahead: a second cursor fetches from the end of the
// response, read_uncommitted so that it also sees markers above the last
// stable offset, parsing batch headers only (no decompression), until it
// finds P's marker; the fetch sizes double from 64 KiB so that a marker just
// past the response costs little. The outcome found is remembered per
// producer with the range it covers (P's records from the first unresolved
// one up to the marker all belong to one transaction, as no marker of P lies
// between), so a long transaction read in many fetches is read ahead once.
// Records below the last stable offset always have their marker in the log;
// a marker not yet below the high watermark (not yet replicated) is waited
// for a bounded number of times, then the fetch fails rather than guess.
//
// Fetch limits: the request-wide MaxBytes is at least twice the partition's
// and 16 MiB above it, so that kfake's omission is not triggered by the only
// partition of a request (the rule above makes the reader correct anyway).
package partread
