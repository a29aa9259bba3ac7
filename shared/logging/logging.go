// Package logging makes the JSON loggers of rollwave's workers, so that every worker writes the
// same fields the same way. A duration is written as Go writes it ("1.5s", "2m0s"), never as a
// bare number whose unit a reader has to guess: importing this package sets zerolog's duration
// format, process-wide, in this one place.
package logging

import (
	"io"

	"github.com/rs/zerolog"
)

func init() {
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
}

// New returns a JSON logger that writes to w the events at level and above, each with a
// timestamp and the field service=name.
func New(w io.Writer, level zerolog.Level, name string) zerolog.Logger {
	return zerolog.New(w).Level(level).With().Timestamp().Str("service", name).Logger()
}
