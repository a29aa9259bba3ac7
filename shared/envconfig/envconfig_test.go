package envconfig

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsWhenUnset(t *testing.T) {
	r := New(env(nil))
	if got := r.String("A", "x"); got != "x" {
		t.Errorf("String(unset) = %q, want x", got)
	}
	if got := r.Int("B", 3); got != 3 {
		t.Errorf("Int(unset) = %d, want 3", got)
	}
	if got := r.Duration("C", time.Second); got != time.Second {
		t.Errorf("Duration(unset) = %v, want 1s", got)
	}
	if got := r.List("D", []string{"a"}); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("List(unset) = %v, want [a]", got)
	}
	if got := r.Bool("E", true); !got {
		t.Errorf("Bool(unset) = false, want true")
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

func TestParsesValues(t *testing.T) {
	r := New(env(map[string]string{"I": " 7 ", "D": "90s", "L": "a, b,,c ", "B": "false", "O": "keep"}))
	if got := r.Int("I", 0, Min(1)); got != 7 {
		t.Errorf("Int = %d, want 7", got)
	}
	if got := r.Duration("D", 0); got != 90*time.Second {
		t.Errorf("Duration = %v, want 1m30s", got)
	}
	if got := r.List("L", nil); !cmp.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("List = %v, want [a b c]", got)
	}
	if got := r.Bool("B", true); got {
		t.Errorf("Bool = true, want false")
	}
	if got := r.OneOf("O", "x", "keep", "reactivate"); got != "keep" {
		t.Errorf("OneOf = %q, want keep", got)
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

func TestReportsEveryProblemAtOnce(t *testing.T) {
	r := New(env(map[string]string{"I": "many", "M": "0", "D": "soon", "N": "-1s", "B": "perhaps", "O": "never"}))
	r.Int("I", 1)
	r.Int("M", 1, Min(1))
	r.Duration("D", time.Second)
	r.Duration("N", time.Second)
	r.Bool("B", false)
	r.OneOf("O", "keep", "keep", "reactivate")
	r.Required("R")
	err := r.Err()
	if err == nil {
		t.Fatal("Err() = nil, want every problem")
	}
	for _, name := range []string{"I:", "M:", "D:", "N:", "B:", "O:", "R: is required"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Err() = %q, want it to mention %q", err, name)
		}
	}
}
