// Package logging makes the JSON loggers of rollwave's workers, so that every worker writes the
// same fields the same way. A duration is written as Go writes it ("1.5s", "2m0s"), never as a
// bare number whose unit a reader has to guess, and a time in RFC 3339 with milliseconds, so that
// the steps of one job, which follow each other within a second across workers and replicas, sort
// in the order they happened: importing this package sets zerolog's formats, process-wide, in
// this one place.
package logging

import (
	"io"

	"github.com/rs/zerolog"
)

func init() {
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
	zerolog.TimeFieldFormat = TimeFormat
}

// TimeFormat is the layout of the workers' timestamps: RFC 3339 with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// New returns a JSON logger that writes to w the events at level and above, each with a
// timestamp and the field service=name.
func New(w io.Writer, level zerolog.Level, name string) zerolog.Logger {
	return zerolog.New(w).Level(level).With().Timestamp().Str("service", name).Logger()
}
