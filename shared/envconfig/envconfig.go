// Package envconfig reads a worker's settings from environment variables and collects every
// problem instead of stopping at the first, so that a bad deployment is refused at start with one
// message that lists all that is wrong.
//
//	r := envconfig.New(getenv)
//	cfg := Config{
//		Concurrency: r.Int("ROLLWAVE_CONCURRENCY", 4, envconfig.Min(1)),
//		Recheck:     r.Duration("ROLLWAVE_RECHECK_INTERVAL", 30*time.Second),
//	}
//	if err := r.Err(); err != nil { ... }
package envconfig

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reader reads typed values from an environment lookup function and remembers every problem.
type Reader struct {
	getenv func(string) string
	errs   []error
}

// New returns a Reader over getenv (os.Getenv in production, a map in tests).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// Err returns every problem found so far, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// Fail records a problem found by the caller's own validation.
func (r *Reader) Fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// String returns the trimmed value of name, or def when it is unset or blank.
func (r *Reader) String(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// Required returns the value of name and records a problem when it is unset or blank.
func (r *Reader) Required(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.Fail(name, "is required")
	}
	return v
}

// List returns the comma-separated values of name, trimmed and without empty items, or def.
func (r *Reader) List(name string, def []string) []string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// IntCheck validates an integer setting; it returns a description of the problem or "".
type IntCheck func(int) string

// Min accepts values of at least n.
func Min(n int) IntCheck {
	return func(v int) string {
		if v < n {
			return fmt.Sprintf("must be at least %d", n)
		}
		return ""
	}
}

// Int returns name as an integer, or def when unset; a malformed or rejected value is a problem.
func (r *Reader) Int(name string, def int, checks ...IntCheck) int {
	raw := strings.TrimSpace(r.getenv(name))
	if raw == "" {
		return def
	}
	v, err := strconv.Atoi(raw)
	if err != nil {
		r.Fail(name, "%q is not a whole number", raw)
		return def
	}
	for _, c := range checks {
		if msg := c(v); msg != "" {
			r.Fail(name, "%d %s", v, msg)
			return def
		}
	}
	return v
}

// Bool returns name as a boolean (true/false/1/0), or def when unset.
func (r *Reader) Bool(name string, def bool) bool {
	raw := strings.TrimSpace(r.getenv(name))
	if raw == "" {
		return def
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		r.Fail(name, "%q is not true or false", raw)
		return def
	}
	return v
}

// Duration returns name as a Go duration ("30s", "5m"), or def when unset. Zero and negative
// durations are problems: every wait in rollwave has a positive deadline.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	raw := strings.TrimSpace(r.getenv(name))
	if raw == "" {
		return def
	}
	v, err := time.ParseDuration(raw)
	if err != nil {
		r.Fail(name, "%q is not a duration such as 30s or 5m", raw)
		return def
	}
	if v <= 0 {
		r.Fail(name, "%s must be positive", raw)
		return def
	}
	return v
}

// OneOf returns name when it is one of allowed, def when unset, and records a problem otherwise.
func (r *Reader) OneOf(name, def string, allowed ...string) string {
	v := r.String(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.Fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return def
}
