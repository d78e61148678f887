package interactive

// AttachAt is Attach with the timers of its polling from after: a test
// drives the polling with a fake clock.
var AttachAt = attachAt
