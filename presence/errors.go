package presence

import "errors"

var (
	// ErrAlreadyTracked is returned by Track when the owner already tracks
	// the key on the topic (Phoenix's {:error, {:already_tracked, ...}}).
	ErrAlreadyTracked = errors.New("presence: already tracked")
	// ErrNoPresence is returned by Update when the owner does not track the
	// key on the topic (Phoenix's {:error, :nopresence}).
	ErrNoPresence = errors.New("presence: no presence")
	// ErrClosed is returned by the tracking methods after Shutdown.
	ErrClosed = errors.New("presence: tracker closed")
)
